package manager

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"vec/control/ids"
	"vec/fastpath"
)

// Counters are the gateway's counters with names: per worker core, per
// server (summed over the cores) and per port. vecd prints them when it
// stops and writes them with -stats-json; the API and the metrics serve
// them live.
type Counters struct {
	Generation uint64           `json:"generation"`
	Cores      []CoreCounters   `json:"cores"`
	Servers    []ServerCounters `json:"servers"`
	Ports      []PortCounters   `json:"ports"`
}

// CoreCounters are one worker's packet counters.
type CoreCounters struct {
	Core    int    `json:"core"`
	RX      uint64 `json:"rx"`
	TX      uint64 `json:"tx"`
	Replies uint64 `json:"replies"`
	// ARPLearned counts servers' ARP replies read to learn their MACs
	// (neither sent nor dropped): rx = tx + replies + arp_learned + Σ drops.
	ARPLearned uint64 `json:"arp_learned"`
	// ICMPErrors are the ICMP errors forwarded to the server of the
	// connection they quote (part of tx); EchoReplies the answered pings
	// (part of replies).
	ICMPErrors   uint64            `json:"icmp_errors"`
	EchoReplies  uint64            `json:"echo_replies"`
	TxFull       uint64            `json:"tx_full"`
	Drops        map[string]uint64 `json:"drops"`
	EvictedFIN   uint64            `json:"evicted_fin"`
	ExpiredStale uint64            `json:"expired_stale"`
	ExpiredFIN   uint64            `json:"expired_fin"`
	Resets       uint64            `json:"resets"`
	ReusedFIN    uint64            `json:"reused_fin"`
	Rescheduled  uint64            `json:"rescheduled_syn"`
	// EvictedSYN and EvictedActive count the embryonic and idle ACTIVE
	// entries evicted for a new connection in a full table (EvictedFIN:
	// FIN and RST ones); ExpiredSYN and ExpiredReset those removed by the
	// embryonic and reset timers.
	EvictedSYN    uint64 `json:"evicted_syn"`
	EvictedActive uint64 `json:"evicted_active"`
	ExpiredSYN    uint64 `json:"expired_syn"`
	ExpiredReset  uint64 `json:"expired_reset"`
	Purged        uint64 `json:"purged"`
	ARPSilenced   uint64 `json:"arp_silenced"`
	Entries       uint64 `json:"entries"`
	// Mode is active, recovering or standby; Installed counts entries
	// rebuilt from the agents (InstallExisting: already there; InstallFull:
	// no room); Naps the idle naps of an adaptive poll loop.
	Mode            string `json:"mode"`
	Installed       uint64 `json:"installed"`
	InstallExisting uint64 `json:"install_existing"`
	InstallFull     uint64 `json:"install_full"`
	Naps            uint64 `json:"naps"`
}

// ServerCounters are one server's counters summed over the workers, with
// its names and weights.
type ServerCounters struct {
	ID              fastpath.ServerID  `json:"id"`
	ServiceID       fastpath.ServiceID `json:"service_id"`
	VIP             string             `json:"vip"`
	Service         string             `json:"service"`
	Proto           string             `json:"protocol"`
	Port            uint16             `json:"port"`
	Server          string             `json:"server"`
	IP              string             `json:"ip"`
	Weight          int                `json:"weight"`
	EffectiveWeight int                `json:"effective_weight"`
	Quiesced        bool               `json:"quiesced"`
	Draining        bool               `json:"draining"`
	fastpath.ServerCounters
}

// Assemble names a reading of the counters by the IDs in force.
func (m *Manager) Assemble(r Reading) Counters {
	m.mu.Lock()
	names, gen := m.namesLocked(), m.generation
	m.mu.Unlock()
	return assemble(r, names, gen)
}

func assemble(r Reading, names []ids.Name, gen uint64) Counters {
	st := Counters{Generation: gen, Ports: r.Ports}
	for _, c := range r.Cores {
		k := &c.Counters
		cs := CoreCounters{Core: c.Core, RX: k.RX, TX: k.TX, Replies: k.Replies, TxFull: c.TxFull,
			ARPLearned: k.ARPLearned, ICMPErrors: k.ICMPErrors, EchoReplies: k.EchoReplies,
			Drops: map[string]uint64{}, EvictedFIN: k.EvictedFIN, ExpiredStale: k.ExpiredStale,
			ExpiredFIN: k.ExpiredFIN, Resets: k.Resets, ReusedFIN: k.ReusedFIN, Rescheduled: k.RescheduledSYN,
			EvictedSYN: k.EvictedSYN, EvictedActive: k.EvictedActive, ExpiredSYN: k.ExpiredSYN, ExpiredReset: k.ExpiredReset, Purged: c.Purged, ARPSilenced: c.ARPSilenced, Entries: k.Entries,
			Mode: c.Mode.String(), Installed: k.Installed, InstallExisting: k.InstallExisting, InstallFull: k.InstallFull, Naps: c.Naps}
		for reason := range fastpath.NumDropReasons {
			if k.Drops[reason] != 0 {
				cs.Drops[reason.String()] = k.Drops[reason]
			}
		}
		st.Cores = append(st.Cores, cs)
	}
	for _, n := range names {
		sc := ServerCounters{ID: n.ServerID, ServiceID: n.ServiceID, VIP: n.VIP, Service: n.Service, Proto: n.Proto,
			Port: n.Port, Server: n.Server, IP: n.IP, Weight: n.Weight, EffectiveWeight: n.EffectiveWeight,
			Quiesced: n.Quiesced, Draining: n.Draining}
		for _, c := range r.Cores {
			if int(n.ServerID) < len(c.Servers) {
				sc.ServerCounters.Add(&c.Servers[n.ServerID])
			}
		}
		st.Servers = append(st.Servers, sc)
	}
	return st
}

