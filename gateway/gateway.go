package gateway

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"

	"vec/dpdk"
	"vec/fastpath"
	"vec/internal/limits"
)

// mbufDataRoom holds a 1500-byte MTU frame with its VLAN tag plus DPDK's
// headroom: dataRoomFor(limits.DefaultMTU), for the benchmarks.
const mbufDataRoom = 2048 + 128

// dataRoomFor is the mbuf data room for ports of MTUs up to mtu: the
// longest frame (MTU, Ethernet header) with a VLAN tag and at least 64
// bytes to spare, rounded up to a whole KiB, plus DPDK's headroom. Every frame
// fits one mbuf: vecd never enables scattered receive. The spare bytes are
// for devices that ask for a little more room than a frame (net_af_packet
// wants its whole ring frame, framesz − 32 bytes).
func dataRoomFor(mtu int) uint16 {
	return uint16((dpdk.MaxFrameLen(uint16(mtu))+dpdk.VLANTagLen+64+1023)/1024*1024 + dpdk.Headroom)
}

// mempoolCache is the per-core cache of the packet-buffer pool.
const mempoolCache = 256

// mempoolNeed is the fewest packet buffers the gateway can run with: every
// descriptor of every worker's queues may hold one (descriptors: the RX
// and TX ring sizes of one queue on each port, summed), each core's cache
// may hold mempoolCache, and each worker holds a received burst and the
// ARP burst it builds.
func mempoolNeed(descriptors, workers int) int {
	return workers*descriptors + (workers+1)*mempoolCache + 2*workers*burstSize
}

// afXDPRxDescriptors is the default RX ring of a net_af_xdp queue. The
// kernel fills it from the interface and drops what does not fit, so it
// must hold what arrives while the worker is away: with DefaultDescriptors
// a worker sharing its core (the namespace cluster on two cores) lost
// frames of a TCP upload, which then backed off; 4096 is ~12 ms at
// 4 Gbit/s.
const afXDPRxDescriptors = 4096

// rings returns the RX and TX ring sizes of each queue of port i: those
// of its PortOptions, or where they are zero the driver's default:
// afXDPRxDescriptors for RX on net_af_xdp, dpdk.DefaultDescriptors
// otherwise.
func (o *Options) rings(i int) (rx, tx int) {
	rx, tx = dpdk.DefaultDescriptors, dpdk.DefaultDescriptors
	if strings.HasPrefix(o.Ports[i], afXDP) {
		rx = afXDPRxDescriptors
	}
	if i < len(o.PortOptions) {
		if n := o.PortOptions[i].RxDescriptors; n != 0 {
			rx = n
		}
		if n := o.PortOptions[i].TxDescriptors; n != 0 {
			tx = n
		}
	}
	return rx, tx
}

// checkRings refuses ring sizes outside
// limits.MinDescriptors..limits.MaxDescriptors or not a power of two
// (vecd's configuration checks the same; Options built by hand, as
// vec-bench's, meet it here), naming the port.
func (g *Gateway) checkRings() error {
	for i, dev := range g.rt.Ports {
		if i >= len(g.rt.PortOptions) {
			break
		}
		o := g.rt.PortOptions[i]
		for _, r := range []struct {
			what string
			n    int
		}{{"RX", o.RxDescriptors}, {"TX", o.TxDescriptors}} {
			if r.n != 0 && (r.n < limits.MinDescriptors || r.n > limits.MaxDescriptors || r.n&(r.n-1) != 0) {
				return fmt.Errorf("port %q: %s ring of %d descriptors: not a power of two in %d..%d",
					dev, r.what, r.n, limits.MinDescriptors, limits.MaxDescriptors)
			}
		}
	}
	return nil
}

// checkMempool refuses a pool too small for the ports' rings and the
// workers, naming the numbers and each port's rings.
func (g *Gateway) checkMempool() error {
	rt := g.rt
	descriptors := 0 // of one queue on each port
	var rings []string
	for i, dev := range rt.Ports {
		rx, tx := rt.rings(i)
		descriptors += rx + tx
		rings = append(rings, fmt.Sprintf("%s: %d RX + %d TX", dev, rx, tx))
	}
	workers := len(rt.WorkerCores)
	if need := mempoolNeed(descriptors, workers); rt.MempoolSize < need {
		return fmt.Errorf("dpdk.mempool_size %d is too small: %d workers × %d descriptors of one queue on each of %d ports (%s) + %d per-core caches of %d + %d bursts of %d need %d packet buffers; raise dpdk.mempool_size or lower the ports' rx_descriptors/tx_descriptors",
			rt.MempoolSize, workers, descriptors, len(rt.Ports), strings.Join(rings, "; "),
			workers+1, mempoolCache, 2*workers, burstSize, need)
	}
	return nil
}

