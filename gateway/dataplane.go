package gateway

import (
	"context"
	"fmt"
	"time"

	"vec/control/manager"
	"vec/fastpath"
)

// The Gateway is the manager's Dataplane: every method below talks to the
// workers through their mailboxes only.

var _ manager.Dataplane = (*Gateway)(nil)

// broadcast posts the request build(i) makes to every worker i at once and
// waits until all have carried it out, or ctx ends. It returns the
// requests (results filled in) and the first worker's error.
func (g *Gateway) broadcast(ctx context.Context, build func(i int) *request) ([]*request, error) {
	reqs := make([]*request, len(g.workers))
	slots := make([]int, len(g.workers))
	for i, w := range g.workers {
		reqs[i] = build(i)
		slot, err := w.mailbox.post(reqs[i])
		if err != nil {
			// Those already posted go ahead; nobody waits for them.
			for j := range i {
				go g.workers[j].mailbox.wait(context.Background(), reqs[j], slots[j])
			}
			return nil, fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
		slots[i] = slot
	}
	var firstErr error
	for i, w := range g.workers {
		if err := w.mailbox.wait(ctx, reqs[i], slots[i]); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
	}
	return reqs, firstErr
}

// Apply posts snap to every worker at once and waits until all of them run
// it; see manager.Dataplane. When a worker cannot take it, the manager
// re-sends the snapshot in force after it.
func (g *Gateway) Apply(ctx context.Context, u manager.Update) (manager.ApplyReport, error) {
	var drop []bool
	if len(u.Purge) > 0 {
		drop = make([]bool, fastpath.MaxServers)
		for _, id := range u.Purge {
			drop[id] = true
		}
	}
	start := time.Now()
	reqs, err := g.broadcast(ctx, func(int) *request {
		req := &request{kind: reqSnapshot, snap: u.Snapshot, purge: drop, silent: u.SilentVIPs}
		if drop != nil {
			req.purgeKeys = make([]fastpath.FlowKey, purgeBatch)
		}
		return req
	})
	if reqs == nil {
		return manager.ApplyReport{}, err
	}
	rep := manager.ApplyReport{AckLatency: make([]time.Duration, len(g.workers))}
	for i, req := range reqs {
		if req.ackedAt.IsZero() {
			continue // not acknowledged in time: err says so
		}
		rep.AckLatency[i] = req.ackedAt.Sub(start)
		rep.Max = max(rep.Max, rep.AckLatency[i])
	}
	return rep, err
}

// Read asks every running worker for a copy of its counters; see
// manager.Dataplane.
func (g *Gateway) Read(ctx context.Context, servers int) (manager.Reading, error) {
	servers = min(servers, fastpath.MaxServers)
	reqs, err := g.broadcast(ctx, func(int) *request {
		return &request{kind: reqCounters, servers: make([]fastpath.ServerCounters, servers)}
	})
	if err != nil {
		return manager.Reading{}, err
	}
	var r manager.Reading
	for i, req := range reqs {
		r.Cores = append(r.Cores, manager.CoreReading{Core: g.workers[i].cpu, Counters: req.counters, Servers: req.servers,
			TxFull: req.txFull, Purged: req.dropped, ARPSilenced: req.silenced, Naps: req.naps, Mode: req.mode})
	}
	r.Ports = g.portCounters()
	return r, nil
}

// Connections asks the workers, one after another, for the entries of a
// page: each skips what the earlier ones did not, and copies into a buffer
// of the page's size; see manager.Dataplane.
func (g *Gateway) Connections(ctx context.Context, q manager.ConnQuery) (manager.ConnPage, error) {
	var page manager.ConnPage
	skip, room := q.Offset, q.Limit
	for _, w := range g.workers {
		// With the page full, a request for zero entries tells whether
		// this worker has one more.
		req := &request{kind: reqConnections, query: &q, skip: skip, entries: make([]fastpath.Entry, room)}
		if err := w.mailbox.send(ctx, req); err != nil {
			return manager.ConnPage{}, fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
		for _, e := range req.entries[:req.copied] {
			page.Entries = append(page.Entries, manager.ConnEntry{Core: w.cpu, Entry: e})
		}
		skip -= req.skipped
		room -= req.copied
		if req.more {
			page.More = true
			break
		}
	}
	return page, nil
}

// Workers describes the workers and their mailboxes.
func (g *Gateway) Workers() []manager.WorkerStatus {
	out := make([]manager.WorkerStatus, len(g.workers))
	for i, w := range g.workers {
		out[i] = manager.WorkerStatus{Core: w.cpu, Queue: int(w.queue), MailboxDepth: w.mailbox.ring.Count(),
			MailboxCapacity: w.mailbox.ring.Capacity()}
	}
	return out
}