// Counters asks the workers for their counters and names them.
func (m *Manager) Counters(ctx context.Context) (Counters, error) {
	m.mu.Lock()
	dp, names, gen, n := m.dp, m.namesLocked(), m.generation, m.ids.MaxServerID()
	m.mu.Unlock()
	if dp == nil {
		return Counters{}, fmt.Errorf("the workers are not running")
	}
	r, err := dp.Read(ctx, n)
	if err != nil {
		return Counters{}, err
	}
	return assemble(r, names, gen), nil
}

// Print writes the counters as two tables.
func (st *Counters) Print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "core\trx\ttx\treplies\tdrops\ttx_full\tentries\t")
	for _, c := range st.Cores {
		var drops uint64
		for _, d := range c.Drops {
			drops += d
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Core, c.RX, c.TX, c.Replies, drops, c.TxFull, c.Entries)
	}
	w.Flush()
	for _, c := range st.Cores {
		reasons := make([]string, 0, len(c.Drops))
		for r := range c.Drops {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(out, "  core %d dropped %d: %s\n", c.Core, c.Drops[r], r)
		}
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "vip\tservice\tserver\tip\tweight\tnew\tactive\tfin\tcompleted\tpackets\tbytes")
	for _, s := range st.Servers {
		weight := fmt.Sprint(s.EffectiveWeight)
		switch {
		case s.Draining:
			weight = "draining"
		case s.Quiesced:
			weight = fmt.Sprintf("0 (quiesced, %d)", s.Weight)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.VIP, s.Service, s.Server, s.IP, weight,
			s.New, s.Active, s.FIN, s.Completed, s.Packets, s.Bytes)
	}
	w.Flush()
}

// Status is the control plane's state in brief.
type Status struct {
	Generation uint64         `json:"generation"`
	Snapshots  uint64         `json:"snapshots_applied"`
	ConfigFile string         `json:"config_file"`
	Started    time.Time      `json:"started"`
	LastChange Change         `json:"last_change"`
	LogLevel   string         `json:"log_level"`
	Clusters   int            `json:"clusters"`
	Services   int            `json:"services"`
	Servers    int            `json:"servers"`
	Workers    []WorkerStatus `json:"workers"`
	// Draining lists removed servers whose connections may still go on.
	Draining []DrainingEntry `json:"draining"`
}

// Status reports the manager's state.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Generation: m.generation, Snapshots: m.snapshots, ConfigFile: m.path, Started: m.started,
		LastChange: m.last, LogLevel: m.level.Level().String(), Clusters: len(m.cfg.Clusters), Draining: m.drainingLocked()}
	for _, svc := range m.ids.Services {
		if svc.Draining {
			continue
		}
		st.Services++
		for _, srv := range svc.Servers {
			if !srv.Draining {
				st.Servers++
			}
		}
	}
	if m.dp != nil {
		st.Workers = m.dp.Workers()
	}
	if st.Draining == nil {
		st.Draining = []DrainingEntry{}
	}
	return st
}

// Names lists every server with its IDs and weights, draining ones
// included.
func (m *Manager) Names() []ids.Name {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.namesLocked()
}

// ConnFilter selects connections by name; empty fields match everything.
type ConnFilter struct {
	VIP     string // address of the cluster
	Service string // service name (in every cluster unless VIP is set)
	Server  string // server name or address
	State   string // active, fin, syn or rst
	// Cursor is where the page starts: empty for the first page, else
	// the NextCursor of the page before.
	Cursor string
	Limit  int
}

// Connection is one connection entry, named.
type Connection struct {
	Core      int     `json:"core"`
	Client    string  `json:"client"`
	VIP       string  `json:"vip"`
	Proto     string  `json:"protocol"`
	Port      uint16  `json:"port"`
	Service   string  `json:"service"`
	Server    string  `json:"server"`
	ServerIP  string  `json:"server_ip"`
	State     string  `json:"state"`
	IdleSec   float64 `json:"idle_s"`
	ServiceID uint16  `json:"service_id"`
	ServerID  uint16  `json:"server_id"`
}

// Connections is a page of connections. A page may hold fewer than Limit
// connections, even none, while More is set: each worker examines a
// bounded part of its table per request.
type Connections struct {
	Limit int  `json:"limit"`
	More  bool `json:"more"`
	// NextCursor is the cursor of the next page, empty when the listing
	// is done.
	NextCursor  string       `json:"next_cursor"`
	Connections []Connection `json:"connections"`
}

