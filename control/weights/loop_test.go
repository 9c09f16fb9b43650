package weights

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/fastpath"
)

// fakeSource is the control plane as the loop sees it: one service of
// three servers, counters the test sets, and the weights the loop applied.
type fakeSource struct {
	mu       sync.Mutex
	view     manager.ManagedView
	counters apiwire.Counters
	applied  []map[fastpath.ServerID]int
}

func newFakeSource(spec config.ManagerSpec) *fakeSource {
	svc := manager.ManagedService{VIP: netip.MustParseAddr("10.0.0.100"), Name: "http", Proto: fastpath.ProtoTCP, Port: 80,
		Bound: 20, Index: 0}
	for i, name := range []string{"s1", "s2", "s3"} {
		svc.Servers = append(svc.Servers, manager.ManagedServer{ID: fastpath.ServerID(i), Name: name,
			IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(11 + i)}), Configured: 10, InForce: 10})
	}
	return &fakeSource{view: manager.ManagedView{Generation: 1, Manager: spec, Services: []manager.ManagedService{svc},
		ServiceRefs: []string{"10.0.0.100:http"}}}
}

func (f *fakeSource) Managed() manager.ManagedView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view
}

func (f *fakeSource) Counters(context.Context) (apiwire.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters, nil
}

func (f *fakeSource) SetComputedWeights(_ context.Context, gen uint64, w map[fastpath.ServerID]int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.view.Generation {
		return manager.ErrStaleWeights
	}
	f.applied = append(f.applied, w)
	for i := range f.view.Services[0].Servers {
		s := &f.view.Services[0].Servers[i]
		if nw, ok := w[s.ID]; ok {
			s.InForce = nw
		} else {
			s.InForce = s.Configured
		}
	}
	return nil
}

// setCounters gives each server its cumulative new connections and its
// active gauge.
func (f *fakeSource) setCounters(newConns, active [3]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters = apiwire.Counters{}
	for i := range 3 {
		sc := apiwire.ServerCounters{ID: uint16(i)}
		sc.New, sc.Active = newConns[i], int64(active[i])
		f.counters.Servers = append(f.counters.Servers, sc)
	}
}

func (f *fakeSource) weights() [3]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w [3]int
	for i, s := range f.view.Services[0].Servers {
		w[i] = s.InForce
	}
	return w
}

func managerSpec() config.ManagerSpec {
	return config.ManagerSpec{Enabled: true, Interval: time.Second, Proportions: config.DefaultProportions,
		Smoothing: config.DefaultSmoothing, Sensitivity: config.DefaultSensitivity, SystemMetric: "cpu",
		HostInterval: time.Second}
}

// Two intervals: the first only learns the counters (new connections are a
// difference), the second moves weight away from the server holding most
// of the active connections and taking most new ones.
func TestLoopMovesWeightFromTheLoadedServer(t *testing.T) {
	src := newFakeSource(managerSpec())
	l := New(Options{Source: src, Log: zaptest.NewLogger(t)})
	ctx := context.Background()
	src.setCounters([3]uint64{100, 100, 100}, [3]uint64{10, 10, 10})
	l.tick(ctx)
	src.setCounters([3]uint64{200, 200, 300}, [3]uint64{10, 10, 60})
	l.tick(ctx)
	w := src.weights()
	if !(w[2] < w[0] && w[0] == w[1]) {
		t.Fatalf("weights %v: the loaded s3 should have lost weight to s1 and s2", w)
	}
	rep := l.ManagerReport()
	if !rep.Enabled || len(rep.Services) != 1 || len(rep.Services[0].Servers) != 3 {
		t.Fatalf("report %+v", rep)
	}
	s3 := rep.Services[0].Servers[2]
	if s3.Reason != "computed" || s3.Computed != w[2] || !s3.Metrics[ClassNew].Known || s3.Metrics[ClassNew].Value != 200 {
		t.Fatalf("s3's report %+v", s3)
	}
}

// A rule that holds keeps its server at the rule's weight, explained; a
// stopped manager gives every server its configured weight back.
func TestLoopRuleAndStop(t *testing.T) {
	spec := managerSpec()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.Local)
	spec.Rules = []config.RuleSpec{{Rule: config.Rule{Name: "noon", Type: "window", Servers: []string{"s1"},
		From: "11:00", To: "13:00"}, Service: 0, Weight: 0}}
	src := newFakeSource(spec)
	l := New(Options{Source: src, Log: zaptest.NewLogger(t), Now: func() time.Time { return now }})
	ctx := context.Background()
	src.setCounters([3]uint64{1, 1, 1}, [3]uint64{1, 1, 1})
	l.tick(ctx)
	if w := src.weights(); w[0] != 0 || w[1] == 0 || w[2] == 0 {
		t.Fatalf("weights %v with the rule holding s1 at 0", w)
	}
	if r := l.ManagerReport().Services[0].Servers[0]; r.Reason != "rule noon" {
		t.Fatalf("s1's reason %q", r.Reason)
	}
	// Outside the window the rule lets go: s1 takes connections again.
	now = now.Add(2 * time.Hour)
	src.setCounters([3]uint64{2, 2, 2}, [3]uint64{1, 1, 1})
	l.tick(ctx)
	if w := src.weights(); w[0] == 0 {
		t.Fatalf("weights %v after the window", w)
	}
	// Stopped (manager.enabled false): back to the configured weights.
	src.mu.Lock()
	src.view.Manager.Enabled = false
	src.mu.Unlock()
	l.tick(ctx)
	if w := src.weights(); w != [3]int{10, 10, 10} {
		t.Fatalf("weights %v after the manager stopped, want the configured 10/10/10", w)
	}
	l.stopAll()
}
