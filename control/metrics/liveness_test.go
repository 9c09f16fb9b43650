package metrics

import (
	"testing"
	"time"
)

type fixedLiveness struct {
	links   []PortLink
	workers []WorkerLiveness
}

func (f fixedLiveness) Links() []PortLink         { return f.links }
func (f fixedLiveness) Workers() []WorkerLiveness { return f.workers }

func TestLivenessCollectorReportsLinksAndStalls(t *testing.T) {
	got := gather(t, NewLivenessCollector(fixedLiveness{
		links: []PortLink{{Device: "eth1", Known: true, Up: false, Changes: 3}, {Device: "eth2", Known: true, Up: true},
			{Device: "eth3"}},
		workers: []WorkerLiveness{{Core: 1, Iterations: 1000, LastIterationAge: 1500 * time.Millisecond, Stalled: true, Stalls: 2},
			{Core: 2, Iterations: 5000}},
	}))
	wantSamples(t, got, map[string]float64{
		`vec_port_link_up{device="eth1"}`:                 0,
		`vec_port_link_up{device="eth2"}`:                 1,
		`vec_port_link_changes_total{device="eth1"}`:      3,
		`vec_port_link_changes_total{device="eth3"}`:      0,
		`vec_worker_stalled{core="1"}`:                    1,
		`vec_worker_stalled{core="2"}`:                    0,
		`vec_worker_last_iteration_age_seconds{core="1"}`: 1.5,
		`vec_worker_stalls_total{core="1"}`:               2,
		`vec_worker_iterations_total{core="2"}`:           5000,
	})
	if _, ok := got[`vec_port_link_up{device="eth3"}`]; ok {
		t.Error("a link never read is exported as up or down")
	}
}
