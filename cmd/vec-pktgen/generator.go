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
	// clockEvery: while measuring at full speed, the clock is read once
	// every clockEvery loop iterations as long as packets go out (every
	// iteration while held back): a clock read through the vDSO costs
	// about as much as a burst's Go work on a virtual machine's kvm-clock.
	// The window's edges are read exactly.
	clockEvery = 16
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

// generator is the worker: it owns the port's only queue, the frame
// stores, the traffic plan and the sink. Only its goroutine touches them.
//
// Frames go out by copy from C memory, one cgo call per burst
// (dpdk.Frames.Send): the planned ones through stage, which the planner
// writes a burst at a time; replayed ones straight from replay, built
// before the run, so that sending them costs no Go work per packet.
type generator struct {
	port    uint16
	pool    *dpdk.Mempool
	rx      *dpdk.Burst
	traffic *traffic
	sink    *sink
	probe   []byte
	rate    float64 // packets per second; 0: full speed
	window  int     // most flow packets in flight; 0: no limit
	// noReturn: the peer is a sink that returns nothing (no window, no
	// drain, no loss to count).
	noReturn bool
	// stallTimeout: see defaultStallTimeout; 0 never writes packets off.
	stallTimeout time.Duration
	duration     time.Duration
	core         int

	// stage holds the burst the planner wrote, planned describes it;
	// the frames from stageFirst to staged are not sent yet.
	stage              *dpdk.Frames
	planned            [burstSize]txPacket
	stageFirst, staged int

	// replay is the traffic's pre-built frames (nil: none), sent in order
	// from replayNext on once the warm-up is done; replayCum[i] is the
	// bytes of frames 0..i-1.
	replay     *dpdk.Frames
	replayCum  []uint64
	replayKind packetKind
	replaying  bool
	replayNext int

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
			g.stage.SetLen(0, copy(g.stage.Slot(0), g.probe))
			if _, err := g.stage.Send(g.pool, g.port, 0, 0, 1); err != nil && !errors.Is(err, dpdk.ErrNoMbufs) {
				return err
			}
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

// receive takes up to a few bursts off the port and counts them; each Rx
// frees the burst before.
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
	return got
}

func (g *generator) snapshot(at time.Time) snapshot {
	return snapshot{at: at, tx: g.tx0, sink: g.sink.sinkCounts}
}

// loop runs the traffic: warm-up (one pass over every flow), the measured
// window, then the drain.
func (g *generator) loop(out *outcome) error {
	begin := time.Now()
	now, lastRx := begin, begin
	var measureEnd, heldFrom time.Time // heldFrom: zero unless held back
	heldBack := false                  // whether the last iteration was held back
	var err error
	for iter := 0; ; iter++ {
		got := g.receive()
		state := g.state.Load()
		if state != stateMeasuring || heldBack || g.rate > 0 || iter&(clockEvery-1) == 0 {
			now = time.Now()
		}
		if got > 0 {
			lastRx = now
		}
		switch {
		case state == stateWarming && g.traffic.warm():
			out.start = g.snapshot(now)
			measureEnd = now.Add(g.duration)
			if !heldFrom.IsZero() {
				heldFrom = now // only the measured window's part counts
			}
			g.replaying = g.replay != nil
			g.state.Store(stateMeasuring)
		case state == stateWarming && g.stop.Load():
			return errors.New("stopped during the warm-up")
		case state == stateWarming && now.Sub(begin) > warmTimeout:
			return fmt.Errorf("warm-up: %d of %d flows visited after %s", g.traffic.cursor, g.traffic.addr.flows, warmTimeout)
		case state == stateMeasuring && (now.After(measureEnd) || g.stop.Load()):
			now = time.Now()
			out.end = g.snapshot(now)
			if !heldFrom.IsZero() {
				g.held += now.Sub(heldFrom)
				heldFrom = time.Time{}
			}
			g.stageFirst, g.staged = 0, 0 // planned, never sent
			g.state.Store(stateDraining)
		case state == stateDraining:
			allBack := g.tx0.expected <= g.sink.flowPackets
			if g.noReturn || allBack && now.Sub(lastRx) > drainIdle || now.Sub(out.end.at) > drainMax {
				out.final = g.snapshot(now)
				return nil
			}
			continue
		}
		if heldBack, err = g.send(now.Sub(begin), now, lastRx); err != nil {
			return err
		}
		// Held-back stretches are timed from their first iteration's end
		// to the end of their last; only the measured window's count.
		switch {
		case heldBack && heldFrom.IsZero():
			heldFrom = time.Now()
		case !heldBack && !heldFrom.IsZero():
			if g.state.Load() == stateMeasuring {
				g.held += time.Since(heldFrom)
			}
			heldFrom = time.Time{}
		}
		if iter&255 == 0 {
			g.progressSent.Store(g.tx0.packets)
			g.progressRecv.Store(g.sink.frames)
		}
	}
}

