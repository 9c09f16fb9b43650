package netnullbench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"vec/dpdk"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/gateway"
	"vec/internal/benchfmt"
)

// Benchmark modes.
const (
	// Plain: rx → tx, packets untouched: the cost of DPDK from Go.
	Plain benchfmt.Mode = "plain"
	// Rewrite: rx → write a fresh flow tuple into each packet → tx: the
	// part of the worker benchmark that stands in for the NIC.
	Rewrite benchfmt.Mode = "rewrite"
	// Worker: vecd's worker loop (fastpath included) over live flows.
	Worker benchfmt.Mode = "worker"
	// WorkerAPI: the worker loop while the control plane serves a steady
	// load of control API and /metrics requests in the same process (see
	// controlLoad), to measure what the control plane's allocations cost
	// the poll loop.
	WorkerAPI benchfmt.Mode = "worker-api"
	// WorkerBusy: the worker loop while a goroutine spins on the control
	// core without allocating or talking to the worker: the control for
	// what a busy neighbouring core alone costs.
	WorkerBusy benchfmt.Mode = "worker-busy"
	// WorkerManager: the worker loop while the weight loop (the patent's
	// manager, control/weights) runs every managerInterval, 20 times
	// vecd's default pace: a counter request to the worker and a weight
	// computation each time, and new weights applied whenever they change
	// enough.
	WorkerManager benchfmt.Mode = "worker-manager"
	// WorkerIPIP and WorkerGUE: the worker loop with the service
	// encapsulating its packets (docs/encapsulation.md) instead of
	// rewriting their MACs.
	WorkerIPIP benchfmt.Mode = "worker-ipip"
	WorkerGUE  benchfmt.Mode = "worker-gue"
	// Workers: a worker loop on each of Options.WorkerCores, loop i on
	// queue i of the port, each with its own table and Flows flows of its
	// own; the packet rate of all together (scaling across cores).
	Workers benchfmt.Mode = "workers"
	// NewConns: one worker loop fed only SYNs, each of a flow never seen
	// before, into a table of Flows entries: new connections per second.
	NewConns benchfmt.Mode = "syn"
	// InstallIdle: installing rebuilt connection entries through the
	// mailboxes of workers that have no traffic and poll the way vecd's
	// workers do by default (idle-adaptive; see install.go).
	InstallIdle benchfmt.Mode = "install-idle"
	// InstallBusy: the same with busy-polling workers.
	InstallBusy benchfmt.Mode = "install-busy"
	// InstallFwd: the same while the workers forward the worker
	// benchmark's flows, with the packet rate before, during and after.
	InstallFwd benchfmt.Mode = "install-fwd"
)

// Options configure RunBenchmark.
type Options struct {
	Mode        benchfmt.Mode
	Flows       int // live flows per worker; NewConns: the table's capacity
	Duration    time.Duration
	ControlCore int
	WorkerCore  int
	// APIRate is the control requests per second of WorkerAPI (0: as
	// fast as one goroutine can send them).
	APIRate int
	// WorkerCores are the loops of the Workers and install modes, loop i
	// polling queue i; empty means WorkerCore alone. The other modes use
	// WorkerCore.
	WorkerCores []int
	// InstallEntries is how many rebuilt entries the install modes
	// install, InstallChunk how many go in one mailbox request.
	InstallEntries int
	InstallChunk   int
}

// workerCores returns the cores of the measured loops.
func (o Options) workerCores() []int {
	if len(o.WorkerCores) > 0 && (o.Mode == Workers || isInstallMode(o.Mode)) {
		return o.WorkerCores
	}
	return []int{o.WorkerCore}
}

// tableCapacity is the connection table capacity of each worker.
func (o Options) tableCapacity() int {
	switch o.Mode {
	case InstallIdle, InstallBusy:
		return max(o.InstallEntries, 1)
	case InstallFwd:
		return o.Flows + o.InstallEntries
	}
	return max(o.Flows, 1)
}

