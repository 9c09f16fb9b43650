package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"vec/control/config"
	"vec/dpdk"
	"vec/fastpath"
)

// neighborWatchInterval is how often the control plane looks for servers
// whose ARP resolution changed.
const neighborWatchInterval = 200 * time.Millisecond

// applyTimeout bounds the wait for every worker to take a new snapshot.
const applyTimeout = 2 * time.Second

// mbufDataRoom holds a 1500-byte MTU frame with its VLAN tag plus DPDK's
// headroom.
const mbufDataRoom = 2048 + 128

// Gateway is a running vec gateway: everything it brings up, in the order
// it is torn down again.
type Gateway struct {
	log       *zap.Logger
	rt        config.Runtime
	cfg       *config.Config
	clock     fastpath.Clock // shared by the workers and the control plane
	neighbors *fastpath.Neighbors
	portMAC   [6]byte

	stopControl chan struct{}
	stopOnce    sync.Once
	controlDone sync.WaitGroup

	ealUp   bool
	pool    *dpdk.Mempool
	ports   []*dpdk.Port
	workers []*worker
	done    []chan struct{}
	frees   []func()
}

// ealArgs builds the EAL command line: only the control core is given to
// EAL (workers are registered goroutine threads, not EAL lcores), memory is
// in-process so threads can be registered, then the virtual devices and the
// operator's extra arguments.
func ealArgs(rt config.Runtime) []string {
	args := []string{"vecd", "-l", strconv.Itoa(rt.ControlCore)}
	if !slices.Contains(rt.EALArgs, "--in-memory") {
		args = append(args, "--in-memory")
	}
	for _, v := range rt.VDevs {
		args = append(args, "--vdev="+v)
	}
	return append(args, rt.EALArgs...)
}

// New prepares a gateway for a validated configuration; Start brings it up.
func New(log *zap.Logger, cfg *config.Config, rt config.Runtime) *Gateway {
	return &Gateway{log: log, cfg: cfg, rt: rt, clock: fastpath.NewMonotonicClock(),
		neighbors: fastpath.NewNeighbors(fastpath.MaxServers), stopControl: make(chan struct{})}
}

