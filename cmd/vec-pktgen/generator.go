package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"vec/dpdk"
)

// burstSize is the most packets one send or receive call handles.
const burstSize = 32

const (
	// probeInterval is how often an ARP probe goes out until something
	// comes back; probeTimeout how long that may take.
	probeInterval = 10 * time.Millisecond
	probeTimeout  = 20 * time.Second
	// settle is how long after the first answer the generator keeps
	// receiving, so no probe answer is counted in the run.
	settle = 50 * time.Millisecond
	// warmTimeout bounds the warm-up pass over every flow.
	warmTimeout = 2 * time.Minute
	// The drain ends once every flow packet sent has come back and nothing
	// else arrived for drainIdle (strays an io-forwarder returns), or
	// after drainMax: what has not come back by then is lost.
	drainIdle = 100 * time.Millisecond
	drainMax  = 5 * time.Second
	// defaultStallTimeout: with the window full and nothing coming back for
	// this long, the packets in flight are written off as lost, so that a
	// forwarder that drops packets does not stop the generator for good.
	// It is far longer than a forwarder sharing its core with other busy
	// processes is normally descheduled: writing off packets that are
	// merely late lets more than the window into the rings.
	defaultStallTimeout = time.Second
	// refusedBackoff is how long the generator leaves the port alone after
	// it refused packets (its ring full): hammering the ring's shared
	// index would slow the forwarder that is emptying it.
	refusedBackoff = 2 * time.Microsecond
	// maxBacklog caps the time a rate-limited generator catches up on
	// after it fell behind (a descheduled thread): it never sends a
	// backlog of more than this much time at full speed (the window
	// bounds what is in flight meanwhile).
	maxBacklog = 100 * time.Millisecond
)

// Run states, published for the main goroutine.
const (
	stateProbing int32 = iota
	stateWarming
	stateMeasuring
	stateDraining
	stateDone
)

// generator is the worker: it owns the port's only queue, the bursts, the
// traffic plan and the sink. Only its goroutine touches them.
type generator struct {
	port    uint16
	pool    *dpdk.Mempool
	tx, rx  *dpdk.Burst
	traffic *traffic
	sink    *sink
	probe   []byte
	rate    float64 // packets per second; 0: full speed
	window  int     // most flow packets in flight; 0: no limit
	// stallTimeout: see defaultStallTimeout; 0 never writes packets off.
	stallTimeout time.Duration
	duration     time.Duration
	core         int

	// planned describes, in order, the packets tx holds, or the pending
	// ones planned but not yet in mbufs.
	planned [burstSize]txPacket
	pending int
	lens    [burstSize]uint16

	// rateSkipped: packets a rate-limited generator gave up catching up on.
	rateSkipped uint64
	// retryAt: no send before this time (the port refused packets).
	retryAt time.Time

	tx0 txCounts // committed: what the port accepted

	writtenOff uint64 // flow packets given up on after a stall
	stalls     uint64
	refused    uint64 // offers of a packet the port refused (ring full)
	noMbufs    uint64 // plans that waited for free mbufs
	// held is the time, while measuring, spent in loop iterations that had
	// packets to send but were held back by the forwarder: the window full
	// of packets not yet back, its receive ring full, or every mbuf in
	// flight.
	held time.Duration

	// Published for the main goroutine.
	state        atomic.Int32
	stop         atomic.Bool
	progressSent atomic.Uint64
	progressRecv atomic.Uint64
}

// txCounts count what the port accepted.
type txCounts struct {
	packets, bytes uint64
	expected       uint64 // flow packets (everything but strays)
	syns           uint64
	strays         uint64
}

// snapshot is the generator's counters at one instant.
type snapshot struct {
	at   time.Time
	tx   txCounts
	sink sinkCounts
}

// outcome is what a run measured.
type outcome struct {
	workerCPUs string
	start, end snapshot // the measured window
	final      snapshot // after the drain
	macs       []macCount
	otherMACs  uint64
	writtenOff uint64
	stalls     uint64
	refused    uint64
	noMbufs    uint64
	held       time.Duration
}

// run is the worker goroutine's body.
func (g *generator) run() (outcome, error) {
	runtime.LockOSThread()
	unregister, err := dpdk.RegisterWorkerThread(g.core)
	if err != nil {
		return outcome{}, err
	}
	defer unregister()
	var out outcome
	cpus, err := dpdk.ThreadAffinity()
	if err != nil {
		return out, err
	}
	out.workerCPUs = cpuList(cpus)
	defer g.tx.Drop()
	defer g.rx.Drop()

	if err := g.probeUntilAnswered(); err != nil {
		return out, err
	}
	g.state.Store(stateWarming)
	if err := g.loop(&out); err != nil {
		return out, err
	}
	g.state.Store(stateDone)
	out.macs = append(out.macs, g.sink.macs[:g.sink.nmacs]...)
	out.otherMACs = g.sink.otherMACs
	out.writtenOff, out.stalls, out.refused, out.noMbufs = g.writtenOff, g.stalls, g.refused, g.noMbufs
	out.held = g.held
	return out, nil
}

// probeUntilAnswered sends ARP requests for the VIP until anything comes
// back (the forwarder is up and polling), then lets stragglers arrive and
// forgets them.
func (g *generator) probeUntilAnswered() error {
	deadline := time.Now().Add(probeTimeout)
	for next := time.Now(); g.sink.frames+g.sink.arp == 0; {
		if g.stop.Load() {
			return errors.New("stopped while waiting for the forwarder")
		}
		if now := time.Now(); now.After(next) {
			if now.After(deadline) {
				return fmt.Errorf("nothing came back within %s of probing: is the forwarder polling its port?", probeTimeout)
			}
			if err := g.tx.Alloc(g.pool, 1, len(g.probe)); err != nil {
				return err
			}
			copy(g.tx.Packets()[0], g.probe)
			g.tx.SendAll(g.port, 0)
			next = now.Add(probeInterval)
		}
		g.receive()
	}
	for end := time.Now().Add(settle); time.Now().Before(end); {
		g.receive()
	}
	g.sink.resetCounts()
	return nil
}

