package gateway

import (
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

// Counters reads every worker's counters; call it after Stop.
func (g *Gateway) Counters() Counters {
	var st Counters
	for _, w := range g.workers {
		c := &w.core.Counters
		cs := CoreCounters{Core: w.cpu, RX: c.RX, TX: c.TX, Replies: c.Replies, TxFull: w.txFull,
			Drops: make(map[string]uint64), EvictedFIN: c.EvictedFIN, ExpiredStale: c.ExpiredStale,
			ExpiredFIN: c.ExpiredFIN, Resets: c.Resets, Entries: c.Entries}
		for r := range fastpath.NumDropReasons {
			if c.Drops[r] != 0 {
				cs.Drops[r.String()] = c.Drops[r]
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
				for _, w := range g.workers {
					ss.ServerCounters.Add(&w.core.Servers[id])
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

func (st *Counters) WriteJSON(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