// Start brings the gateway up: EAL, mempool, ports, one worker per core.
// On error, Stop and Close release whatever was already started.
func (g *Gateway) Start() error {
	rt := g.rt
	args := ealArgs(rt)
	g.log.Info("initialising DPDK", zap.Strings("eal_args", args))
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
	pool, err := dpdk.NewPktMempool("vec_mbufs", uint32(rt.MempoolSize), 256, mbufDataRoom, -1)
	if err != nil {
		return err
	}
	g.pool = pool
	queues := uint16(len(rt.WorkerCores))
	for _, dev := range rt.Ports {
		id, err := dpdk.PortByName(dev)
		if err != nil {
			return fmt.Errorf("port %q: %w", dev, err)
		}
		p, err := dpdk.OpenPort(id, dpdk.PortConfig{RxQueues: queues, TxQueues: queues, Mempool: pool, Promiscuous: true})
		if err != nil {
			return fmt.Errorf("port %q: %w", dev, err)
		}
		g.ports = append(g.ports, p)
	}
	if g.portMAC, err = g.ports[0].MAC(); err != nil {
		return err
	}
	snap, fc, err := g.compile(nil)
	if err != nil {
		return err
	}
	for _, p := range g.ports {
		if err := p.Start(); err != nil {
			return err
		}
		g.log.Info("port up", zap.String("device", p.Name()), zap.String("driver", p.Driver()),
			zap.Int("queues", p.RxQueues()), zap.Bool("rss", p.RSSEnabled()))
	}
	portIDs := make([]uint16, len(g.ports))
	for i, p := range g.ports {
		portIDs[i] = p.ID
	}
	for i, cpu := range rt.WorkerCores {
		w, err := g.newWorker(i, cpu, snap, portIDs)
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
	if len(snap.NeighborSlots()) > 0 {
		g.controlDone.Add(1)
		go g.watchNeighbors()
	}
	g.log.Info("gateway running", zap.String("mac", fmtMAC(fc.GatewayMAC)), zap.Int("services", len(fc.Services)))
	return nil
}

// compile builds the fastpath snapshot of the configuration, marking the
// servers resolved by ARP that have answered (resolved, keyed by address;
// nil before any could have).
func (g *Gateway) compile(resolved map[uint32]bool) (*fastpath.Snapshot, fastpath.Config, error) {
	fc, err := g.cfg.Fastpath(g.portMAC)
	if err != nil {
		return nil, fc, err
	}
	fc.Neighbors = g.neighbors
	for i := range fc.Services {
		for j := range fc.Services[i].Servers {
			srv := &fc.Services[i].Servers[j]
			ip := srv.IP.As4()
			srv.Resolved = resolved[binary.BigEndian.Uint32(ip[:])]
		}
	}
	snap, err := fastpath.NewSnapshot(&fc)
	if err != nil {
		return nil, fc, fmt.Errorf("compiling the configuration: %w", err)
	}
	return snap, fc, nil
}

// watchNeighbors notices servers resolved by ARP answering for the first
// time or going silent, and hands every worker a snapshot that gives them
// new connections, or stops doing so.
func (g *Gateway) watchNeighbors() {
	defer g.controlDone.Done()
	ticker := time.NewTicker(neighborWatchInterval)
	defer ticker.Stop()
	var last map[uint32]bool
	for {
		select {
		case <-g.stopControl:
			return
		case <-ticker.C:
		}
		resolved := g.neighbors.ResolvedIPs(g.clock.Now())
		if maps.Equal(resolved, last) {
			continue
		}
		snap, _, err := g.compile(resolved)
		if err == nil {
			err = g.apply(snap)
		}
		if err != nil {
			g.log.Error("applying server ARP resolution", zap.Error(err))
			continue
		}
		for ip, ok := range resolved {
			if ok != last[ip] {
				g.log.Info("server ARP resolution changed", zap.Stringer("ip", ipString(ip)), zap.Bool("resolved", ok))
			}
		}
		last = resolved
	}
}

// apply hands every worker the snapshot and waits until all run it.
func (g *Gateway) apply(snap *fastpath.Snapshot) error {
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	for _, w := range g.workers {
		if err := w.mailbox.send(ctx, &request{kind: reqSnapshot, snap: snap}); err != nil {
			return fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
	}
	return nil
}

type ipString uint32

func (ip ipString) String() string {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String()
}

// newWorker builds worker i: its connection table lives in hugepage memory.
func (g *Gateway) newWorker(i, cpu int, snap *fastpath.Snapshot, ports []uint16) (*worker, error) {
	slots, free, err := dpdk.AllocSlice[fastpath.Entry](fmt.Sprintf("vec_table_%d", i), fastpath.TableSlots(g.rt.TableCapacity), -1)
	if err != nil {
		return nil, fmt.Errorf("connection table for worker %d: %w", i, err)
	}
	g.frees = append(g.frees, free)
	table, err := fastpath.NewTable(slots, rand.Uint64())
	if err != nil {
		return nil, err
	}
	core, err := fastpath.NewCore(snap, table, g.clock, 0)
	if err != nil {
		return nil, err
	}
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
	w := &worker{cpu: cpu, queue: uint16(i), ports: ports, core: core, burst: burst, mailbox: mb,
		stopWhenIdle: g.rt.RunUntilInputExhausted}
	if i == 0 && len(snap.NeighborSlots()) > 0 {
		// The first worker sends the ARP requests for servers given by
		// IP alone.
		if w.probe, err = dpdk.NewBurst(burstSize); err != nil {
			return nil, err
		}
		g.frees = append(g.frees, w.probe.Free)
		w.pool, w.clock = g.pool, g.clock
	}
	return w, nil
}

// keepControlOffWorkers pins every thread of the process (the Go runtime's
// and the control plane's) to the cores that are not workers, so a worker
// core runs nothing but its poll loop. Worker threads pin themselves when
// they register. Threads Go starts later are spawned by its template thread,
// which is pinned here too, so they inherit the control cores.
func keepControlOffWorkers(rt config.Runtime) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	for _, cpu := range rt.WorkerCores {
		set.Clear(cpu)
	}
	if set.Count() == 0 {
		set.Set(rt.ControlCore)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("listing threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("sched_setaffinity(thread %d): %w", tid, err)
		}
	}
	return nil
}

// Stop ends the control goroutines, asks every worker to finish its
// current iteration, and waits for them.
func (g *Gateway) Stop() {
	g.stopOnce.Do(func() { close(g.stopControl) })
	g.controlDone.Wait()
	for _, w := range g.workers {
		w.stop.Store(true)
	}
	g.Wait()
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
