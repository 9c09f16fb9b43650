package manager

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"vec/control/apiwire"
	"vec/control/ids"
	"vec/dataplane"
	"vec/fastpath"
	"vec/internal/limits"
)

// The views' shapes are the control API's (control/apiwire); the manager
// fills them from the workers' readings and its names.

// convertAll converts the workers' values (package dataplane) to the
// control API's shapes, one by one; nil stays nil, as the JSON shows it.
func convertAll[From, To any](in []From, conv func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = conv(v)
	}
	return out
}

// Assemble names a reading of the counters by the IDs in force.
func (m *Manager) Assemble(r dataplane.Reading) apiwire.Counters {
	m.mu.Lock()
	names, gen := m.namesLocked(), m.generation
	m.mu.Unlock()
	return assemble(r, names, gen)
}

func assemble(r dataplane.Reading, names []ids.Name, gen uint64) apiwire.Counters {
	st := apiwire.Counters{Generation: gen, Ports: convertAll(r.Ports, func(p dataplane.PortCounters) apiwire.PortCounters { return apiwire.PortCounters(p) })}
	for _, c := range r.Cores {
		k := &c.Counters
		cs := apiwire.CoreCounters{Core: c.Core, RX: k.RX, TX: k.TX, Replies: k.Replies, TxFull: c.TxFull,
			ARPLearned: k.ARPLearned, ICMPErrors: k.ICMPErrors, EchoReplies: k.EchoReplies,
			Encapsulated: k.Encapsulated, TooBig: k.TooBig,
			Drops: map[string]uint64{}, EvictedFIN: k.EvictedFIN, ExpiredStale: k.ExpiredStale,
			ExpiredFIN: k.ExpiredFIN, Resets: k.Resets, ReusedFIN: k.ReusedFIN, Rescheduled: k.RescheduledSYN,
			SecondChanceHash: k.SecondChanceHash, SecondChancePrevious: k.SecondChancePrevious,
			EvictedSYN: k.EvictedSYN, EvictedActive: k.EvictedActive, ExpiredSYN: k.ExpiredSYN, ExpiredReset: k.ExpiredReset, Purged: c.Purged, ARPSilenced: c.ARPSilenced, Entries: k.Entries,
			Mode: c.Mode.String(), Installed: k.Installed, InstallExisting: k.InstallExisting, InstallFull: k.InstallFull, Naps: c.Naps,
			PollIteration: apiwire.PollTimes(c.PollIteration)}
		for reason := range fastpath.NumDropReasons {
			if k.Drops[reason] != 0 {
				cs.Drops[reason.String()] = k.Drops[reason]
			}
		}
		st.Cores = append(st.Cores, cs)
	}
	for _, n := range names {
		var sum fastpath.ServerCounters
		for _, c := range r.Cores {
			if int(n.ServerID) < len(c.Servers) {
				sum.Add(&c.Servers[n.ServerID])
			}
		}
		sc := apiwire.ServerCounters{ID: uint16(n.ServerID), ServiceID: uint16(n.ServiceID), VIP: n.VIP, Service: n.Service,
			Proto: n.Proto, Port: n.Port, Server: n.Server, IP: n.IP, Weight: n.Weight, EffectiveWeight: n.EffectiveWeight,
			Quiesced: n.Quiesced, Draining: n.Draining, ServerTraffic: apiwire.ServerTraffic(sum)}
		st.Servers = append(st.Servers, sc)
	}
	return st
}

// Counters asks the workers for their counters and names them.
func (m *Manager) Counters(ctx context.Context) (apiwire.Counters, error) {
	m.mu.Lock()
	dp, names, gen, n := m.dp, m.namesLocked(), m.generation, m.ids.MaxServerID()
	m.mu.Unlock()
	if dp == nil {
		return apiwire.Counters{}, fmt.Errorf("the workers are not running")
	}
	r, err := dp.Read(ctx, n)
	if err != nil {
		return apiwire.Counters{}, err
	}
	return assemble(r, names, gen), nil
}

