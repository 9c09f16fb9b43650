package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"vec/dataplane"
	"vec/dpdk"
	"vec/fastpath"
)

// The control plane never writes a worker's memory: it hands a worker a
// request through the worker's mailbox, an rte_ring of 64-bit tokens, and the
// worker carries it out between bursts and acknowledges it. A token is the
// index of a slot holding the request; rings carry no Go pointers. Whatever
// a worker copies out (counters, connection entries) goes into buffers the
// control plane allocated and put in the request.

// mailboxSlots bounds the requests in flight to one worker.
const mailboxSlots = 64

// reservedForChanges are slots that reads (counter scrapes, connection
// listings — /metrics needs no token) may not take: a configuration
// change, a mode switch or an install always finds room.
const reservedForChanges = 16

// requestKind says what a request asks of a worker.
type requestKind uint8

const (
	// reqCounters: copy the core's counters into the request.
	reqCounters requestKind = iota + 1
	// reqStage: keep the request's configuration snapshot (and the
	// servers whose entries to drop) until the control plane commits it
	// (mailbox.commit); see Gateway.Apply.
	reqStage
	// reqConnections: copy a page of matching connection entries.
	reqConnections
	// reqMode: switch the core to mode.
	reqMode
	// reqInstall: install rebuilt connection entries.
	reqInstall
	// reqAnnounce: send gratuitous ARP (IPv6: unsolicited NA) for
	// announce (worker 0 only).
	reqAnnounce
)

// request is one message to a worker. The control plane fills it before
// sending; the worker writes only the result fields, then closes done.
type request struct {
	kind requestKind

	// reqStage: the snapshot, its generation (the value of
	// mailbox.commit that commits it), the servers whose entries to drop
	// and counters to reset before switching (indexed by ServerID, nil
	// for none), and the VIPs whose ARP requests go unanswered.
	snap   *fastpath.Snapshot
	gen    uint64
	purge  []bool
	silent []netip.Addr
	// reqStage results: refused is set when the worker had not finished
	// carrying out the update committed before (its purge goes a step
	// per poll iteration); once committed, live is closed when the
	// worker runs the snapshot (at liveAt), having dropped purged
	// entries.
	refused bool
	live    chan struct{}
	liveAt  time.Time
	purged  uint64

	// reqCounters results.
	counters fastpath.CoreCounters
	servers  []fastpath.ServerCounters // len = servers to copy
	txFull   uint64
	dropped  uint64 // entries ever dropped by purges
	silenced uint64 // ARP replies for removed VIPs not sent
	naps     uint64 // idle naps taken
	polls    dataplane.PollTimes
	mode     fastpath.Mode

	// reqConnections: copy the entries match selects from cursor from on
	// into entries (its length is the room left in the page), examining
	// at most about fastpath.ScanSlots slots; listed is the result.
	match   func(*fastpath.Entry) bool
	from    fastpath.ListCursor
	entries []fastpath.ListedEntry
	listed  fastpath.Listed

	newMode fastpath.Mode // reqMode

	install       []fastpath.InstallEntry // reqInstall
	installResult fastpath.InstallResult

	announce []netip.Addr // reqAnnounce: VIPs
	sent     int          // result: gratuitous ARP frames sent

	ackedAt time.Time // when the worker finished, read after done
	done    chan struct{}
}

// mailbox is one worker's inbox.
type mailbox struct {
	ring    *dpdk.Ring
	pending atomic.Int32 // tokens enqueued and not yet taken: lets the worker skip the cgo call
	slots   [mailboxSlots]atomic.Pointer[request]

	mu   sync.Mutex // control side: slot allocation and enqueue
	free []int

	// The two-phase switch to a new snapshot (Gateway.Apply): gens
	// numbers the stage requests, commit is the generation the control
	// plane committed. staged and purging belong to the worker: the
	// update staged last, and the purge of a committed one in progress.
	gens    atomic.Uint64
	commit  atomic.Uint64
	staged  *request
	purging *fastpath.Purge
}

func newMailbox(name string) (*mailbox, error) {
	ring, err := dpdk.NewRing(name, mailboxSlots, false, true)
	if err != nil {
		return nil, err
	}
	mb := &mailbox{ring: ring, free: make([]int, mailboxSlots)}
	for i := range mb.free {
		mb.free[i] = i
	}
	return mb, nil
}

var (
	errMailboxFull = errors.New("worker mailbox full: the worker is not taking requests")
	errReadsBusy   = errors.New("worker mailbox busy with reads: try again (the slots left are kept for changes)")
)

// isRead reports whether a request only reads the worker's state.
func (k requestKind) isRead() bool { return k == reqCounters || k == reqConnections }