// RunBenchmark measures one mode for opts.Duration on a net_null port and
// returns the packet rate. It initialises and cleans up the EAL itself, so
// it must be called from the main goroutine, once per process.
func RunBenchmark(opts Options) (benchfmt.Result, error) {
	res := benchfmt.Result{Mode: opts.Mode, Flows: opts.Flows}
	if err := checkHugepages(opts); err != nil {
		return res, err
	}
	args := []string{"vec-bench", "-l", strconv.Itoa(opts.ControlCore), "--in-memory", "--no-pci", "--vdev=" + vdev + ",size=64"}
	if err := dpdk.Init(args); err != nil {
		return res, fmt.Errorf("initialising DPDK (needs root and hugepages, see scripts/setup.sh): %w", err)
	}
	defer dpdk.Cleanup()
	// As in vecd: every thread but the measured loops' stays off their cores.
	cores := opts.workerCores()
	if err := gateway.KeepControlOffWorkers(opts.ControlCore, cores); err != nil {
		return res, err
	}
	nn, err := openNetNull(len(cores))
	if err != nil {
		return res, err
	}
	defer nn.close()
	switch opts.Mode {
	case Plain, Rewrite:
		return runLoopBenchmark(opts, nn.port.ID, res)
	case Worker, WorkerAPI, WorkerBusy, WorkerManager, WorkerIPIP, WorkerGUE:
		return runWorkerBenchmark(opts, nn, res)
	case Workers:
		return runWorkersBenchmark(opts, nn, res)
	case NewConns:
		return runNewConnsBenchmark(opts, nn, res)
	case InstallIdle, InstallBusy, InstallFwd:
		return runInstallBenchmark(opts, nn, res)
	}
	return res, fmt.Errorf("unknown benchmark mode %q", opts.Mode)
}

// vdev is the benchmarks' port.
const vdev = "net_null0"

// Packet buffers: the pool's size and its buffers' data room, which holds
// a 1500-byte MTU frame with its VLAN tag plus DPDK's headroom, as vecd's.
const (
	poolSize     = 8191
	mbufDataRoom = 2048 + 128
)

// burstSize is the plain loops' burst, the worker's.
const burstSize = 32

// gatewayMAC is the benchmarks' gateway MAC, the feed's destination.
var gatewayMAC = [6]byte{2, 0, 0, 0, 0, 1}

// netNull is the port of a benchmark, started, with its packet pool:
// every buffer holds a 64-byte TCP segment to the benchmark's VIP.
type netNull struct {
	pool *dpdk.Mempool
	port *dpdk.Port
}

// openNetNull opens vdev with queues RX and TX queues.
func openNetNull(queues int) (_ *netNull, err error) {
	nn := &netNull{}
	defer func() {
		if err != nil {
			nn.close()
		}
	}()
	if nn.pool, err = dpdk.NewPktMempool("bench_mbufs", poolSize, 256, mbufDataRoom, -1); err != nil {
		return nn, err
	}
	id, err := dpdk.PortByName(vdev)
	if err != nil {
		return nn, err
	}
	port, err := dpdk.OpenPort(id, dpdk.PortConfig{Mempool: nn.pool, RxQueues: uint16(queues), TxQueues: uint16(queues)})
	if err != nil {
		return nn, err
	}
	nn.port = port
	template := pktbuild.TCP(pktbuild.Flow{
		SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(gatewayMAC),
		SrcIP: netip.MustParseAddr("10.128.0.1"), DstIP: benchVIP.Addr(),
		SrcPort: 1, DstPort: benchVIP.Port(),
	}, pktbuild.ACK, 1, 1, nil)
	template = append(template, make([]byte, 64-len(template))...)
	if err := fillPool(nn.pool, template); err != nil {
		return nn, err
	}
	return nn, port.Start()
}

// close stops and closes the port and frees the pool.
func (nn *netNull) close() {
	if nn.port != nil {
		nn.port.Stop()
		nn.port.Close()
	}
	if nn.pool != nil {
		nn.pool.Free()
	}
}

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

// feed writes fresh packets into received buffers, the NIC's job: a SYN
// for each of the flows first (so they are all live), then data segments
// of flows taken in a random order; or, with synOnly, nothing but SYNs,
// each of a flow not seen before. Flow f is client address client|f>>16,
// port f&0xffff.
type feed struct {
	client    uint32
	synOnly   bool
	order     []uint32 // flow numbers in the order they send data
	next      int
	sent      uint64
	warmFlows uint64 // SYNs to send before data
	warmDone  time.Time
	warmSent  uint64
	warm      atomic.Bool // set once the SYNs have been handed to the fastpath
	// atWarm, when set, runs on the worker just before warm is set.
	atWarm func()
}

// clientNet is the feeds' client addresses, 10.128.0.0/9; loop i's feed
// uses 10.128+16i.0.0 on, so the loops' flows differ (up to 2^20 each).
const clientNet = 0x0a800000