// checkRingsTaken refuses ring sizes the operator set that the device did
// not take as they were (rx, tx: the rings it set up): DPDK fits them to
// the device's limits silently, and a configured ring must be the ring
// that runs.
func checkRingsTaken(opts PortOptions, driver string, rx, tx int) error {
	if opts.RxDescriptors != 0 && rx != opts.RxDescriptors {
		return fmt.Errorf("rx_descriptors %d: the device (%s) takes %d here; configure that or less",
			opts.RxDescriptors, driver, rx)
	}
	if opts.TxDescriptors != 0 && tx != opts.TxDescriptors {
		return fmt.Errorf("tx_descriptors %d: the device (%s) takes %d here; configure that or less",
			opts.TxDescriptors, driver, tx)
	}
	return nil
}

// Gateway is a running vec gateway: everything it brings up, in the order
// it is torn down again.
type Gateway struct {
	log       *zap.Logger
	rt        Options
	clock     fastpath.Clock // shared by the workers and the control plane
	neighbors *fastpath.Neighbors
	portMAC   [6]byte
	// rss hashes with the first port's RSS key when several workers share
	// the ports' queues (WorkerFor); nil otherwise.
	rss *dpdk.RSSTable
	// mode is the fastpath.Mode the workers start in and were last
	// switched to (SetMode).
	mode atomic.Uint32

	ealUp   bool
	pool    *dpdk.Mempool
	ports   []*dpdk.Port
	workers []*worker
	done    []chan struct{}
	frees   []func()

	// watch samples the workers' loops and the ports' links (liveness.go).
	watch watchdog
	// stuck are the workers that did not stop when asked: Close must not
	// free what they still use.
	stuck []int
	// feed, when set (by tests before Start, by NewLoops), gives worker i
	// the hook that sees each burst it receives (worker.feed).
	feed func(i int) func(pkts [][]byte)
}

// ealArgs builds the EAL command line: only the control core is given to
// EAL (workers are registered goroutine threads, not EAL lcores), memory is
// in-process so threads can be registered, then the virtual devices and the
// operator's extra arguments.
func ealArgs(rt Options) []string {
	args := []string{"vecd", "-l", strconv.Itoa(rt.ControlCore)}
	if !slices.Contains(rt.EALArgs, "--in-memory") {
		args = append(args, "--in-memory")
	}
	for _, v := range rt.VDevs {
		args = append(args, "--vdev="+v)
	}
	return append(args, rt.EALArgs...)
}

// New prepares a gateway for validated run-time settings; Start brings it
// up.
func New(log *zap.Logger, rt Options) *Gateway {
	if rt.MempoolSize == 0 {
		rt.MempoolSize = limits.DefaultMempoolSize
	}
	return &Gateway{log: log, rt: rt, clock: fastpath.NewMonotonicClock(),
		neighbors: fastpath.NewNeighbors(limits.MaxServers),
		watch:     watchdog{stallAfter: DefaultStallThreshold, stopTimeout: DefaultStopTimeout}}
}

// StartIn sets the mode the workers start in (before Start): ModeStandby
// for a gateway that must not forward until its HA role says so,
// ModeRecovering for one that rebuilds its table from the agents first.
func (g *Gateway) StartIn(mode fastpath.Mode) { g.mode.Store(uint32(mode)) }

// Neighbors is the table of server MACs learned by ARP that every
// snapshot must use.
func (g *Gateway) Neighbors() *fastpath.Neighbors { return g.neighbors }

// Clock is the workers' clock: connection entries' times are in it.
func (g *Gateway) Clock() fastpath.Clock { return g.clock }