// Status reports the manager's state.
func (m *Manager) Status() apiwire.Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := apiwire.Status{Generation: m.generation, Snapshots: m.snapshots, ConfigFile: m.path, Started: m.started,
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
		st.Workers = convertAll(m.dp.Workers(), func(w dataplane.WorkerStatus) apiwire.WorkerStatus { return apiwire.WorkerStatus(w) })
	}
	if st.Draining == nil {
		st.Draining = []apiwire.DrainingEntry{}
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

// formatCursor and parseCursor turn a ConnCursor into the API's opaque
// cursor and back.
func formatCursor(c dataplane.ConnCursor) string {
	return fmt.Sprintf("%d.%d.%d", c.Worker, c.Home, c.Skip)
}

func parseCursor(s string) (dataplane.ConnCursor, error) {
	var c dataplane.ConnCursor
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
const MaxConnLimit = apiwire.MaxConnLimit

// FilterError is a connection filter that names nothing known or is
// malformed.
type FilterError struct{ Msg string }

func (e *FilterError) Error() string { return e.Msg }

// Connections lists a page of the workers' connection entries.
func (m *Manager) Connections(ctx context.Context, f ConnFilter) (apiwire.Connections, error) {
	if f.Limit < 1 || f.Limit > MaxConnLimit {
		return apiwire.Connections{}, &FilterError{fmt.Sprintf("limit %d is not in 1..%d", f.Limit, MaxConnLimit)}
	}
	q := dataplane.ConnQuery{Limit: f.Limit}
	if f.Cursor != "" {
		c, err := parseCursor(f.Cursor)
		if err != nil {
			return apiwire.Connections{}, err
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
		return apiwire.Connections{}, &FilterError{fmt.Sprintf("state %q is not active, fin, syn or rst", f.State)}
	}
	// vip is the VIP filter's canonical form (an IPv6 address has many).
	// The workers' query matches IPv4 destinations only: an IPv6 VIP is
	// selected through its services instead.
	var vip string
	vipByServices := false
	if f.VIP != "" {
		a, err := netip.ParseAddr(f.VIP)
		if err != nil || a.Zone() != "" {
			return apiwire.Connections{}, &FilterError{fmt.Sprintf("vip %q is not an IP address", f.VIP)}
		}
		vip = a.String()
		if a.Is4() {
			q.VIP = ipKey(a)
		} else {
			vipByServices = true
		}
	}
	// A server may be named by its address, in any spelling.
	serverIP := f.Server
	if a, err := netip.ParseAddr(f.Server); err == nil {
		serverIP = a.String()
	}
	m.mu.Lock()
	dp, names := m.dp, m.namesLocked()
	m.mu.Unlock()
	if dp == nil {
		return apiwire.Connections{}, fmt.Errorf("the workers are not running")
	}
	byID := map[fastpath.ServerID]ids.Name{}
	for _, n := range names {
		byID[n.ServerID] = n
	}
	if f.Service != "" || vipByServices {
		q.Services = make([]bool, limits.MaxServices)
		found := false
		for _, n := range names {
			if (f.Service == "" || n.Service == f.Service) && (vip == "" || n.VIP == vip) {
				q.Services[n.ServiceID], found = true, true
			}
		}
		if !found && f.Service != "" {
			return apiwire.Connections{}, &NotFoundError{What: fmt.Sprintf("service %q", f.Service)}
		}
	}
	if f.Server != "" {
		q.Servers = make([]bool, limits.MaxServers)
		found := false
		for _, n := range names {
			if (n.Server == f.Server || n.IP == serverIP) && (vip == "" || n.VIP == vip) &&
				(f.Service == "" || n.Service == f.Service) {
				q.Servers[n.ServerID], found = true, true
			}
		}
		if !found {
			return apiwire.Connections{}, &NotFoundError{What: fmt.Sprintf("server %q", f.Server)}
		}
	}
	page, err := dp.Connections(ctx, q)
	if err != nil {
		return apiwire.Connections{}, err
	}
	out := apiwire.Connections{Limit: f.Limit, More: !page.Done, Connections: make([]apiwire.Connection, 0, len(page.Entries))}
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
		c := apiwire.Connection{Core: ce.Core, Client: e.Client().String(),
			VIP: e.VIP().Addr().String(), Port: k.DstPort, Proto: protoName(k.Proto), State: e.State.String(),
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