// newFeed makes the feed of loop i (data flows, warmed up with a SYN each
// when warm is set).
func newFeed(i, flows int, warm bool) *feed {
	f := &feed{client: clientNet + uint32(i)<<20, order: make([]uint32, flows)}
	for i := range f.order {
		f.order[i] = uint32(i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(flows, func(i, j int) { f.order[i], f.order[j] = f.order[j], f.order[i] })
	if warm {
		f.warmFlows = uint64(flows)
	}
	return f
}

// Where the feed writes, in the untagged IPv4/TCP frame of fillPool's
// template: the fields that make each packet its flow's.
const (
	feedSrcIP    = header.UntaggedIPv4Offset + header.IPv4SrcAddrOffset
	feedSrcPort  = header.UntaggedL4Offset + header.TCPSrcPortOffset
	feedTCPFlags = header.UntaggedL4Offset + header.TCPFlagsOffset
	feedLen      = header.UntaggedL4Offset + header.TCPMinHeaderLen
)

// write makes each of pkts (frames of at least feedLen bytes, as fillPool
// wrote them) its next packet. The fields are written at fixed offsets
// through one array pointer a frame, as a NIC's DMA would cost the CPU
// nothing: the feed is the benchmark's, not vecd's, work.
func (f *feed) write(pkts [][]byte) {
	be := binary.BigEndian
	mac := header.MACUint64(gatewayMAC[:])
	for _, p := range pkts {
		var flow uint32
		flags := uint8(pktbuild.ACK)
		switch {
		case f.synOnly, f.sent < f.warmFlows:
			flow, flags = uint32(f.sent), pktbuild.SYN
		default:
			flow = f.order[f.next]
			if f.next++; f.next == len(f.order) {
				f.next = 0
			}
		}
		b := (*[feedLen]byte)(p)
		header.PutMACUint64(b[header.EthernetDstOffset:header.EthernetSrcOffset], mac)
		// An encapsulated packet's outer IPv4 header was written over the
		// buffer's EtherType: net_null hands the buffer back as it was.
		be.PutUint16(b[header.EthernetTypeOffset:], header.EtherTypeIPv4)
		be.PutUint32(b[feedSrcIP:], f.client|flow>>16)
		be.PutUint16(b[feedSrcPort:], uint16(flow))
		b[feedTCPFlags] = flags
		if f.sent++; f.sent == f.warmFlows {
			f.warmDone, f.warmSent = time.Now(), f.sent
			if f.atWarm != nil {
				f.atWarm()
			}
			f.warm.Store(true)
		}
	}
}

// runLoopBenchmark is a bare rx → tx loop on a registered, pinned thread,
// optionally rewriting each packet like the worker benchmark's feed.
func runLoopBenchmark(opts Options, port uint16, res benchfmt.Result) (benchfmt.Result, error) {
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
		var fd *feed
		if opts.Mode == Rewrite {
			fd = newFeed(0, opts.Flows, false)
		}
		var packets uint64
		start := time.Now()
		deadline := start.Add(opts.Duration)
		for i := 0; ; i++ {
			burst.Rx(port, 0)
			if fd != nil {
				fd.write(burst.Packets())
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

// tableBytes is one worker's connection table in bytes.
func tableBytes(opts Options) uint64 {
	return uint64(fastpath.TableSlots(opts.tableCapacity())) * uint64(reflect.TypeFor[fastpath.Entry]().Size())
}

// checkHugepages fails with a clear message when the free hugepages cannot
// hold what the benchmark allocates: a connection table per worker (the
// worker modes), the packet pool, and some room for EAL's own structures.
func checkHugepages(opts Options) error {
	const ealRoom = 64 << 20
	need := uint64(poolSize)*(mbufDataRoom+256) + ealRoom
	if opts.Mode != Plain && opts.Mode != Rewrite {
		need += uint64(len(opts.workerCores())) * tableBytes(opts)
	}
	free, pageSize, err := freeHugepages()
	if err != nil {
		return fmt.Errorf("hugepages: %w", err)
	}
	if have := free * pageSize; have < need {
		return fmt.Errorf("hugepages: the %s benchmark needs about %d MiB of free hugepage memory, there are %d free pages of %d kB (%d MiB): "+
			"reserve more (scripts/setup.sh, or /sys/kernel/mm/hugepages/*/nr_hugepages) or measure fewer flows or entries",
			opts.Mode, need>>20, free, pageSize>>10, have>>20)
	}
	return nil
}

// freeHugepages reads the free hugepages and their size in bytes from
// /proc/meminfo.
func freeHugepages() (free, pageSize uint64, err error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	var haveFree, haveSize bool
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch name {
		case "HugePages_Free":
			free, err = strconv.ParseUint(fields[0], 10, 64)
			haveFree = err == nil
		case "Hugepagesize":
			pageSize, err = strconv.ParseUint(fields[0], 10, 64)
			pageSize <<= 10 // kB
			haveSize = err == nil
		}
	}
	if !haveFree || !haveSize {
		return 0, 0, errors.New("/proc/meminfo gives no HugePages_Free or Hugepagesize: no hugepage support")
	}
	return free, pageSize, nil
}