// formatCursor and parseCursor turn a ConnCursor into the API's opaque
// cursor and back.
func formatCursor(c ConnCursor) string { return fmt.Sprintf("%d.%d.%d", c.Worker, c.Home, c.Skip) }

func parseCursor(s string) (ConnCursor, error) {
	var c ConnCursor
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return c, &FilterError{fmt.Sprintf("cursor %q is not one this gateway returned", s)}
	}
	for i, dst := range []*int{&c.Worker, &c.Home, &c.Skip} {
		n, err := strconv.ParseUint(parts[i], 10, 31)
		if err != nil {
			return c, &FilterError{fmt.Sprintf("cursor %q is not one this gateway returned", s)}
		}
		*dst = int(n)
	}
	return c, nil
}

// MaxConnLimit bounds one page of connections.
const MaxConnLimit = 1000

// FilterError is a connection filter that names nothing known or is
// malformed.
type FilterError struct{ Msg string }

func (e *FilterError) Error() string { return e.Msg }

// Connections lists a page of the workers' connection entries.
func (m *Manager) Connections(ctx context.Context, f ConnFilter) (Connections, error) {
	if f.Limit < 1 || f.Limit > MaxConnLimit {
		return Connections{}, &FilterError{fmt.Sprintf("limit %d is not in 1..%d", f.Limit, MaxConnLimit)}
	}
	q := ConnQuery{Limit: f.Limit}
	if f.Cursor != "" {
		c, err := parseCursor(f.Cursor)
		if err != nil {
			return Connections{}, err
		}
		q.From = c
	}
	switch f.State {
	case "":
	case "active", "ACTIVE":
		q.State = fastpath.StateActive
	case "fin", "FIN":
		q.State = fastpath.StateFIN
	case "syn", "SYN":
		q.State = fastpath.StateSYN
	case "rst", "RST":
		q.State = fastpath.StateRST
	default:
		return Connections{}, &FilterError{fmt.Sprintf("state %q is not active, fin, syn or rst", f.State)}
	}
	if f.VIP != "" {
		a, err := netip.ParseAddr(f.VIP)
		if err != nil || !a.Is4() {
			return Connections{}, &FilterError{fmt.Sprintf("vip %q is not an IPv4 address", f.VIP)}
		}
		q.VIP = ipKey(a)
	}
	m.mu.Lock()
	dp, names := m.dp, m.namesLocked()
	m.mu.Unlock()
	if dp == nil {
		return Connections{}, fmt.Errorf("the workers are not running")
	}
	byID := map[fastpath.ServerID]ids.Name{}
	for _, n := range names {
		byID[n.ServerID] = n
	}
	if f.Service != "" {
		q.Services = make([]bool, fastpath.MaxServices)
		found := false
		for _, n := range names {
			if n.Service == f.Service && (f.VIP == "" || n.VIP == f.VIP) {
				q.Services[n.ServiceID], found = true, true
			}
		}
		if !found {
			return Connections{}, &NotFoundError{What: fmt.Sprintf("service %q", f.Service)}
		}
	}
	if f.Server != "" {
		q.Servers = make([]bool, fastpath.MaxServers)
		found := false
		for _, n := range names {
			if (n.Server == f.Server || n.IP == f.Server) && (f.VIP == "" || n.VIP == f.VIP) &&
				(f.Service == "" || n.Service == f.Service) {
				q.Servers[n.ServerID], found = true, true
			}
		}
		if !found {
			return Connections{}, &NotFoundError{What: fmt.Sprintf("server %q", f.Server)}
		}
	}
	page, err := dp.Connections(ctx, q)
	if err != nil {
		return Connections{}, err
	}
	out := Connections{Limit: f.Limit, More: !page.Done, Connections: make([]Connection, 0, len(page.Entries))}
	if !page.Done {
		out.NextCursor = formatCursor(page.Next)
	}
	var now int64
	if m.clock != nil {
		now = m.clock.Now()
	}
	for _, ce := range page.Entries {
		e := &ce.Entry
		k := &e.Key
		c := Connection{Core: ce.Core, Client: netip.AddrPortFrom(addrOf(k.SrcIP), k.SrcPort).String(),
			VIP: addrOf(k.DstIP).String(), Port: k.DstPort, Proto: protoName(k.Proto), State: e.State.String(),
			IdleSec: max(0, float64(now-e.LastSeen)/1e9), ServiceID: uint16(e.Service), ServerID: uint16(e.Server)}
		if n, ok := byID[e.Server]; ok {
			c.Service, c.Server, c.ServerIP = n.Service, n.Server, n.IP
		}
		out.Connections = append(out.Connections, c)
	}
	return out, nil
}

func protoName(p uint8) string {
	switch p {
	case fastpath.ProtoTCP:
		return "tcp"
	case fastpath.ProtoUDP:
		return "udp"
	}
	return fmt.Sprint(p)
}

// MaxServerID is one above the largest ServerID in use: how many
// per-server counters a reading needs.
func (m *Manager) MaxServerID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids.MaxServerID()
}