// Start brings the gateway up: EAL, mempool, ports, one worker per core.
// initial builds the first snapshot once the first port's MAC is known.
// On error, Stop and Close release whatever was already started.
func (g *Gateway) Start(initial func(portMAC [6]byte) (*fastpath.Snapshot, error)) error {
	rt := g.rt
	args := ealArgs(rt)
	g.log.Info("initialising DPDK", zap.Strings("eal_args", args))
	if err := detachStaleXDP(rt.VDevs); err != nil {
		return err
	}
	if err := dpdk.Init(args); err != nil {
		return err
	}
	g.ealUp = true
	if err := keepControlOffWorkers(rt); err != nil {
		return err
	}
	if rt.ControlSharesWorkerCore {
		g.log.Warn("a worker polls on the control core: the control plane gets only what that poll loop leaves over",
			zap.Int("control_core", rt.ControlCore))
	}
	if err := g.checkRings(); err != nil {
		return err
	}
	if err := g.checkMempool(); err != nil {
		return err
	}
	pool, err := dpdk.NewPktMempool("vec_mbufs", uint32(rt.MempoolSize), mempoolCache, dataRoomFor(rt.MaxPortMTU()), -1)
	if err != nil {
		return err
	}
	g.pool = pool
	if err := g.openPorts(); err != nil {
		return err
	}
	if g.portMAC, err = g.ports[0].MAC(); err != nil {
		return err
	}
	snap, err := initial(g.portMAC)
	if err != nil {
		return err
	}
	for _, p := range g.ports {
		if err := receiveFor(p, snap.GatewayMAC()); err != nil {
			return err
		}
		if err := p.Start(); err != nil {
			return err
		}
		g.log.Info("port up", zap.String("device", p.Name()), zap.String("driver", p.Driver()),
			zap.Int("queues", p.RxQueues()), zap.Bool("rss", p.RSSEnabled()), zap.Int("reta_period", p.RetaPeriod()),
			zap.Int("mtu", p.MTU()))
	}
	if len(rt.WorkerCores) > 1 && !g.ports[0].RSSEnabled() {
		g.log.Warn("the port spreads flows over the workers by itself (spread_by_device): connections rebuilt by recovery all go to the first worker",
			zap.String("device", g.ports[0].Name()))
	}
	if len(rt.WorkerCores) > 1 && g.ports[0].RSSEnabled() {
		key, _, err := g.ports[0].RSSHashConf()
		if err != nil {
			return fmt.Errorf("port %s: reading the RSS key for placing rebuilt connections: %w", g.ports[0].Name(), err)
		}
		g.rss = dpdk.NewRSSTable(key)
	}
	portIDs := make([]uint16, len(g.ports))
	maxFrames := make([]uint32, len(g.ports))
	for i, p := range g.ports {
		portIDs[i] = p.ID
		maxFrames[i] = uint32(p.MaxFrameLen())
	}
	for i, cpu := range rt.WorkerCores {
		w, err := g.newWorker(i, cpu, snap, portIDs, maxFrames)
		if err != nil {
			return err
		}
		started, done := make(chan error, 1), make(chan struct{})
		go w.run(started, done)
		if err := <-started; err != nil {
			return fmt.Errorf("worker on core %d: %w", cpu, err)
		}
		g.workers = append(g.workers, w)
		g.done = append(g.done, done)
		g.log.Info("worker polling", zap.Int("core", cpu), zap.Int("queue", i),
			zap.Int("table_capacity", rt.TableCapacity))
	}
	g.startWatch()
	g.log.Info("gateway running", zap.String("mac", fmtMAC(snap.GatewayMAC())))
	return nil
}

