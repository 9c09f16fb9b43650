package gateway

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"vec/control/config"
	"vec/dpdk"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// BenchMode selects what RunBenchmark measures on one net_null port.
type BenchMode string

// Benchmark modes.
const (
	// BenchPlain: rx → tx, packets untouched: the cost of DPDK from Go.
	BenchPlain BenchMode = "plain"
	// BenchRewrite: rx → write a fresh flow tuple into each packet → tx:
	// the part of the worker benchmark that stands in for the NIC.
	BenchRewrite BenchMode = "rewrite"
	// BenchWorker: vecd's worker loop (fastpath included) over live flows.
	BenchWorker BenchMode = "worker"
	// BenchWorkerAPI: the worker loop while the control plane serves a
	// steady load of control API and /metrics requests in the same
	// process (see controlLoad), to measure what the control plane's
	// allocations cost the poll loop.
	BenchWorkerAPI BenchMode = "worker-api"
	// BenchWorkerBusy: the worker loop while a goroutine spins on the
	// control core without allocating or talking to the worker: the
	// control for what a busy neighbouring core alone costs.
	BenchWorkerBusy BenchMode = "worker-busy"
	// BenchWorkerManager: the worker loop while the weight loop (the
	// patent's manager, control/weights) runs every benchManagerInterval,
	// 20 times vecd's default pace: a counter request to the worker and a
	// weight computation each time, and new weights applied whenever they
	// change enough.
	BenchWorkerManager BenchMode = "worker-manager"
	// BenchInstallIdle: installing rebuilt connection entries through the
	// mailboxes of workers that have no traffic and poll the way vecd's
	// workers do by default (idle-adaptive; see benchinstall.go).
	BenchInstallIdle BenchMode = "install-idle"
	// BenchInstallBusy: the same with busy-polling workers.
	BenchInstallBusy BenchMode = "install-busy"
	// BenchInstallFwd: the same while the workers forward the worker
	// benchmark's flows, with the packet rate before, during and after.
	BenchInstallFwd BenchMode = "install-fwd"
)

// BenchOptions configure RunBenchmark.
type BenchOptions struct {
	Mode        BenchMode
	Flows       int // live flows (worker and rewrite modes)
	Duration    time.Duration
	ControlCore int
	WorkerCore  int
	// APIRate is the control requests per second of BenchWorkerAPI (0:
	// as fast as one goroutine can send them).
	APIRate int
	// WorkerCores are the install modes' workers, worker i polling queue
	// i; empty means WorkerCore alone. The other modes use WorkerCore.
	WorkerCores []int
	// InstallEntries is how many rebuilt entries the install modes
	// install, InstallChunk how many go in one mailbox request.
	InstallEntries int
	InstallChunk   int
}

// workerCores returns the cores of the measured loops.
func (o BenchOptions) workerCores() []int {
	if len(o.WorkerCores) > 0 && isInstallMode(o.Mode) {
		return o.WorkerCores
	}
	return []int{o.WorkerCore}
}

// tableCapacity is the connection table capacity of each worker.
func (o BenchOptions) tableCapacity() int {
	switch o.Mode {
	case BenchInstallIdle, BenchInstallBusy:
		return max(o.InstallEntries, 1)
	case BenchInstallFwd:
		return o.Flows + o.InstallEntries
	}
	return max(o.Flows, 1)
}

