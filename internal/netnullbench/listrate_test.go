package netnullbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vec/dpdk"
	"vec/gateway"
)

// listRateFlows is how many connections the worker holds while the API
// lists them all.
const listRateFlows = 1 << 20

// A client lists a million connections page by page through the control
// API while the worker forwards: every connection is listed exactly once,
// and each page costs the worker only a bounded scan between two bursts.
// The test logs the forwarding rate before, during and after the listing. The worker benchmark's set-up
// (net_null, the feed standing in for the NIC, the control plane of
// control.go in-process): the rate over windows before and
// after the listing against the rate while it runs.
func TestForwardingRateWhileListingConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for several seconds")
	}
	withEAL(t)
	cpus, err := dpdk.ThreadAffinity()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) < 2 {
		t.Skipf("needs a CPU for the worker and one for the control plane, the process may use %v", cpus)
	}
	opts := Options{Mode: Worker, Flows: listRateFlows, ControlCore: cpus[0], WorkerCore: cpus[len(cpus)-1]}
	if err := checkHugepages(opts); err != nil {
		t.Skip(err)
	}
	// As in vecd and the benchmark: the garbage collector's pacing, and
	// every other thread off the worker's core.
	gateway.TuneGC()
	if err := gateway.KeepControlOffWorkers(opts.ControlCore, []int{opts.WorkerCore}); err != nil {
		t.Fatal(err)
	}
	defer dpdk.SetProcessAffinity(cpus)
	nn, err := openNetNull(1)
	if err != nil {
		t.Fatal(err)
	}
	defer nn.close()
	ctl, err := newControl(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.close()
	fd := newFeed(0, listRateFlows, true)
	loops, err := newLoops(ctl, nn, gateway.LoopConfig{Cores: []int{opts.WorkerCore}, TableCapacity: listRateFlows}, []*feed{fd})
	if err != nil {
		t.Fatal(err)
	}
	defer loops.Close()
	defer loops.Stop()
	if err := loops.Start(); err != nil {
		t.Fatal(err)
	}
	g := loops.Gateway()
	ctl.m.Attach(g)
	if err := waitWarm([]*feed{fd}, []int{opts.WorkerCore}); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	var entries uint64    // the table's, at the last reading
	var cpu time.Duration // the worker thread's CPU time, at the last reading
	received := func() (uint64, time.Time) {
		t.Helper()
		r, err := g.Read(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		entries = r.Cores[0].Counters.Entries
		if cpu, err = threadCPU(opts.WorkerCore); err != nil {
			t.Fatal(err)
		}
		return r.Cores[0].Counters.RX, time.Now()
	}
	// Every flow's first data segment makes its entry ACTIVE (an
	// embryonic one would be reaped after the SYN timeout): wait for one
	// round over the flows, so the table holds them all throughout.
	for limit := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if rx, _ := received(); rx >= 2*listRateFlows {
			break
		}
		if time.Now().After(limit) {
			t.Fatal("the flows did not all see a data segment within a minute")
		}
	}
	rate := func(rx0 uint64, t0 time.Time, rx1 uint64, t1 time.Time) float64 {
		return float64(rx1-rx0) / t1.Sub(t0).Seconds()
	}
	const window = 2 * time.Second
	rx0, t0 := received()
	cpu0 := cpu
	time.Sleep(window)
	rx1, t1 := received()
	entriesBefore, cpu1 := entries, cpu
	// The listing: every connection, a page of the largest size at a
	// time, as vecctl connections list --all does.
	// The client's record of what it saw stays small (a bit per flow:
	// the feed's flow f is client 10.128.f>>16:f&0xffff), as in vecctl,
	// another process: the listing's allocations are the control plane's.
	seen := make([]uint64, listRateFlows/64)
	listed, duplicates, strange := 0, 0, 0
	pages := 0
	for cursor := ""; ; pages++ {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req := httptest.NewRequest(http.MethodGet, "/v1/connections?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+benchToken)
		rec := httptest.NewRecorder()
		ctl.api.ServeHTTP(rec, req)
		var page struct {
			More        bool
			NextCursor  string `json:"next_cursor"`
			Connections []struct{ Client string }
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
			t.Fatalf("page %d: %d %s", pages, rec.Code, rec.Body.String())
		}
		for _, c := range page.Connections {
			ap, err := netip.ParseAddrPort(c.Client)
			ip := ap.Addr().As4()
			flow := int(ip[2])<<24 | int(ip[3])<<16 | int(ap.Port())
			if err != nil || ip[0] != 10 || ip[1] != 128 || flow >= listRateFlows {
				strange++
				continue
			}
			if seen[flow/64]&(1<<(flow%64)) != 0 {
				duplicates++
			}
			seen[flow/64] |= 1 << (flow % 64)
			listed++
		}
		if !page.More {
			break
		}
		cursor = page.NextCursor
	}
	rx2, t2 := received()
	entriesAfter, cpu2 := entries, cpu
	time.Sleep(window)
	rx3, t3 := received()
	cpu3 := cpu

	// On a loaded machine a few flows may wait past the SYN timeout for
	// their first data segment, and their entries go: the listing must
	// return what the table holds, which stays the same throughout.
	if uint64(listed) != entriesBefore || entriesAfter != entriesBefore || duplicates != 0 || strange != 0 {
		t.Errorf("the listing returned %d connections (%d twice, %d of no flow); the table held %d before, %d after",
			listed, duplicates, strange, entriesBefore, entriesAfter)
	}

	before, during, after := rate(rx0, t0, rx1, t1), rate(rx1, t1, rx2, t2), rate(rx2, t2, rx3, t3)
	ratio := during / ((before + after) / 2)
	// The worker thread's share of its CPU in each window, and the rate
	// per second of it: the work the listing adds to the worker's loop
	// shows in the latter. The former also falls while the control plane
	// is busy (here with the listing's JSON, on a machine of two CPUs):
	// the Go scheduler preempts the worker's goroutine every 10 ms, and
	// its P may then run another runnable goroutine first.
	share := func(c0, c1 time.Duration, t0, t1 time.Time) float64 { return float64(c1-c0) / float64(t1.Sub(t0)) }
	shares := []float64{share(cpu0, cpu1, t0, t1), share(cpu1, cpu2, t1, t2), share(cpu2, cpu3, t2, t3)}
	perCPU := during / shares[1] / ((before/shares[0] + after/shares[2]) / 2)
	t.Logf("%d connections (of %d flows) listed in %d pages over %.2f s; forwarding %.2f Mpps before, %.2f Mpps while listing, %.2f Mpps after: ratio %.3f",
		listed, listRateFlows, pages+1, t2.Sub(t1).Seconds(), before/1e6, during/1e6, after/1e6, ratio)
	t.Logf("the worker thread had %.0f %%, %.0f %%, %.0f %% of its CPU: per CPU second, the rate while listing is %.3f of the rate without",
		100*shares[0], 100*shares[1], 100*shares[2], perCPU)
	// The figures are logged, not asserted: a rate measured on a machine
	// shared with the rest of the test run is no pass/fail criterion
	// (docs/benchmarking.md). Run this test alone on an idle machine to
	// read them.
}

// threadCPU is the CPU time of this process's thread pinned to cpu alone
// (a worker's), from /proc.
func threadCPU(cpu int) (time.Duration, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil || !strings.Contains(string(status), "\nCpus_allowed_list:\t"+strconv.Itoa(cpu)+"\n") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "stat"))
		if err != nil {
			return 0, err
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on
		// Linux).
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 13 {
			return 0, fmt.Errorf("thread %s: short stat %q", task.Name(), stat)
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("thread %s: stat %q", task.Name(), stat)
		}
		return time.Duration(utime+stime) * 10 * time.Millisecond, nil
	}
	return 0, fmt.Errorf("no thread of this process is pinned to CPU %d alone", cpu)
}
