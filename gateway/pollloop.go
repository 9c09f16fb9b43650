package gateway

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"vec/dataplane"
	"vec/dpdk"
	"vec/fastpath"
)

// Loops are vecd's worker poll loops without the rest of a running
// gateway: the EAL, the packet pool and the ports are the caller's, who
// has opened and started the ports with one RX and TX queue per loop.
// Each loop is a worker exactly as Start builds it (its own connection
// table in hugepage memory, burst buffers and mailbox), and Gateway
// serves them to the control plane as in vecd. vec-bench
// (internal/netnullbench) measures through Loops, with a feed that writes
// into the buffers net_null hands out the packets a NIC would have
// received.
type Loops struct {
	g *Gateway
}

// LoopConfig describes Loops.
type LoopConfig struct {
	// Ports are the ports the loops poll, in order, and the ones Gateway
	// places flows and reads port counters by (WorkerFor, Read).
	Ports []*dpdk.Port
	// Pool is the ports' packet pool; the first loop allocates its ARP
	// requests from it.
	Pool *dpdk.Mempool
	// Cores: loop i polls queue i of every port on a thread pinned to
	// Cores[i].
	Cores []int
	// TableCapacity is each loop's connection table capacity.
	TableCapacity int
	// BusyPoll and IdleSleep are workers.busy_poll and idle_sleep.
	BusyPoll  bool
	IdleSleep time.Duration
	// NoTraffic makes the loops poll no port at all: they only serve
	// their mailboxes (the ports still serve WorkerFor).
	NoTraffic bool
	// Feed, when set, gives loop i the function that sees every burst it
	// receives, on the loop's thread, before the fastpath does; nil, or
	// a nil function, for none.
	Feed func(i int) func(pkts [][]byte)
}

// NewLoops builds the loops over snap; Start runs them. On error, Close
// releases what was built.
func NewLoops(log *zap.Logger, cfg LoopConfig, snap *fastpath.Snapshot) (*Loops, error) {
	g := New(log, Options{WorkerCores: cfg.Cores, TableCapacity: cfg.TableCapacity, BusyPoll: cfg.BusyPoll, IdleSleep: cfg.IdleSleep})
	g.ports, g.pool, g.feed = cfg.Ports, cfg.Pool, cfg.Feed
	l := &Loops{g: g}
	if len(cfg.Cores) > 1 && len(cfg.Ports) > 0 && cfg.Ports[0].RSSEnabled() {
		key, _, err := cfg.Ports[0].RSSHashConf()
		if err != nil {
			return l, fmt.Errorf("port %s: reading the RSS key: %w", cfg.Ports[0].Name(), err)
		}
		g.rss = dpdk.NewRSSTable(key)
	}
	var ids []uint16
	var maxFrames []uint32
	if !cfg.NoTraffic {
		for _, p := range cfg.Ports {
			ids = append(ids, p.ID)
			maxFrames = append(maxFrames, uint32(p.MaxFrameLen()))
		}
	}
	for i, cpu := range cfg.Cores {
		w, err := g.newWorker(i, cpu, snap, ids, maxFrames)
		if err != nil {
			return l, err
		}
		g.workers = append(g.workers, w)
	}
	return l, nil
}

// Start starts every loop on its core. On error, Stop and Close the loops.
func (l *Loops) Start() error {
	var errs []error
	for _, w := range l.g.workers {
		started, done := make(chan error, 1), make(chan struct{})
		go w.run(started, done)
		l.g.done = append(l.g.done, done)
		if err := <-started; err != nil {
			errs = append(errs, fmt.Errorf("loop on core %d: %w", w.cpu, err))
		}
	}
	return errors.Join(errs...)
}

// Gateway is the loops as the control plane sees a running gateway:
// dataplane.Dataplane, Install, SetMode, WorkerFor, and ReadStopped once
// the loops have stopped.
func (l *Loops) Gateway() *Gateway { return l.g }

// Stop asks every loop to stop and waits for them (Gateway.Stop).
func (l *Loops) Stop() error { return l.g.Stop() }

// Close releases the loops' tables, bursts and mailboxes, unless a loop
// did not stop; the ports, the pool and the EAL stay the caller's.
func (l *Loops) Close() {
	if len(l.g.stuck) > 0 {
		l.g.log.Error("not releasing the loops' memory: a loop that did not stop still uses it", zap.Ints("loops", l.g.stuck))
		return
	}
	for _, free := range slices.Backward(l.g.frees) {
		free()
	}
	l.g.frees = nil
}

// RestartPollTimes returns loop i's poll-iteration histogram so far and
// restarts its record of the longest iteration, so that a measurement can
// begin at a moment the loop itself picks. Call it only on loop i's
// thread, from its feed.
func (l *Loops) RestartPollTimes(i int) dataplane.PollTimes {
	w := l.g.workers[i]
	h := w.polls.hist
	w.polls.hist.MaxNanos = 0
	return h
}

// KeepControlOffWorkers pins every thread of the process but the loops'
// to the cores other than workerCores (controlCore alone if it is one of
// them), and raises GOMAXPROCS so that the loops, which never give up
// their Ps, leave Ps to the rest, as vecd does (keepControlOffWorkers).
func KeepControlOffWorkers(controlCore int, workerCores []int) error {
	return keepControlOffWorkers(Options{WorkerCores: workerCores, ControlCore: controlCore})
}
