package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vec/internal/benchrun"
	"vec/internal/testenv"
)

// smokeRate is the fixed rate of the smoke run: modest enough that no
// packet may be lost on any machine, loaded or not.
const smokeRate = 100_000

// The least traffic the smoke run must have got through to judge the
// split (within half a point, WRR's cycle of five connections needs a few
// hundred at least): a tiny fraction of what the rate asks for.
const (
	minSmokePackets     = 10_000
	minSmokeConnections = 1_000
)

// TestSmokeVecdOverVirtio runs vecd on a net_virtio_user port against
// vec-pktgen on the net_vhost end, as `make bench` does, for a few seconds
// at a fixed rate, in mixed mode: a thousand flows playing short TCP
// connections with data segments of mixed sizes, and one packet in sixteen
// from a flow that never opened. It checks function only, never speed:
// everything came back, each connection's packets all went to one server,
// new connections were split by the weights, and exactly the unknown
// flows were dropped.
func TestSmokeVecdOverVirtio(t *testing.T) {
	testenv.RequireDPDK(t)
	// Logs, configurations and counters stay behind when the test fails.
	dir, err := os.MkdirTemp("", "vec-pktgen-smoke-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	})
	pktgen, vecd := filepath.Join(dir, "vec-pktgen"), filepath.Join(dir, "vecd")
	for bin, pkg := range map[string]string{pktgen: ".", vecd: "vec/cmd/vecd"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	layout := smokeLayout(t)
	pair := &benchrun.Pair{
		Pktgen: pktgen, Forwarder: benchrun.Vecd, Binary: vecd, Dir: dir,
		Case:     benchrun.Case{Name: "smoke", Mode: modeMixed, Flows: 1000},
		Duration: 5 * time.Second, Layout: layout,
		// Never write packets off: a machine busy with other tests may
		// deschedule vecd for long, and packets that are late must not let
		// more than the window into the rings.
		GenArgs:       []string{"-rate", strconv.Itoa(smokeRate), "-stall-timeout", "0"},
		TableCapacity: 1 << 16, MempoolSize: 4095,
	}
	start := time.Now()
	run, err := pair.Run()
	if err != nil {
		t.Fatal(err)
	}
	g, tot, st := run.Gen, &run.Gen.Total, run.Vecd
	t.Logf("%s in %s; generator: %+v", layoutString(layout), time.Since(start).Round(time.Millisecond), *tot)
	for _, th := range run.Threads {
		t.Logf("  %s", th)
	}

	// Enough for the checks below to mean something; far below what the
	// rate asks for, so that a machine busy with other tests still passes.
	if tot.Received < minSmokePackets || tot.SYNsReceived < minSmokeConnections {
		t.Fatalf("packets did not go through: %d flow packets sent, %d came back, %d of them SYNs",
			tot.Expected, tot.Received, tot.SYNsReceived)
	}
	if tot.Lost != 0 {
		t.Errorf("%d of %d flow packets lost at %d packets/s", tot.Lost, tot.Expected, smokeRate)
	}
	if tot.Misrouted != 0 || tot.Unmatched != 0 || tot.Other != 0 {
		t.Errorf("misrouted %d (a connection's packets reached two servers), unmatched %d (a SYN did not come back), other %d",
			tot.Misrouted, tot.Unmatched, tot.Other)
	}
	if tot.SYNsReceived != tot.SYNsSent || tot.SYNsSent == 0 {
		t.Errorf("%d SYNs sent, %d came back", tot.SYNsSent, tot.SYNsReceived)
	}
	// WRR gives weights 3 and 2 exactly 3:2 per five connections; allow
	// for the cycle in progress and nothing more.
	if worst := g.MaxSplitError(); worst > 0.005 {
		t.Errorf("new connections split %s, weights 3:2 ask for 60:40 (off by %.2f%%)", g.SplitString(), 100*worst)
	}
	for _, s := range g.Split {
		if s.Weight == 0 && s.Packets > 0 {
			t.Errorf("%d packets came back to %s, which is no server", s.Packets, s.MAC)
		}
	}
	// vecd's own counters agree: one new connection per SYN, per server.
	var opened uint64
	for i, s := range st.Servers {
		opened += s.New
		if i < len(g.Split) && s.New != g.Split[i].SYNs {
			t.Errorf("vecd opened %d connections to %s, the generator saw %d SYNs come back from %s",
				s.New, s.Server, g.Split[i].SYNs, g.Split[i].MAC)
		}
	}
	if opened != tot.SYNsSent {
		t.Errorf("vecd opened %d connections for %d SYNs", opened, tot.SYNsSent)
	}
	// Unknown flows: every one dropped, and nothing else.
	if tot.StraysSent == 0 || tot.StraysReceived != 0 {
		t.Errorf("%d packets of unknown flows sent, %d forwarded", tot.StraysSent, tot.StraysReceived)
	}
	if miss := st.Drops("non_syn_miss"); miss != tot.StraysSent {
		t.Errorf("vecd dropped %d packets as unknown flows, %d were sent", miss, tot.StraysSent)
	}
	if other := st.Drops("") - st.Drops("non_syn_miss"); other != 0 {
		t.Errorf("vecd dropped %d other packets: %+v", other, st.Cores)
	}
}

// smokeLayout puts vecd's worker on the last CPU the test may use, its
// control plane and both EAL main lcores on the first, and the generator
// on the first too: on the usual two-core machine, the generator and the
// gateway poll on different cores.
func smokeLayout(t *testing.T) benchrun.Layout {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	first, last := -1, -1
	for cpu := range 1024 {
		if set.IsSet(cpu) {
			last = cpu
			if first < 0 {
				first = cpu
			}
		}
	}
	return benchrun.Layout{GeneratorWorker: first, GeneratorMain: first, ForwarderMain: first, ForwarderWorker: last}
}

func layoutString(l benchrun.Layout) string {
	return "vec-pktgen worker on core " + strconv.Itoa(l.GeneratorWorker) + ", vecd worker on core " +
		strconv.Itoa(l.ForwarderWorker) + " (control core " + strconv.Itoa(l.ForwarderMain) + ")"
}
