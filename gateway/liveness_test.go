package gateway

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"vec/dpdk"
)

// fakeLoop stands in for a worker's poll loop: it bumps the iteration
// counter as poll does until asked to stop, unless hang is closed first:
// then it blocks, as a worker stuck in a bug or a blocking call would,
// until unhang is closed.
func fakeLoop(w *worker, done chan struct{}, hang, unhang <-chan struct{}) {
	defer close(done)
	for iter := 0; !w.stop.Load(); iter++ {
		w.iterations.Store(uint64(iter) + 1)
		select {
		case <-hang:
			<-unhang
		case <-time.After(time.Millisecond):
		}
	}
}

func observed(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// A worker whose loop stops iterating is reported stalled (state and an
// error line naming its core) once the stall threshold has passed, and no
// later than two watchdog samples after; Stop then gives up on it after its
// timeout with an error naming that worker alone, and Close frees nothing
// it may still use.
func TestStuckWorkerIsReportedAndStopNamesIt(t *testing.T) {
	log, logs := observed(t)
	g := New(log, Options{})
	g.watch.stallAfter, g.watch.stopTimeout = 300*time.Millisecond, 400*time.Millisecond
	hang, unhang := make(chan struct{}), make(chan struct{})
	defer close(unhang)
	for i, cpu := range []int{3, 5} {
		w := &worker{cpu: cpu, queue: uint16(i)}
		done := make(chan struct{})
		g.workers, g.done = append(g.workers, w), append(g.done, done)
		if i == 1 {
			go fakeLoop(w, done, hang, unhang)
		} else {
			go fakeLoop(w, done, nil, nil)
		}
	}
	g.startWatch()
	time.Sleep(2 * watchdogEvery)
	if lv := g.Liveness(); lv[0].Stalled || lv[1].Stalled || lv[0].Iterations == 0 || lv[1].Iterations == 0 {
		t.Fatalf("both workers iterating, liveness %+v", lv)
	}

	close(hang)
	hung := time.Now()
	var lv []WorkerLiveness
	for {
		if lv = g.Liveness(); lv[1].Stalled {
			break
		}
		if time.Since(hung) > 5*time.Second {
			t.Fatalf("stuck worker not reported within 5 s: %+v", lv)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(hung)
	t.Logf("stall reported %v after the worker stopped iterating (threshold %v)", took, g.watch.stallAfter)
	// The rest of the bound is slack for a loaded machine.
	if took < g.watch.stallAfter || took > g.watch.stallAfter+2*watchdogEvery+500*time.Millisecond {
		t.Errorf("stall reported %v after the worker stopped iterating, want the threshold %v plus at most two samples of %v",
			took, g.watch.stallAfter, watchdogEvery)
	}
	if lv[0].Stalled || lv[1].Core != 5 || lv[1].Stalls != 1 || lv[1].LastIterationAge < g.watch.stallAfter {
		t.Errorf("liveness %+v: want only core 5 stalled, once, for at least %v", lv, g.watch.stallAfter)
	}
	stalled := logs.FilterMessageSnippet("worker stalled").AllUntimed()
	if len(stalled) != 1 || stalled[0].ContextMap()["core"] != int64(5) || stalled[0].Level != zapcore.ErrorLevel {
		t.Errorf("stall log lines %v, want one error naming core 5", stalled)
	}

	start := time.Now()
	err := g.Stop()
	if took := time.Since(start); took < g.watch.stopTimeout || took > g.watch.stopTimeout+time.Second {
		t.Errorf("Stop returned after %v, want its timeout %v", took, g.watch.stopTimeout)
	}
	if err == nil || !strings.Contains(err.Error(), "worker on core 5 (queue 1) did not stop within 400ms") ||
		strings.Contains(err.Error(), "core 3") {
		t.Fatalf("Stop = %v, want an error naming the worker on core 5 alone", err)
	}
	g.Close()
	if n := logs.FilterMessageSnippet("not releasing").Len(); n != 1 {
		t.Errorf("Close after a failed Stop logged %d refusals to release, want 1", n)
	}
}

// Stop of healthy workers returns nil at once.
func TestStopHealthyWorkers(t *testing.T) {
	g := New(zap.NewNop(), Options{})
	for i := range 2 {
		w := &worker{cpu: i, queue: uint16(i)}
		done := make(chan struct{})
		g.workers, g.done = append(g.workers, w), append(g.done, done)
		go fakeLoop(w, done, nil, nil)
	}
	g.startWatch()
	start := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Stop of healthy workers took %v", took)
	}
	if lv := g.Liveness(); lv[0].Stalled || lv[1].Stalled {
		t.Errorf("liveness after Stop: %+v", lv)
	}
}

type fakeLink struct {
	name string
	mu   sync.Mutex
	link dpdk.Link
	err  error
}

func (f *fakeLink) Name() string { return f.name }

func (f *fakeLink) Link() (dpdk.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.link, f.err
}

func (f *fakeLink) set(up bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.link, f.err = dpdk.Link{Up: up, SpeedMbps: 10000}, err
}

// The link watch logs each change and counts it; the gateway is unhealthy
// only while every port is known down; a link that cannot be read keeps
// its last state and is logged once per period.
func TestLinkWatch(t *testing.T) {
	log, logs := observed(t)
	g := New(log, Options{})
	a, b := &fakeLink{name: "eth1"}, &fakeLink{name: "eth2"}
	a.set(true, nil)
	b.set(true, nil)
	g.watch.links = []linkReader{a, b}
	g.initWatch()
	now := time.Now()
	step := func(what string, wantDown string) {
		t.Helper()
		now = now.Add(linkEvery)
		g.readLinks(now)
		err := g.LinkHealth()
		switch {
		case wantDown == "" && err != nil:
			t.Errorf("%s: health %v, want healthy", what, err)
		case wantDown != "" && (err == nil || !strings.Contains(err.Error(), "every data port's link is down ("+wantDown+")")):
			t.Errorf("%s: health %v, want every port down (%s)", what, err, wantDown)
		}
	}
	step("both up", "")
	a.set(false, nil)
	step("eth1 down", "")
	b.set(false, nil)
	step("both down", "eth1, eth2")
	b.set(false, errors.New("rte_eth_link_get_nowait(port 1): Operation not supported"))
	step("eth2 unreadable", "eth1, eth2")
	step("eth2 still unreadable", "eth1, eth2")
	a.set(true, nil)
	step("eth1 up", "")
	links := g.Links()
	if links[0].Device != "eth1" || !links[0].Up || links[0].Changes != 2 || links[0].SpeedMbps != 10000 ||
		links[1].Up || links[1].Changes != 1 || !links[1].Known {
		t.Errorf("links %+v", links)
	}
	if n := logs.FilterMessage("port link down").Len(); n != 2 {
		t.Errorf("%d link-down lines, want 2", n)
	}
	if n := logs.FilterMessage("port link up").Len(); n != 1 {
		t.Errorf("%d link-up lines, want 1", n)
	}
	if n := logs.FilterMessageSnippet("cannot read").Len(); n != 1 {
		t.Errorf("%d unreadable-link lines in %v, want 1", n, 2*linkEvery)
	}

	// A gateway whose links were never read is not unhealthy.
	if err := New(zap.NewNop(), Options{}).LinkHealth(); err != nil {
		t.Errorf("health before any reading: %v", err)
	}
}

// net_af_packet and net_af_xdp devices are found in the vdev arguments with their kernel
// interface; an interface's flags are read in this network namespace.
func TestAFPacketCarrier(t *testing.T) {
	got := kernelIfaces([]string{"net_ring0", "net_af_packet0,iface=eth1,qpairs=2", "net_af_packet1,qpairs=1,iface=lo", "net_af_xdp0,iface=veth0,queue_count=1"})
	if len(got) != 3 || got["net_af_packet0"] != "eth1" || got["net_af_packet1"] != "lo" || got["net_af_xdp0"] != "veth0" {
		t.Errorf("kernel interfaces %v", got)
	}
	if up, err := ifaceRunning("lo"); err != nil || !up {
		t.Errorf("lo running = %v, %v", up, err)
	}
	if _, err := ifaceRunning("vec-no-such0"); err == nil || !strings.Contains(err.Error(), "SIOCGIFFLAGS(vec-no-such0)") {
		t.Errorf("missing interface: %v", err)
	}
}