// BenchResult is one measurement.
type BenchResult struct {
	Mode     BenchMode `json:"mode"`
	Flows    int       `json:"flows"`
	Packets  uint64    `json:"packets"`
	Seconds  float64   `json:"seconds"`
	Mpps     float64   `json:"mpps"`
	Dropped  uint64    `json:"dropped"`  // packets the fastpath dropped while measured
	Entries  uint64    `json:"entries"`  // live connection entries at the end
	Hugepage bool      `json:"hugepage"` // the table lived in hugepage memory

	// While measured: control requests served (BenchWorkerAPI), their
	// rate, what the process allocated per second, and GC cycles.
	APIRequests uint64  `json:"api_requests,omitempty"`
	APIPerSec   float64 `json:"api_per_s,omitempty"`
	AllocMBps   float64 `json:"alloc_mb_per_s"`
	GCCycles    uint32  `json:"gc_cycles"`

	// Install is what the install modes measured; there Packets,
	// Seconds and Mpps cover the install window (packets only with
	// traffic), AllocMBps and GCCycles too.
	Install *InstallReport `json:"install,omitempty"`

	// PollIteration is the worker loop's iteration times while measured
	// (worker modes).
	PollIteration *PollIterationReport `json:"poll_iteration,omitempty"`
}

// benchFeed writes fresh packets into received buffers, the NIC's job: a
// SYN for each of the flows first (so they are all live), then data
// segments of flows taken in a random order.
type benchFeed struct {
	gatewayMAC [6]byte
	order      []uint32 // flow numbers in the order they send data
	next       int
	sent       uint64
	warmFlows  uint64 // SYNs to send before data
	warmDone   time.Time
	warmSent   uint64
	warm       atomic.Bool // set once the SYNs have been handed to the fastpath
	// atWarm, when set, runs on the worker just before warm is set.
	atWarm func()
}

func (f *benchFeed) prepare(pkts [][]byte) {
	for _, p := range pkts {
		var flow uint32
		flags := uint8(pktbuild.ACK)
		if f.sent < f.warmFlows {
			flow, flags = uint32(f.sent), pktbuild.SYN
		} else {
			flow = f.order[f.next]
			if f.next++; f.next == len(f.order) {
				f.next = 0
			}
		}
		eth := header.Ethernet(p)
		eth.SetDestination(f.gatewayMAC[:])
		ip := header.IPv4(eth.Payload())
		ip.SetSource(0x0a800000 | flow>>16) // client 10.128.x.y
		tcp := header.TCP(ip[header.IPv4MinHeaderLen:])
		tcp.SetSourcePort(uint16(flow))
		tcp.SetFlags(flags)
		if f.sent++; f.sent == f.warmFlows {
			f.warmDone, f.warmSent = time.Now(), f.sent
			if f.atWarm != nil {
				f.atWarm()
			}
			f.warm.Store(true)
		}
	}
}

// RunBenchmark measures one mode for opts.Duration on a net_null port and
// returns the packet rate. It initialises and cleans up the EAL itself, so
// it must be called from the main goroutine, once per process.
func RunBenchmark(opts BenchOptions) (BenchResult, error) {
	res := BenchResult{Mode: opts.Mode, Flows: opts.Flows}
	if err := checkHugepages(opts); err != nil {
		return res, err
	}
	args := []string{"vec-bench", "-l", strconv.Itoa(opts.ControlCore), "--in-memory", "--no-pci", "--vdev=net_null0,size=64"}
	if err := dpdk.Init(args); err != nil {
		return res, fmt.Errorf("initialising DPDK (needs root and hugepages, see scripts/setup.sh): %w", err)
	}
	defer dpdk.Cleanup()
	// As in vecd: every thread but the measured loops' stays off their cores.
	cores := opts.workerCores()
	if err := keepControlOffWorkers(config.Runtime{WorkerCores: cores, ControlCore: opts.ControlCore}); err != nil {
		return res, err
	}
	pool, err := dpdk.NewPktMempool("bench_mbufs", benchPoolSize, 256, mbufDataRoom, -1)
	if err != nil {
		return res, err
	}
	defer pool.Free()
	id, err := dpdk.PortByName("net_null0")
	if err != nil {
		return res, err
	}
	queues := uint16(len(cores))
	port, err := dpdk.OpenPort(id, dpdk.PortConfig{Mempool: pool, RxQueues: queues, TxQueues: queues})
	if err != nil {
		return res, err
	}
	defer port.Close()
	template := pktbuild.TCP(pktbuild.Flow{
		SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC{2, 0, 0, 0, 0, 1},
		SrcIP: netip.MustParseAddr("10.128.0.1"), DstIP: netip.MustParseAddr("10.10.0.100"),
		SrcPort: 1, DstPort: 80,
	}, pktbuild.ACK, 1, 1, nil)
	template = append(template, make([]byte, 64-len(template))...)
	if err := fillPool(pool, template); err != nil {
		return res, err
	}
	if err := port.Start(); err != nil {
		return res, err
	}
	defer port.Stop()

	switch opts.Mode {
	case BenchPlain, BenchRewrite:
		return runLoopBenchmark(opts, port.ID, res)
	case BenchWorker, BenchWorkerAPI, BenchWorkerBusy, BenchWorkerManager:
		return runWorkerBenchmark(opts, port.ID, res)
	case BenchInstallIdle, BenchInstallBusy, BenchInstallFwd:
		return runInstallBenchmark(opts, port, res)
	}
	return res, fmt.Errorf("unknown benchmark mode %q", opts.Mode)
}