// openPorts opens every configured port with one RX and TX queue per
// worker and the port's MTU. With several workers, every RSS port gets
// the same redirection table period, the smallest table among them, so
// that a flow lands on the same worker whichever port it enters by and
// WorkerFor (recovery) can tell which.
func (g *Gateway) openPorts() error {
	rt := g.rt
	queues := uint16(len(rt.WorkerCores))
	ids := make([]uint16, len(rt.Ports))
	var period uint16
	for i, dev := range rt.Ports {
		id, err := dpdk.PortByName(dev)
		if err != nil {
			return fmt.Errorf("port %q: %w", dev, err)
		}
		ids[i] = id
		info, err := dpdk.GetDeviceInfo(id)
		if err != nil {
			return fmt.Errorf("port %q: %w", dev, err)
		}
		if info.RSSCapable() && (period == 0 || info.RetaSize < period) {
			period = info.RetaSize
		}
	}
	if queues > 1 && period&(period-1) != 0 {
		return fmt.Errorf("ports %v: an RSS redirection table of %d entries, not a power of two: which queue the device picks for a hash cannot be predicted",
			rt.Ports, period)
	}
	for i, dev := range rt.Ports {
		opts := PortOptions{MTU: limits.DefaultMTU}
		if i < len(rt.PortOptions) {
			opts = rt.PortOptions[i]
		}
		if opts.MTU < limits.MinMTU || opts.MTU > limits.MaxMTU {
			return fmt.Errorf("port %q: MTU %d is not in %d..%d", dev, opts.MTU, limits.MinMTU, limits.MaxMTU)
		}
		rx, tx := rt.rings(i)
		p, err := dpdk.OpenPort(ids[i], dpdk.PortConfig{RxQueues: queues, TxQueues: queues, Mempool: g.pool,
			RxDescriptors: uint16(rx), TxDescriptors: uint16(tx),
			MTU: uint16(opts.MTU), RetaPeriod: period, SpreadByDevice: opts.SpreadByDevice})
		if errors.Is(err, dpdk.ErrNoRSS) {
			return fmt.Errorf("port %q: %d workers: %w; run one worker, or, if the device keeps each flow on one queue by itself (net_af_packet with qpairs, net_pcap with one rx_pcap per queue), set ports[%d].spread_by_device",
				dev, queues, err, i)
		}
		if err != nil {
			return fmt.Errorf("port %q: %w", dev, err)
		}
		if err := checkRingsTaken(opts, p.Driver(), p.RxDescriptors(), p.TxDescriptors()); err != nil {
			p.Close()
			return fmt.Errorf("port %q (ports[%d]): %w", dev, i, err)
		}
		g.ports = append(g.ports, p)
	}
	return nil
}

// newWorker builds worker i: its connection table lives in hugepage memory.
func (g *Gateway) newWorker(i, cpu int, snap *fastpath.Snapshot, ports []uint16, maxFrames []uint32) (*worker, error) {
	slots, free, err := dpdk.AllocSlice[fastpath.Entry](fmt.Sprintf("vec_table_%d", i), fastpath.TableSlots(g.rt.TableCapacity), -1)
	if err != nil {
		return nil, fmt.Errorf("connection table for worker %d: %w", i, err)
	}
	g.frees = append(g.frees, free)
	table, err := fastpath.NewTable(slots, rand.Uint64())
	if err != nil {
		return nil, err
	}
	// The addresses of IPv6 entries, in hugepages beside the table: one
	// per slot.
	addrs6, freeAddrs6, err := dpdk.AllocSlice[fastpath.Addrs6](fmt.Sprintf("vec_addrs6_%d", i), len(slots), -1)
	if err != nil {
		return nil, fmt.Errorf("IPv6 addresses of worker %d's connection table: %w", i, err)
	}
	g.frees = append(g.frees, freeAddrs6)
	if err := table.EnableIPv6(addrs6); err != nil {
		return nil, err
	}
	coreClock := newIterationClock(g.clock)
	core, err := fastpath.NewCore(snap, table, coreClock, 0)
	if err != nil {
		return nil, err
	}
	core.SetMode(g.Mode())
	burst, err := dpdk.NewBurst(burstSize)
	if err != nil {
		return nil, err
	}
	g.frees = append(g.frees, burst.Free)
	mb, err := newMailbox(fmt.Sprintf("vec_mailbox_%d", i))
	if err != nil {
		return nil, err
	}
	g.frees = append(g.frees, mb.ring.Free)
	w := &worker{cpu: cpu, queue: uint16(i), ports: ports, maxFrame: maxFrames, core: core, coreClock: coreClock, burst: burst, mailbox: mb,
		stopWhenIdle: g.rt.RunUntilInputExhausted, busyPoll: g.rt.BusyPoll, idleSleep: g.rt.IdleSleep}
	if g.feed != nil {
		w.feed = g.feed(i)
	}
	if i == 0 {
		// The first worker sends the ARP requests for servers given by
		// IP alone (a later configuration may add such servers).
		if w.probe, err = dpdk.NewBurst(burstSize); err != nil {
			return nil, err
		}
		g.frees = append(g.frees, w.probe.Free)
		w.pool, w.clock = g.pool, g.clock
	}
	return w, nil
}

