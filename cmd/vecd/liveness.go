package main

import (
	"vec/control/metrics"
	"vec/gateway"
)

// livenessSource hands the gateway's link watch and worker watchdog to the
// metrics endpoint.
type livenessSource struct{ g *gateway.Gateway }

func (s livenessSource) Links() []metrics.PortLink {
	links := s.g.Links()
	out := make([]metrics.PortLink, len(links))
	for i, l := range links {
		out[i] = metrics.PortLink{Device: l.Device, Known: l.Known, Up: l.Up, Changes: l.Changes}
	}
	return out
}

func (s livenessSource) Workers() []metrics.WorkerLiveness {
	workers := s.g.Liveness()
	out := make([]metrics.WorkerLiveness, len(workers))
	for i, w := range workers {
		out[i] = metrics.WorkerLiveness{Core: w.Core, Iterations: w.Iterations, LastIterationAge: w.LastIterationAge,
			Stalled: w.Stalled, Stalls: w.Stalls}
	}
	return out
}