// receive takes up to a few bursts off the port, counts them and frees
// them.
func (g *generator) receive() int {
	got := 0
	for range 4 {
		n := g.rx.Rx(g.port, 0)
		if n > 0 {
			g.sink.count(g.rx.Packets())
			got += n
		}
		if n < burstSize {
			break // the ring is empty, or nearly
		}
	}
	g.rx.Drop()
	return got
}

func (g *generator) snapshot(at time.Time) snapshot {
	return snapshot{at: at, tx: g.tx0, sink: g.sink.sinkCounts}
}

// loop runs the traffic: warm-up (one pass over every flow), the measured
// window, then the drain.
func (g *generator) loop(out *outcome) error {
	begin := time.Now()
	lastRx, last := begin, begin
	var measureEnd time.Time
	heldBack := false // whether the last iteration was held back
	for iter := 0; ; iter++ {
		got := g.receive()
		now := time.Now()
		if got > 0 {
			lastRx = now
		}
		if heldBack && g.state.Load() == stateMeasuring {
			g.held += now.Sub(last)
		}
		last = now
		state := g.state.Load()
		switch {
		case state == stateWarming && g.traffic.warm():
			out.start = g.snapshot(now)
			measureEnd = now.Add(g.duration)
			g.state.Store(stateMeasuring)
		case state == stateWarming && g.stop.Load():
			return errors.New("stopped during the warm-up")
		case state == stateWarming && now.Sub(begin) > warmTimeout:
			return fmt.Errorf("warm-up: %d of %d flows visited after %s", g.traffic.cursor, g.traffic.addr.flows, warmTimeout)
		case state == stateMeasuring && (now.After(measureEnd) || g.stop.Load()):
			out.end = g.snapshot(now)
			g.tx.Drop() // planned, never sent
			g.pending = 0
			g.state.Store(stateDraining)
		case state == stateDraining:
			allBack := g.tx0.expected <= g.sink.flowPackets
			if allBack && now.Sub(lastRx) > drainIdle || now.Sub(out.end.at) > drainMax {
				out.final = g.snapshot(now)
				return nil
			}
			continue
		}
		heldBack = g.send(now.Sub(begin), now, lastRx)
		if iter&255 == 0 {
			g.progressSent.Store(g.tx0.packets)
			g.progressRecv.Store(g.sink.frames)
		}
	}
}

// send offers the held packets again, or plans and offers new ones, as far
// as the rate and the window allow. It reports whether the forwarder held
// it back: the window full, the forwarder's ring full, no mbuf free.
func (g *generator) send(elapsed time.Duration, now, lastRx time.Time) (heldBack bool) {
	if now.Before(g.retryAt) {
		return true
	}
	if g.tx.Len() == 0 {
		if g.pending == 0 {
			budget, windowFull := g.budget(elapsed, now, lastRx)
			if budget <= 0 {
				return windowFull
			}
			if g.pending = g.traffic.plan(g.planned[:budget]); g.pending == 0 {
				return false
			}
		}
		for i := range g.pending {
			g.lens[i] = uint16(len(g.planned[i].tmpl.frame))
		}
		if err := g.tx.AllocLens(g.pool, g.lens[:g.pending]); err != nil {
			// Every buffer is in flight: keep the plan and try again
			// once some have come back.
			g.noMbufs++
			return true
		}
		for i, p := range g.tx.Packets() {
			pl := &g.planned[i]
			pl.tmpl.write(p, pl.src, pl.sport, pl.seq, pl.ack)
		}
		g.pending = 0
	}
	held := g.tx.Len()
	sent := g.tx.SendHold(g.port, 0)
	for i := range sent {
		pl := &g.planned[i]
		g.tx0.packets++
		g.tx0.bytes += uint64(len(pl.tmpl.frame))
		switch pl.tmpl.kind {
		case kindStray:
			g.tx0.strays++
		case kindSYN:
			g.tx0.syns++
			g.tx0.expected++
		default:
			g.tx0.expected++
		}
	}
	left := held - sent
	if left > 0 {
		g.refused += uint64(left)
		copy(g.planned[:left], g.planned[sent:held])
		g.retryAt = now.Add(refusedBackoff)
	}
	return left > 0
}

// budget is how many new packets the rate and the window allow now, and
// whether the window is what stopped it.
func (g *generator) budget(elapsed time.Duration, now, lastRx time.Time) (n int, windowFull bool) {
	n = burstSize
	if g.rate > 0 {
		due := uint64(g.rate*elapsed.Seconds()) - g.rateSkipped
		if backlog := uint64(g.rate * maxBacklog.Seconds()); due > g.tx0.packets+backlog {
			// Fell behind (descheduled): drop the backlog beyond the cap.
			g.rateSkipped += due - g.tx0.packets - backlog
			due = g.tx0.packets + backlog
		}
		if due <= g.tx0.packets {
			return 0, false
		}
		n = min(n, int(due-g.tx0.packets))
	}
	if g.window > 0 {
		inFlight := int(g.tx0.expected - g.sink.flowPackets - g.writtenOff)
		if inFlight >= g.window && g.stallTimeout > 0 && now.Sub(lastRx) > g.stallTimeout {
			g.writtenOff += uint64(inFlight)
			g.stalls++
			inFlight = 0
		}
		if g.window-inFlight <= 0 {
			return 0, true
		}
		n = min(n, g.window-inFlight)
	}
	return n, false
}
