package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"vec/control/manager"
	"vec/dpdk"
	"vec/fastpath"
	"vec/gateway/coreops"
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

// purgeBatch is how many connection keys a worker collects per pass over
// its table when it drops the entries of servers whose drain ended.
const purgeBatch = 1024

// requestKind says what a request asks of a worker.
type requestKind uint8

const (
	// reqCounters: copy the core's counters into the request.
	reqCounters requestKind = iota + 1
	// reqSnapshot: switch to the request's configuration snapshot, and
	// drop the connection entries of the servers in purge.
	reqSnapshot
	// reqConnections: copy a page of matching connection entries.
	reqConnections
	// reqMode: switch the core to mode.
	reqMode
	// reqInstall: install rebuilt connection entries.
	reqInstall
	// reqAnnounce: send gratuitous ARP for announce (worker 0 only).
	reqAnnounce
)

// request is one message to a worker. The control plane fills it before
// sending; the worker writes only the result fields, then closes done.
type request struct {
	kind requestKind
	snap *fastpath.Snapshot // reqSnapshot

	// reqSnapshot: servers whose entries to drop and counters to reset
	// (indexed by ServerID, nil for none), and the buffer for the keys.
	purge     []bool
	purgeKeys []fastpath.FlowKey
	purged    uint64   // result: entries dropped
	silent    []uint32 // VIPs whose ARP requests go unanswered

	// reqCounters results.
	counters fastpath.CoreCounters
	servers  []fastpath.ServerCounters // len = servers to copy
	txFull   uint64
	dropped  uint64 // entries ever dropped by purges
	silenced uint64 // ARP replies for removed VIPs not sent
	naps     uint64 // idle naps taken
	mode     fastpath.Mode

	// reqConnections: skip matching entries, then copy into entries
	// (its length is the page size); results: how many were copied and
	// skipped, and whether a further one matches.
	query   *manager.ConnQuery
	skip    int
	entries []fastpath.Entry
	copied  int
	skipped int
	more    bool

	newMode fastpath.Mode // reqMode

	install       []fastpath.InstallEntry // reqInstall
	installResult fastpath.InstallResult

	announce []uint32 // reqAnnounce: VIPs, big-endian
	sent     int      // result: gratuitous ARP frames sent

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

// serveMailbox is called by the worker between bursts: it carries out every
// pending request. With nothing pending it costs one atomic load.
func (w *worker) serveMailbox() {
	mb := w.mailbox
	if mb == nil || mb.pending.Load() == 0 {
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
			req.mode = w.core.Mode()
		case reqSnapshot:
			w.core.SetSnapshot(req.snap)
			w.silentVIPs = req.silent
			if req.purge != nil {
				req.purged = coreops.Purge(w.core, req.purge, req.purgeKeys)
				w.purged += req.purged
			}
		case reqConnections:
			req.copied, req.skipped, req.more = coreops.List(w.core, req.query, req.skip, req.entries)
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