// receiveFor makes port p deliver the frames addressed to the gateway's
// MAC. That is the port's own MAC unless gateway.mac overrides it; only
// then does the port have to be promiscuous.
func receiveFor(p *dpdk.Port, gatewayMAC [6]byte) error {
	mac, err := p.MAC()
	if err != nil || mac == gatewayMAC {
		return err
	}
	if err := p.EnablePromiscuous(); err != nil {
		return fmt.Errorf("port %s: gateway.mac %s differs from the port's MAC %s, and the port cannot be made promiscuous: %w",
			p.Name(), fmtMAC(gatewayMAC), fmtMAC(mac), err)
	}
	return nil
}

// keepControlOffWorkers pins every thread of the process (the Go runtime's
// and the control plane's) to the cores that are not workers, so a worker
// core runs nothing but its poll loop. Worker threads pin themselves when
// they register. Threads Go starts later are spawned by its template thread,
// which is pinned here too, so they inherit the control cores.
//
// It also makes room in the scheduler: every worker's goroutine holds a P
// for good (it never blocks: its naps are raw system calls), so the
// control plane, the heartbeats and the garbage collector get Ps of their
// own, one per control core. Without them they would run only when the
// scheduler preempts a worker, every 10 ms: measured, a million-entry
// install took 2.5 s instead of 70 ms with two workers on two cores.
func keepControlOffWorkers(rt Options) error {
	cpus, err := dpdk.ThreadAffinity()
	if err != nil {
		return err
	}
	control := controlCores(cpus, rt)
	if procs := len(control) + len(rt.WorkerCores); runtime.GOMAXPROCS(0) < procs {
		runtime.GOMAXPROCS(procs)
	}
	return dpdk.SetProcessAffinity(control)
}

// controlCores are the CPUs (of those the process may use) for every
// thread but the workers': the ones no worker polls on; or, when
// workers.control_core is a worker's core (vecd warns about it), that core
// alone, as the configuration says; or the control core when the workers
// take every CPU. The sharing is read from the cores themselves, not from
// rt.ControlSharesWorkerCore, which only validated configurations set
// (vec-bench builds its Runtime by hand).
func controlCores(cpus []int, rt Options) []int {
	if slices.Contains(rt.WorkerCores, rt.ControlCore) {
		return []int{rt.ControlCore}
	}
	control := slices.DeleteFunc(slices.Clone(cpus), func(cpu int) bool { return slices.Contains(rt.WorkerCores, cpu) })
	if len(control) == 0 {
		control = []int{rt.ControlCore}
	}
	return control
}

// Stop asks every worker to finish its current iteration and waits for
// them, for DefaultStopTimeout at most: a worker stuck in its loop is
// logged and named in the error, and then Close releases nothing (the
// worker still uses the ports and memory; exit the process instead). The
// control plane must be done with the gateway by then.
func (g *Gateway) Stop() error {
	g.stopWatch()
	for _, w := range g.workers {
		w.stop.Store(true)
	}
	return g.waitWorkers()
}

// Wait blocks until every worker has returned.
func (g *Gateway) Wait() {
	for _, d := range g.done {
		<-d
	}
}

// Close stops ports and releases DPDK memory and the EAL. Call it after
// Stop. It logs failures and carries on, so one failure
// does not leak the rest.
func (g *Gateway) Close() {
	g.stopWatch()
	if len(g.stuck) > 0 {
		g.log.Error("not releasing the ports and DPDK memory: a worker that did not stop still uses them", zap.Ints("workers", g.stuck))
		return
	}
	for _, p := range g.ports {
		if err := p.Stop(); err != nil {
			g.log.Warn("stopping port", zap.String("device", p.Name()), zap.Error(err))
		}
		if err := p.Close(); err != nil {
			g.log.Warn("closing port", zap.String("device", p.Name()), zap.Error(err))
		}
	}
	for _, free := range slices.Backward(g.frees) {
		free()
	}
	if g.pool != nil {
		g.pool.Free()
	}
	if !g.ealUp {
		return
	}
	if err := dpdk.Cleanup(); err != nil {
		g.log.Warn("EAL clean-up", zap.Error(err))
	}
}

func fmtMAC(m [6]byte) string {
	parts := make([]string, 6)
	for i, b := range m {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}
