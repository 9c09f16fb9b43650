package netnullbench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"vec/dataplane"
	"vec/dpdk"
	"vec/gateway"
	"vec/internal/benchfmt"
)

// newLoops builds vecd's worker loops on the benchmark's port over the
// snapshot ctl's manager makes, feeding loop i through feeds[i] (none
// when feeds is nil). The caller starts them, and stops them before it
// closes them.
func newLoops(ctl *control, nn *netNull, cfg gateway.LoopConfig, feeds []*feed) (*gateway.Loops, error) {
	snap, err := ctl.m.Initial(gatewayMAC)
	if err != nil {
		return nil, err
	}
	cfg.Ports, cfg.Pool = []*dpdk.Port{nn.port}, nn.pool
	if feeds != nil {
		cfg.Feed = func(i int) func(pkts [][]byte) { return feeds[i].write }
	}
	loops, err := gateway.NewLoops(ctl.log, cfg, snap)
	if err != nil {
		loops.Close()
		return nil, err
	}
	return loops, nil
}

// waitWarm waits until every feed has sent its SYNs, a minute at most.
func waitWarm(feeds []*feed, cores []int) error {
	limit := time.Now().Add(time.Minute)
	for i, f := range feeds {
		for !f.warm.Load() {
			if time.Now().After(limit) {
				return fmt.Errorf("warm-up did not finish within a minute on the loop on core %d: %d of %d SYNs sent", cores[i], f.sent, f.warmFlows)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// runWorkerBenchmark runs the gateway's own worker loop, with the feed
// standing in for the NIC, and measures from the moment every flow is live.
//
// Every worker mode builds the snapshot through the control plane's
// manager and attaches the loop to it, so they differ only in the control
// load.
func runWorkerBenchmark(opts Options, nn *netNull, res benchfmt.Result) (benchfmt.Result, error) {
	ctl, err := newControl(opts)
	if err != nil {
		return res, err
	}
	defer ctl.close()
	fd := newFeed(0, opts.Flows, true)
	loops, err := newLoops(ctl, nn, gateway.LoopConfig{Cores: []int{opts.WorkerCore}, TableCapacity: opts.Flows}, []*feed{fd})
	if err != nil {
		return res, err
	}
	defer loops.Close()
	defer loops.Stop()
	res.Hugepage = true
	// The poll-time window starts when the warm-up ends, on the loop's
	// thread, which alone writes its histogram.
	var win pollWindow
	fd.atWarm = func() {
		win.tid = unix.Gettid()
		win.start = loops.RestartPollTimes(0)
	}
	if err := loops.Start(); err != nil {
		return res, err
	}
	ctl.m.Attach(loops.Gateway())
	// Wait for the warm-up SYNs to go through, then measure.
	warmErr := waitWarm([]*feed{fd}, []int{opts.WorkerCore})
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	var load *controlLoad
	if warmErr == nil {
		if err := win.begin(); err != nil {
			return res, err
		}
		switch opts.Mode {
		case WorkerAPI:
			load = ctl.start(opts.APIRate)
		case WorkerBusy:
			load = ctl.spin()
		case WorkerManager:
			load = ctl.runManager()
		}
		time.Sleep(opts.Duration)
	}
	if load != nil {
		res.APIRequests = load.stop()
		if opts.Mode == WorkerBusy {
			res.APIRequests = 0
		}
	}
	sched, schedErr := readThreadSched(win.tid)
	gc := gcPauses()
	if err := loops.Stop(); err != nil {
		return res, err
	}
	end := time.Now()
	runtime.ReadMemStats(&mem1)
	if warmErr != nil {
		return res, warmErr
	}
	if load != nil && load.err != nil {
		return res, fmt.Errorf("control load: %w", load.err)
	}
	if schedErr != nil {
		return res, schedErr
	}
	r := loops.Gateway().ReadStopped(0).Cores[0]
	c := &r.Counters
	if c.Entries != uint64(opts.Flows) {
		return res, fmt.Errorf("after warm-up the table holds %d entries, want %d", c.Entries, opts.Flows)
	}
	if encapsulating := opts.forwarding() != "dsr"; encapsulating && c.Encapsulated != c.TX {
		return res, fmt.Errorf("%d of %d packets sent were encapsulated", c.Encapsulated, c.TX)
	}
	res.Packets = c.RX - fd.warmSent
	res.Seconds = end.Sub(fd.warmDone).Seconds()
	res.Mpps = float64(res.Packets) / res.Seconds / 1e6
	res.Dropped = c.TotalDrops()
	res.Entries = c.Entries
	res.APIPerSec = float64(res.APIRequests) / res.Seconds
	res.AllocMBps = float64(mem1.TotalAlloc-mem0.TotalAlloc) / res.Seconds / 1e6
	res.GCCycles = mem1.NumGC - mem0.NumGC
	res.PollIteration = win.report(&r.PollIteration, sched, gc)
	return res, nil
}

// readTimeout bounds one counter reading through the loops' mailboxes.
const readTimeout = 5 * time.Second

// readCounters reads every loop's counters, with the per-server counters
// of ServerIDs below servers, through their mailboxes while they run.
func readCounters(g *gateway.Gateway, servers int) (dataplane.Reading, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	r, err := g.Read(ctx, servers)
	return r, time.Now(), err
}

// runWorkersBenchmark runs a worker loop on each core of the set, loop i
// on queue i of the port with flows of its own in a table of its own,
// and measures the packets they all received over opts.Duration, from
// their counters read through the mailboxes at both ends.
func runWorkersBenchmark(opts Options, nn *netNull, res benchfmt.Result) (benchfmt.Result, error) {
	cores := opts.workerCores()
	ctl, err := newControl(opts)
	if err != nil {
		return res, err
	}
	defer ctl.close()
	feeds := make([]*feed, len(cores))
	for i := range feeds {
		feeds[i] = newFeed(i, opts.Flows, true)
	}
	loops, err := newLoops(ctl, nn, gateway.LoopConfig{Cores: cores, TableCapacity: opts.Flows}, feeds)
	if err != nil {
		return res, err
	}
	defer loops.Close()
	defer loops.Stop()
	res.Hugepage, res.WorkerCores = true, cores
	if err := loops.Start(); err != nil {
		return res, err
	}
	if err := waitWarm(feeds, cores); err != nil {
		return res, err
	}
	g := loops.Gateway()
	r0, t0, err := readCounters(g, 0)
	if err != nil {
		return res, err
	}
	time.Sleep(opts.Duration)
	r1, t1, err := readCounters(g, 0)
	if err != nil {
		return res, err
	}
	if err := loops.Stop(); err != nil {
		return res, err
	}
	res.Seconds = t1.Sub(t0).Seconds()
	for i, end := range g.ReadStopped(0).Cores {
		c0, c1 := &r0.Cores[i].Counters, &r1.Cores[i].Counters
		rx := c1.RX - c0.RX
		res.Packets += rx
		res.Dropped += c1.TotalDrops() - c0.TotalDrops()
		res.WorkerMpps = append(res.WorkerMpps, float64(rx)/res.Seconds/1e6)
		res.Entries += end.Counters.Entries
		if end.Counters.Entries != uint64(opts.Flows) {
			return res, fmt.Errorf("the loop on core %d ended with %d entries, want %d", cores[i], end.Counters.Entries, opts.Flows)
		}
	}
	res.Mpps = float64(res.Packets) / res.Seconds / 1e6
	return res, nil
}

// settleLimit bounds how long the NewConns mode waits for its table to
// reach its steady state.
const settleLimit = 30 * time.Second

// runNewConnsBenchmark feeds one worker loop nothing but SYNs of new
// flows. Once the table is in its steady state (the first embryonic entry
// evicted from the full table or expired), it measures the connections
// created over opts.Duration: the servers' new-connection counters, read
// through the mailbox at both ends.
func runNewConnsBenchmark(opts Options, nn *netNull, res benchfmt.Result) (benchfmt.Result, error) {
	ctl, err := newControl(opts)
	if err != nil {
		return res, err
	}
	defer ctl.close()
	fd := &feed{client: clientNet, synOnly: true}
	loops, err := newLoops(ctl, nn, gateway.LoopConfig{Cores: []int{opts.WorkerCore}, TableCapacity: opts.Flows}, []*feed{fd})
	if err != nil {
		return res, err
	}
	defer loops.Close()
	defer loops.Stop()
	// The manager's directory has the servers once it has built the
	// snapshot (newLoops).
	_, servers, err := ctl.servers()
	if err != nil {
		return res, err
	}
	ids := 0
	for _, s := range servers {
		ids = max(ids, int(s)+1)
	}
	res.Hugepage = true
	if err := loops.Start(); err != nil {
		return res, err
	}
	g := loops.Gateway()
	for limit := time.Now().Add(settleLimit); ; time.Sleep(10 * time.Millisecond) {
		r, _, err := readCounters(g, 0)
		if err != nil {
			return res, err
		}
		if c := &r.Cores[0].Counters; c.EvictedSYN+c.ExpiredSYN > 0 {
			break
		}
		if time.Now().After(limit) {
			return res, fmt.Errorf("no entry evicted or expired within %v: the table of %d entries never filled", settleLimit, opts.Flows)
		}
	}
	r0, t0, err := readCounters(g, ids)
	if err != nil {
		return res, err
	}
	time.Sleep(opts.Duration)
	r1, t1, err := readCounters(g, ids)
	if err != nil {
		return res, err
	}
	if err := loops.Stop(); err != nil {
		return res, err
	}
	res.Seconds = t1.Sub(t0).Seconds()
	c0, c1 := &r0.Cores[0].Counters, &r1.Cores[0].Counters
	var created uint64
	for _, s := range servers {
		created += r1.Cores[0].Servers[s].New - r0.Cores[0].Servers[s].New
	}
	if created == 0 {
		return res, fmt.Errorf("no connection created in %.2f s (%d packets received, %d dropped)", res.Seconds, c1.RX-c0.RX, c1.TotalDrops()-c0.TotalDrops())
	}
	res.Packets = c1.RX - c0.RX
	res.Mpps = float64(res.Packets) / res.Seconds / 1e6
	res.NewConnsPerSec = float64(created) / res.Seconds
	res.Dropped = c1.TotalDrops() - c0.TotalDrops()
	res.Evicted = c1.EvictedSYN + c1.EvictedFIN + c1.EvictedActive - c0.EvictedSYN - c0.EvictedFIN - c0.EvictedActive
	res.Expired = c1.ExpiredSYN - c0.ExpiredSYN
	res.Entries = g.ReadStopped(0).Cores[0].Counters.Entries
	return res, nil
}
