package gateway

import (
	"go.uber.org/zap"

	"vec/dataplane"
	"vec/internal/limits"
)

// ReadStopped reads every worker's counters directly, with the per-server
// counters of ServerIDs below servers; call it only after Stop, when no
// worker runs.
func (g *Gateway) ReadStopped(servers int) dataplane.Reading {
	var r dataplane.Reading
	for _, w := range g.workers {
		r.Cores = append(r.Cores, dataplane.CoreReading{Core: w.cpu, Counters: w.core.Counters, TxFull: w.txFull,
			Purged: w.purged, ARPSilenced: w.arpSilenced, Naps: w.naps, Mode: w.core.Mode(), Servers: w.core.Servers[:min(servers, limits.MaxServers)],
			PollIteration: w.polls.hist})
	}
	r.Ports = g.portCounters()
	return r
}

// portCounters reads the ports' hardware counters.
func (g *Gateway) portCounters() []dataplane.PortCounters {
	var out []dataplane.PortCounters
	for _, p := range g.ports {
		ps, err := p.Stats()
		if err != nil {
			g.log.Warn("reading port counters", zap.String("device", p.Name()), zap.Error(err))
			continue
		}
		out = append(out, dataplane.PortCounters{Device: p.Name(), IPackets: ps.IPackets, OPackets: ps.OPackets,
			IMissed: ps.IMissed, RxNoMbuf: ps.RxNoMbuf})
	}
	return out
}