// admit reports why req cannot be posted now, or nil; called with mu held.
func (mb *mailbox) admit(kind requestKind) error {
	switch {
	case len(mb.free) == 0:
		return errMailboxFull
	case kind.isRead() && len(mb.free) <= reservedForChanges:
		return errReadsBusy
	}
	return nil
}

// post hands req to the worker without waiting; wait then waits for it.
func (mb *mailbox) post(req *request) (int, error) {
	req.done = make(chan struct{})
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.admit(req.kind); err != nil {
		return 0, err
	}
	slot := mb.free[len(mb.free)-1]
	mb.free = mb.free[:len(mb.free)-1]
	mb.slots[slot].Store(req)
	if !mb.ring.Enqueue(uint64(slot)) {
		mb.slots[slot].Store(nil)
		mb.free = append(mb.free, slot)
		return 0, errMailboxFull
	}
	mb.pending.Add(1)
	return slot, nil
}

// wait waits until the worker has carried out the request posted in slot,
// or ctx ends.
func (mb *mailbox) wait(ctx context.Context, req *request, slot int) error {
	select {
	case <-req.done:
	case <-ctx.Done():
		// The worker still owns the slot until it answers; it is freed then.
		go func() { <-req.done; mb.release(slot) }()
		return fmt.Errorf("worker did not answer: %w", ctx.Err())
	}
	mb.release(slot)
	return nil
}

// send posts req and waits until the worker has carried it out or ctx ends.
func (mb *mailbox) send(ctx context.Context, req *request) error {
	slot, err := mb.post(req)
	if err != nil {
		return err
	}
	return mb.wait(ctx, req, slot)
}

func (mb *mailbox) release(slot int) {
	mb.mu.Lock()
	mb.slots[slot].Store(nil)
	mb.free = append(mb.free, slot)
	mb.mu.Unlock()
}

// serveMailbox is called by the worker between bursts, once per poll
// iteration: it goes on with a committed update, then carries out every
// pending request. With nothing staged and nothing pending it costs one
// atomic load.
func (w *worker) serveMailbox() {
	mb := w.mailbox
	if mb == nil {
		return
	}
	if mb.staged != nil && mb.commit.Load() == mb.staged.gen {
		w.switchStaged()
	}
	if mb.pending.Load() == 0 {
		return
	}
	var tokens [8]uint64
	n := mb.ring.DequeueBurst(tokens[:])
	mb.pending.Add(int32(-n))
	// Requests come in runs (a takeover's install chunks, a scrape's
	// counter reads): stay awake for the next one instead of napping.
	w.empty, w.nap = 0, 0
	for _, tok := range tokens[:n] {
		req := mb.slots[tok].Load()
		switch req.kind {
		case reqCounters:
			req.counters = w.core.Counters
			copy(req.servers, w.core.Servers[:len(req.servers)])
			req.txFull = w.txFull
			req.dropped = w.purged
			req.silenced = w.arpSilenced
			req.naps = w.naps
			req.polls = w.polls.hist
			req.mode = w.core.Mode()
		case reqStage:
			if mb.staged != nil && mb.commit.Load() == mb.staged.gen {
				w.switchStaged() // committed since the check above
			}
			if mb.staged != nil && mb.commit.Load() == mb.staged.gen {
				req.refused = true // the committed one's purge goes first
			} else {
				mb.staged = req // replaces one never committed (its Apply failed)
			}
		case reqConnections:
			req.listed = w.core.List(req.match, req.from, req.entries, fastpath.ScanSlots)
		case reqMode:
			w.core.SetMode(req.newMode)
		case reqInstall:
			req.installResult = w.core.Install(req.install)
		case reqAnnounce:
			req.sent = w.sendGratuitousARP(req.announce)
		}
		req.ackedAt = time.Now()
		close(req.done)
	}
}

// switchStaged carries out the committed update, a bounded step per poll
// iteration: it drops the entries of the purged servers while the worker
// still runs the snapshot before (in which those servers drain, so take no
// new connections), then switches to the staged snapshot. The worker
// stays awake (no naps) until it is done.
func (w *worker) switchStaged() {
	mb := w.mailbox
	req := mb.staged
	w.empty, w.nap = 0, 0
	if req.purge != nil {
		if mb.purging == nil {
			mb.purging = fastpath.NewPurge(req.purge)
		}
		if _, done := w.core.PurgeStep(mb.purging, fastpath.ScanSlots); !done {
			return
		}
		req.purged = mb.purging.Dropped
		w.purged += req.purged
		mb.purging = nil
	}
	w.core.SetSnapshot(req.snap)
	w.silentVIPs = req.silent
	mb.staged = nil
	req.liveAt = time.Now()
	close(req.live)
}
