package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"vec/dpdk"
	"vec/fastpath"
)

// The control plane never writes a worker's memory: it hands a worker a
// request through the worker's mailbox, an rte_ring of 64-bit tokens, and the
// worker carries it out between bursts and acknowledges it. A token is the
// index of a slot holding the request; rings carry no Go pointers.

// mailboxSlots bounds the requests in flight to one worker.
const mailboxSlots = 64

// requestKind says what a request asks of a worker.
type requestKind uint8

const (
	// reqCounters: copy the core's counters into the request.
	reqCounters requestKind = iota + 1
	// reqSnapshot: switch to the request's configuration snapshot.
	reqSnapshot
)

// request is one message to a worker. The control plane fills it before
// sending; the worker writes only the result fields, then closes done.
type request struct {
	kind requestKind
	snap *fastpath.Snapshot // reqSnapshot

	// reqCounters results.
	counters fastpath.CoreCounters
	servers  []fastpath.ServerCounters // len = servers to copy
	txFull   uint64

	done chan struct{}
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

var errMailboxFull = errors.New("worker mailbox full: the worker is not taking requests")

// send posts req and waits until the worker has carried it out or ctx ends.
func (mb *mailbox) send(ctx context.Context, req *request) error {
	req.done = make(chan struct{})
	mb.mu.Lock()
	if len(mb.free) == 0 {
		mb.mu.Unlock()
		return errMailboxFull
	}
	slot := mb.free[len(mb.free)-1]
	mb.free = mb.free[:len(mb.free)-1]
	mb.slots[slot].Store(req)
	if !mb.ring.Enqueue(uint64(slot)) {
		mb.slots[slot].Store(nil)
		mb.free = append(mb.free, slot)
		mb.mu.Unlock()
		return errMailboxFull
	}
	mb.pending.Add(1)
	mb.mu.Unlock()
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

func (mb *mailbox) release(slot int) {
	mb.mu.Lock()
	mb.slots[slot].Store(nil)
	mb.free = append(mb.free, slot)
	mb.mu.Unlock()
}

// serve is called by the worker between bursts: it carries out every
// pending request. With nothing pending it costs one atomic load.
func (w *worker) serveMailbox() {
	mb := w.mailbox
	if mb == nil || mb.pending.Load() == 0 {
		return
	}
	var tokens [8]uint64
	n := mb.ring.DequeueBurst(tokens[:])
	mb.pending.Add(int32(-n))
	for _, tok := range tokens[:n] {
		req := mb.slots[tok].Load()
		switch req.kind {
		case reqCounters:
			req.counters = w.core.Counters
			copy(req.servers, w.core.Servers[:len(req.servers)])
			req.txFull = w.txFull
		case reqSnapshot:
			w.core.SetSnapshot(req.snap)
		}
		close(req.done)
	}
}