// benchPoolSize is the number of packet buffers of the benchmarks' pool.
const benchPoolSize = 8191

// fillPool writes template into every buffer of the pool, so net_null,
// which hands out buffers without writing them, delivers that frame.
func fillPool(pool *dpdk.Mempool, template []byte) error {
	var bursts []*dpdk.Burst
	defer func() {
		for _, b := range bursts {
			b.Free() // frees the held buffers back to the pool, then the burst
		}
	}()
	for pool.Available() > 0 {
		b, err := dpdk.NewBurst(32)
		if err != nil {
			return err
		}
		bursts = append(bursts, b)
		if err := b.Alloc(pool, min(32, pool.Available()), len(template)); err != nil {
			return err
		}
		for _, p := range b.Packets() {
			copy(p, template)
		}
	}
	return nil
}

func newBenchFeed(flows int, warm bool) *benchFeed {
	f := &benchFeed{gatewayMAC: [6]byte{2, 0, 0, 0, 0, 1}, order: make([]uint32, flows)}
	for i := range f.order {
		f.order[i] = uint32(i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(flows, func(i, j int) { f.order[i], f.order[j] = f.order[j], f.order[i] })
	if warm {
		f.warmFlows = uint64(flows)
	}
	return f
}

// runLoopBenchmark is a bare rx → tx loop on a registered, pinned thread,
// optionally rewriting each packet like the worker benchmark's feed.
func runLoopBenchmark(opts BenchOptions, port uint16, res BenchResult) (BenchResult, error) {
	type outcome struct {
		packets uint64
		elapsed time.Duration
		err     error
	}
	done := make(chan outcome)
	go func() {
		runtime.LockOSThread()
		unregister, err := dpdk.RegisterWorkerThread(opts.WorkerCore)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		defer unregister()
		burst, err := dpdk.NewBurst(burstSize)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		defer burst.Free()
		var feed *benchFeed
		if opts.Mode == BenchRewrite {
			feed = newBenchFeed(opts.Flows, false)
		}
		var packets uint64
		start := time.Now()
		deadline := start.Add(opts.Duration)
		for i := 0; ; i++ {
			burst.Rx(port, 0)
			if feed != nil {
				feed.prepare(burst.Packets())
			}
			packets += uint64(burst.SendAll(port, 0))
			if i&1023 == 0 && time.Now().After(deadline) {
				break
			}
		}
		done <- outcome{packets: packets, elapsed: time.Since(start)}
	}()
	o := <-done
	if o.err != nil {
		return res, o.err
	}
	res.Packets, res.Seconds = o.packets, o.elapsed.Seconds()
	res.Mpps = float64(o.packets) / o.elapsed.Seconds() / 1e6
	return res, nil
}

// runWorkerBenchmark runs the gateway's own worker loop, with the feed
// standing in for the NIC, and measures from the moment every flow is live.
//
// Both worker modes build the snapshot through the control plane's manager
// and give the worker a mailbox, so they differ only in the control load.
func runWorkerBenchmark(opts BenchOptions, port uint16, res BenchResult) (BenchResult, error) {
	ctl, err := newBenchControl(opts)
	if err != nil {
		return res, err
	}
	defer ctl.close()
	snap, err := ctl.m.Initial([6]byte{2, 0, 0, 0, 0, 1})
	if err != nil {
		return res, err
	}
	slots, free, err := dpdk.AllocSlice[fastpath.Entry]("bench_table", fastpath.TableSlots(opts.Flows), -1)
	if err != nil {
		return res, err
	}
	defer free()
	res.Hugepage = true
	table, err := fastpath.NewTable(slots, rand.Uint64())
	if err != nil {
		return res, err
	}
	core, err := fastpath.NewCore(snap, table, fastpath.NewMonotonicClock(), 0)
	if err != nil {
		return res, err
	}
	burst, err := dpdk.NewBurst(burstSize)
	if err != nil {
		return res, err
	}
	defer burst.Free()
	feed := newBenchFeed(opts.Flows, true)
	mb, err := newMailbox("bench_mailbox")
	if err != nil {
		return res, err
	}
	defer mb.ring.Free()
	w := &worker{cpu: opts.WorkerCore, ports: []uint16{port}, maxFrame: []uint32{uint32(dpdk.MaxFrameLen(0))}, core: core, burst: burst, prepare: feed.prepare, mailbox: mb}
	polls := w.timeWindow(feed)
	started, done := make(chan error, 1), make(chan struct{})
	go w.run(started, done)
	if err := <-started; err != nil {
		return res, err
	}
	ctl.m.Attach(&Gateway{log: ctl.log, workers: []*worker{w}})
	// Wait for the warm-up SYNs to go through, then measure.
	for warmLimit := time.Now().Add(time.Minute); !feed.warm.Load() && time.Now().Before(warmLimit); {
		time.Sleep(10 * time.Millisecond)
	}
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	var load *controlLoad
	if feed.warm.Load() {
		if err := polls.begin(); err != nil {
			w.stop.Store(true)
			<-done
			return res, err
		}
		switch opts.Mode {
		case BenchWorkerAPI:
			load = ctl.start(opts.APIRate)
		case BenchWorkerBusy:
			load = ctl.spin()
		case BenchWorkerManager:
			load = ctl.runManager()
		}
		time.Sleep(opts.Duration)
	}
	if load != nil {
		res.APIRequests = load.stop()
		if opts.Mode == BenchWorkerBusy {
			res.APIRequests = 0
		}
	}
	sched, schedErr := readThreadSched(polls.tid)
	gc := gcPauses()
	w.stop.Store(true)
	<-done
	end := time.Now()
	runtime.ReadMemStats(&mem1)
	if load != nil && load.err != nil {
		return res, fmt.Errorf("control load: %w", load.err)
	}
	if schedErr != nil && feed.warm.Load() {
		return res, schedErr
	}
	if !feed.warm.Load() {
		return res, fmt.Errorf("warm-up did not finish within a minute: %d of %d SYNs sent", feed.sent, opts.Flows)
	}
	if table.Len() != opts.Flows {
		return res, fmt.Errorf("after warm-up the table holds %d entries, want %d", table.Len(), opts.Flows)
	}
	c := &core.Counters
	res.Packets = c.RX - feed.warmSent
	res.Seconds = end.Sub(feed.warmDone).Seconds()
	res.Mpps = float64(res.Packets) / res.Seconds / 1e6
	res.Dropped = c.TotalDrops()
	res.Entries = c.Entries
	res.APIPerSec = float64(res.APIRequests) / res.Seconds
	res.AllocMBps = float64(mem1.TotalAlloc-mem0.TotalAlloc) / res.Seconds / 1e6
	res.GCCycles = mem1.NumGC - mem0.NumGC
	res.PollIteration = polls.report(&w.polls.hist, sched, gc)
	return res, nil
}