// send offers the refused packets again, or plans (or takes from the
// replay) and offers new ones, as far as the rate and the window allow. It
// reports whether the forwarder held it back: the window full, the
// forwarder's ring full, no mbuf free.
func (g *generator) send(elapsed time.Duration, now, lastRx time.Time) (heldBack bool, err error) {
	if now.Before(g.retryAt) {
		return true, nil
	}
	if g.stageFirst == g.staged {
		budget, windowFull := g.budget(elapsed, now, lastRx)
		if budget <= 0 {
			return windowFull, nil
		}
		if g.replaying {
			return g.sendReplay(budget, now)
		}
		n := g.traffic.plan(g.planned[:budget])
		if n == 0 {
			return false, nil
		}
		for i := range n {
			pl := &g.planned[i]
			size := len(pl.tmpl.frame)
			pl.tmpl.write(g.stage.Slot(i)[:size], pl.src, pl.sport, pl.seq, pl.ack)
			g.stage.SetLen(i, size)
		}
		g.stageFirst, g.staged = 0, n
	}
	offered := g.staged - g.stageFirst
	sent, err := g.stage.Send(g.pool, g.port, 0, g.stageFirst, offered)
	if err != nil {
		return g.sendFailed(err)
	}
	for i := g.stageFirst; i < g.stageFirst+sent; i++ {
		pl := &g.planned[i]
		g.tx0.packets++
		g.tx0.bytes += uint64(len(pl.tmpl.frame))
		g.tx0.count(pl.tmpl.kind, 1)
	}
	g.stageFirst += sent
	return g.refusedSome(offered-sent, now), nil
}

// sendReplay offers the next n pre-built frames.
func (g *generator) sendReplay(n int, now time.Time) (heldBack bool, err error) {
	sent, err := g.replay.Send(g.pool, g.port, 0, g.replayNext, n)
	if err != nil {
		return g.sendFailed(err)
	}
	first, frames := g.replayNext, g.replay.Len()
	if end := first + sent; end <= frames {
		g.tx0.bytes += g.replayCum[end] - g.replayCum[first]
	} else {
		g.tx0.bytes += g.replayCum[frames] - g.replayCum[first] + g.replayCum[end-frames]
	}
	g.tx0.packets += uint64(sent)
	g.tx0.count(g.replayKind, uint64(sent))
	if g.replayNext += sent; g.replayNext >= frames {
		g.replayNext -= frames
	}
	return g.refusedSome(n-sent, now), nil
}

// sendFailed handles a send that took no mbufs: every buffer in flight
// holds the generator back until some come back; anything else is a bug.
func (g *generator) sendFailed(err error) (heldBack bool, _ error) {
	if errors.Is(err, dpdk.ErrNoMbufs) {
		g.noMbufs++
		return true, nil
	}
	return false, err
}

// refusedSome notes that the port refused left packets (its ring full)
// and keeps the generator off it for a while; it reports whether it did.
func (g *generator) refusedSome(left int, now time.Time) bool {
	if left <= 0 {
		return false
	}
	g.refused += uint64(left)
	g.retryAt = now.Add(refusedBackoff)
	return true
}

// count adds n sent packets of kind.
func (c *txCounts) count(kind packetKind, n uint64) {
	switch kind {
	case kindStray:
		c.strays += n
	case kindSYN:
		c.syns += n
		c.expected += n
	default:
		c.expected += n
	}
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
