package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"go.uber.org/zap"

	"vec/fastpath"
)

// Counters are a gateway's counters: per worker core, per server (summed
// over the cores) and per port. vecd prints them when it stops; the JSON
// form is what tests and scripts read.
type Counters struct {
	Cores   []CoreCounters   `json:"cores"`
	Servers []ServerCounters `json:"servers"`
	Ports   []PortCounters   `json:"ports"`
}

type CoreCounters struct {
	Core         int               `json:"core"`
	RX           uint64            `json:"rx"`
	TX           uint64            `json:"tx"`
	Replies      uint64            `json:"replies"`
	TxFull       uint64            `json:"tx_full"`
	Drops        map[string]uint64 `json:"drops"`
	EvictedFIN   uint64            `json:"evicted_fin"`
	ExpiredStale uint64            `json:"expired_stale"`
	ExpiredFIN   uint64            `json:"expired_fin"`
	Resets       uint64            `json:"resets"`
	Entries      uint64            `json:"entries"`
}

type ServerCounters struct {
	ID      fastpath.ServerID `json:"id"`
	VIP     string            `json:"vip"`
	Service string            `json:"service"`
	Server  string            `json:"server"`
	IP      string            `json:"ip"`
	fastpath.ServerCounters
}

type PortCounters struct {
	Device   string `json:"device"`
	IPackets uint64 `json:"ipackets"`
	OPackets uint64 `json:"opackets"`
	IMissed  uint64 `json:"imissed"`
	RxNoMbuf uint64 `json:"rx_nombuf"`
}

// coreReading is one worker's counters, read by the worker itself (through
// its mailbox) or by the control plane once the worker has stopped.
type coreReading struct {
	cpu      int
	counters fastpath.CoreCounters
	servers  []fastpath.ServerCounters // indexed by ServerID
	txFull   uint64
}

// Counters reads every worker's counters directly; call it after Stop.
func (g *Gateway) Counters() Counters {
	readings := make([]coreReading, len(g.workers))
	for i, w := range g.workers {
		readings[i] = coreReading{cpu: w.cpu, counters: w.core.Counters, txFull: w.txFull,
			servers: w.core.Servers[:g.serverCount()]}
	}
	return g.assemble(readings)
}

// LiveCounters asks every running worker for a copy of its counters,
// through its mailbox, and waits for all of them or ctx.
func (g *Gateway) LiveCounters(ctx context.Context) (Counters, error) {
	readings := make([]coreReading, len(g.workers))
	for i, w := range g.workers {
		req := &request{kind: reqCounters, servers: make([]fastpath.ServerCounters, g.serverCount())}
		if err := w.mailbox.send(ctx, req); err != nil {
			return Counters{}, fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
		readings[i] = coreReading{cpu: w.cpu, counters: req.counters, servers: req.servers, txFull: req.txFull}
	}
	return g.assemble(readings), nil
}

// serverCount is how many ServerIDs the configuration uses.
func (g *Gateway) serverCount() int {
	n := 0
	for _, cl := range g.cfg.Clusters {
		for _, svc := range cl.Services {
			n += len(svc.Servers)
		}
	}
	return n
}

func (g *Gateway) assemble(readings []coreReading) Counters {
	var st Counters
	for _, r := range readings {
		c := &r.counters
		cs := CoreCounters{Core: r.cpu, RX: c.RX, TX: c.TX, Replies: c.Replies, TxFull: r.txFull,
			Drops: make(map[string]uint64), EvictedFIN: c.EvictedFIN, ExpiredStale: c.ExpiredStale,
			ExpiredFIN: c.ExpiredFIN, Resets: c.Resets, Entries: c.Entries}
		for reason := range fastpath.NumDropReasons {
			if c.Drops[reason] != 0 {
				cs.Drops[reason.String()] = c.Drops[reason]
			}
		}
		st.Cores = append(st.Cores, cs)
	}
	// ServerIDs are assigned in file order, disabled services included
	// (config.Config.Fastpath).
	id := 0
	for _, cl := range g.cfg.Clusters {
		for _, svc := range cl.Services {
			for _, srv := range svc.Servers {
				ss := ServerCounters{ID: fastpath.ServerID(id), VIP: cl.VIP, Service: svc.Name, Server: srv.Name, IP: srv.IP}
				for _, r := range readings {
					ss.ServerCounters.Add(&r.servers[id])
				}
				st.Servers = append(st.Servers, ss)
				id++
			}
		}
	}
	for _, p := range g.ports {
		ps, err := p.Stats()
		if err != nil {
			g.log.Warn("reading port counters", zap.String("device", p.Name()), zap.Error(err))
			continue
		}
		st.Ports = append(st.Ports, PortCounters{Device: p.Name(), IPackets: ps.IPackets, OPackets: ps.OPackets,
			IMissed: ps.IMissed, RxNoMbuf: ps.RxNoMbuf})
	}
	return st
}

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
		for _, r := range sortedKeys(c.Drops) {
			fmt.Fprintf(out, "  core %d dropped %d: %s\n", c.Core, c.Drops[r], r)
		}
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "vip\tservice\tserver\tip\tnew\tactive\tfin\tcompleted\tpackets\tbytes")
	for _, s := range st.Servers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.VIP, s.Service, s.Server, s.IP,
			s.New, s.Active, s.FIN, s.Completed, s.Packets, s.Bytes)
	}
	w.Flush()
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteJSON writes the counters to path atomically (a temporary file
// renamed over it), so a reader never sees half a file.
func (st *Counters) WriteJSON(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
