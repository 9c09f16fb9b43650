package gateway

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"vec/control/config"
	"vec/control/manager"
	"vec/dpdk"
	"vec/internal/testenv"
)

// The gateway on DPDK (a net_ring port and a net_af_packet port on a
// veth, one worker on the control core), end to end: the control threads run on the configured control
// core although a worker polls there; the link watch follows the ports'
// links and reports the gateway unhealthy once every link is down; a
// worker whose loop blocks is reported stalled within the threshold; Stop
// gives up on it after its timeout, naming it. (net_ring has no RSS, so
// one worker: TestStuckWorkerIsReportedAndStopNamesIt shows the other
// workers are not blamed.)
//
// It needs root and hugepages. Gateway.Start initialises the EAL in this
// process: the package's other DPDK tests run in processes of their own
// (withEAL).
func TestGatewayLivenessOnDPDK(t *testing.T) {
	if os.Geteuid() != 0 || hugepages(t) == 0 {
		testenv.SkipOrFail(t, "needs root and hugepages (scripts/setup.sh)")
	}
	// A veth pair: vecd's port on one end; the peer going down takes
	// the carrier away, which net_af_packet does not report by itself.
	const vethGW, vethPeer = "veclvA", "veclvB"
	exec.Command("ip", "link", "del", vethGW).Run() // left over from an interrupted run
	for _, args := range [][]string{{"link", "add", vethGW, "type", "veth", "peer", "name", vethPeer},
		{"link", "set", vethGW, "up"}, {"link", "set", vethPeer, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", vethGW).Run() })
	dir := t.TempDir()
	path := filepath.Join(dir, "vecd.yaml")
	text := `
dpdk: {eal_args: ["--no-pci", "--no-telemetry"], vdevs: ["net_ring0", "net_af_packet0,iface=veclvA"]}
ports: [{device: net_ring0}, {device: net_af_packet0}]
workers: {cores: [1], control_core: 1, table_capacity: 1024}
clusters:
  - vip: 10.10.0.100
    services:
      - name: http
        protocol: tcp
        port: 80
        servers:
          - {name: s1, ip: 10.10.0.11, mac: "02:00:00:00:00:11", weight: 1}
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's options as cmd/vecd converts that configuration's.
	rt := Options{EALArgs: []string{"--no-pci", "--no-telemetry"}, VDevs: []string{"net_ring0", "net_af_packet0,iface=" + vethGW},
		Ports: []string{"net_ring0", "net_af_packet0"}, WorkerCores: []int{1}, ControlCore: 1, ControlSharesWorkerCore: true,
		TableCapacity: 1024, IdleSleep: config.DefaultIdleSleep}
	m := manager.New(manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel(), Path: path, Config: cfg})

	// Start confines every thread to the control core: give the tests
	// that run after this one (and the processes they start) the CPUs
	// back.
	var cpus []int
	runOnMain(func() { cpus, err = dpdk.ThreadAffinity() })
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		if err := dpdk.SetProcessAffinity(cpus); err != nil {
			t.Error(err)
		}
		runtime.GOMAXPROCS(procs)
	})

	core, logs := observer.New(zapcore.InfoLevel)
	g := New(zap.New(core), rt)
	g.watch.stallAfter, g.watch.stopTimeout = 300*time.Millisecond, time.Second
	var hang atomic.Bool
	unhang := make(chan struct{})
	defer close(unhang)
	g.feed = func(i int) func([][]byte) {
		return func([][]byte) {
			if i == 0 && hang.Load() {
				<-unhang
			}
		}
	}
	runOnMain(func() { err = g.Start(m.Initial) })
	if err != nil {
		t.Fatal(err)
	}

	if got := testenv.CPUsAllowed(t, os.Getpid()); got != "1" {
		t.Errorf("main thread on CPUs %q, want the control core 1 (a worker's core too, as configured)", got)
	}

	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		return testenv.WaitFor(t, what, limit, 5*time.Millisecond, cond)
	}
	links := g.Links()
	if len(links) != 2 || !links[0].Known || !links[0].Up || !links[1].Up || g.LinkHealth() != nil {
		t.Fatalf("links at start %+v, health %v; want both up", links, g.LinkHealth())
	}
	if err := g.ports[0].SetLinkDown(); err != nil {
		t.Fatal(err)
	}
	waitFor("net_ring0 seen down", 3*linkEvery, func() bool { return !g.Links()[0].Up })
	if err := g.LinkHealth(); err != nil {
		t.Errorf("one port of two down: health %v, want healthy", err)
	}
	if out, err := exec.Command("ip", "link", "set", vethPeer, "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	took := waitFor("every link down", 3*linkEvery, func() bool { return g.LinkHealth() != nil })
	t.Logf("every link down seen %v after the veth peer went down (links read every %v)", took, linkEvery)
	if err := g.LinkHealth(); !strings.Contains(err.Error(), "(net_ring0, net_af_packet0)") {
		t.Errorf("health %v, want both ports named", err)
	}
	if err := g.ports[0].SetLinkUp(); err != nil {
		t.Fatal(err)
	}
	waitFor("net_ring0 seen up", 3*linkEvery, func() bool { return g.LinkHealth() == nil })
	if l := g.Links()[0]; l.Changes != 2 || logs.FilterMessage("port link down").Len() != 2 {
		t.Errorf("net_ring0 %+v after down and up, %d link-down lines; want 2 changes and 2 lines", l, logs.FilterMessage("port link down").Len())
	}

	// The worker blocks on the next burst it receives: a frame sent into
	// its queue (net_ring loops TX back to RX).
	time.Sleep(2 * watchdogEvery)
	if lv := g.Liveness(); lv[0].Stalled || lv[0].Iterations == 0 {
		t.Fatalf("idle worker: %+v, want it iterating", lv)
	}
	// Its counters, read through its mailbox, carry the histogram of its
	// poll-iteration times (polltime.go).
	if r, err := g.Read(context.Background(), 0); err != nil {
		t.Fatal(err)
	} else if h := r.Cores[0].PollIteration; h.Count() == 0 || h.MaxNanos == 0 {
		t.Errorf("the worker's counters have no poll-iteration times: %+v", h)
	}
	hang.Store(true)
	b, err := dpdk.NewBurst(1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	if err := b.Alloc(g.pool, 1, 60); err != nil {
		t.Fatal(err)
	}
	if sent := b.SendAll(g.ports[0].ID, 0); sent != 1 {
		t.Fatalf("sent %d frames into queue 0", sent)
	}
	hung := time.Now()
	waitFor("the worker reported stalled", 5*time.Second, func() bool { return g.Liveness()[0].Stalled })
	took = time.Since(hung)
	t.Logf("stall reported %v after the frame that blocks the worker was sent (threshold %v)", took, g.watch.stallAfter)
	// The worker may be napping when the frame arrives (up to
	// idle_sleep); then the threshold from the first sample that missed
	// an iteration. The rest is slack for a loaded machine.
	if bound := rt.IdleSleep + g.watch.stallAfter + 2*watchdogEvery + 500*time.Millisecond; took > bound {
		t.Errorf("stall reported %v after the worker blocked, want the threshold %v plus at most a nap and two samples (%v)", took, g.watch.stallAfter, bound)
	}
	if lv := g.Liveness(); lv[0].Core != 1 || lv[0].Stalls != 1 {
		t.Errorf("liveness %+v, want the worker on core 1 stalled once", lv)
	}
	if n := logs.FilterMessageSnippet("worker stalled").FilterField(zap.Int("core", 1)).Len(); n != 1 {
		t.Errorf("%d stall lines for core 1, want 1", n)
	}

	start := time.Now()
	err = g.Stop()
	if d := time.Since(start); d < g.watch.stopTimeout || d > g.watch.stopTimeout+time.Second {
		t.Errorf("Stop returned after %v, want its timeout %v", d, g.watch.stopTimeout)
	}
	if err == nil || !strings.Contains(err.Error(), "worker on core 1 (queue 0) did not stop") {
		t.Fatalf("Stop = %v, want an error naming the worker on core 1", err)
	}
	// The worker's memory and ports stay: Close releases nothing.
	g.Close()
	if n := logs.FilterMessageSnippet("not releasing").Len(); n != 1 {
		t.Errorf("Close after a failed Stop: %d refusals to release, want 1", n)
	}
}

// hugepages is HugePages_Total of /proc/meminfo.
func hugepages(t *testing.T) int {
	t.Helper()
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(meminfo)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "HugePages_Total:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}
