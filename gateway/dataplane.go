package gateway

import (
	"context"
	"fmt"
	"time"

	"vec/dataplane"
	"vec/fastpath"
	"vec/internal/limits"
)

// The Gateway is the manager's Dataplane: every method below talks to the
// workers through their mailboxes only.

var _ dataplane.Dataplane = (*Gateway)(nil)

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

// Apply switches every worker to u, all or none; see dataplane.Dataplane.
// Phase one stages u on every worker: a request (in the slots kept for
// changes) that only stores it. Only when every worker has taken it does
// phase two commit it, by storing its generation in each worker's mailbox:
// an atomic store, which cannot fail for lack of room, and which each
// worker checks once per poll iteration. A worker then drops the entries
// of the servers in u.Purge, a bounded step per iteration, and switches
// between two bursts. If some worker cannot stage u (mailbox full, no
// answer in time, or its previous update not done), nothing is committed:
// the workers that staged u drop it when the next update is staged.
func (g *Gateway) Apply(ctx context.Context, u dataplane.Update) (dataplane.ApplyReport, error) {
	var drop []bool
	if len(u.Purge) > 0 {
		drop = make([]bool, limits.MaxServers)
		for _, id := range u.Purge {
			drop[id] = true
		}
	}
	start := time.Now()
	reqs, err := g.broadcast(ctx, func(i int) *request {
		return &request{kind: reqStage, snap: u.Snapshot, gen: g.workers[i].mailbox.gens.Add(1), purge: drop,
			silent: u.SilentVIPs, live: make(chan struct{})}
	})
	for i, req := range reqs {
		if err == nil && req.refused {
			err = fmt.Errorf("worker on core %d: still carrying out the previous change", g.workers[i].cpu)
		}
	}
	if err != nil {
		return dataplane.ApplyReport{}, fmt.Errorf("staging the snapshot, nothing changed: %w", err)
	}
	for i, w := range g.workers {
		w.mailbox.commit.Store(reqs[i].gen)
	}
	rep := dataplane.ApplyReport{AckLatency: make([]time.Duration, len(g.workers))}
	for i, req := range reqs {
		select {
		case <-req.live:
		case <-ctx.Done():
		}
		select {
		case <-req.live:
			rep.AckLatency[i] = req.liveAt.Sub(start)
			rep.Max = max(rep.Max, rep.AckLatency[i])
		default:
			rep.Unconfirmed = append(rep.Unconfirmed, g.workers[i].cpu)
		}
	}
	return rep, nil
}

// Read asks every running worker for a copy of its counters; see
// dataplane.Dataplane.
func (g *Gateway) Read(ctx context.Context, servers int) (dataplane.Reading, error) {
	servers = min(servers, limits.MaxServers)
	reqs, err := g.broadcast(ctx, func(int) *request {
		return &request{kind: reqCounters, servers: make([]fastpath.ServerCounters, servers)}
	})
	if err != nil {
		return dataplane.Reading{}, err
	}
	var r dataplane.Reading
	for i, req := range reqs {
		r.Cores = append(r.Cores, dataplane.CoreReading{Core: g.workers[i].cpu, Counters: req.counters, Servers: req.servers,
			TxFull: req.txFull, Purged: req.dropped, ARPSilenced: req.silenced, Naps: req.naps, Mode: req.mode,
			PollIteration: req.polls})
	}
	r.Ports = g.portCounters()
	return r, nil
}

// Connections asks the workers, one after another, for the entries of a
// page from q.From on (dataplane.PageConnections): each request copies into
// a buffer of the room left in the page and examines at most about
// fastpath.ScanSlots slots of the worker's table, and a page makes at most
// dataplane.MaxListRequests requests; see dataplane.Dataplane.
func (g *Gateway) Connections(ctx context.Context, q dataplane.ConnQuery) (dataplane.ConnPage, error) {
	if q.Limit < 1 {
		return dataplane.ConnPage{}, fmt.Errorf("connection page limit %d is below 1", q.Limit)
	}
	cores := make([]int, len(g.workers))
	for i, w := range g.workers {
		cores[i] = w.cpu
	}
	match := q.Match // made once per page here, so the workers allocate nothing
	return dataplane.PageConnections(&q, cores, func(i int, from fastpath.ListCursor, buf []fastpath.ListedEntry) (fastpath.Listed, error) {
		w := g.workers[i]
		req := &request{kind: reqConnections, match: match, from: from, entries: buf}
		if err := w.mailbox.send(ctx, req); err != nil {
			return fastpath.Listed{}, fmt.Errorf("worker on core %d: %w", w.cpu, err)
		}
		return req.listed, nil
	})
}

// Workers describes the workers and their mailboxes.
func (g *Gateway) Workers() []dataplane.WorkerStatus {
	out := make([]dataplane.WorkerStatus, len(g.workers))
	for i, w := range g.workers {
		out[i] = dataplane.WorkerStatus{Core: w.cpu, Queue: int(w.queue), MailboxDepth: w.mailbox.ring.Count(),
			MailboxCapacity: w.mailbox.ring.Capacity()}
	}
	return out
}
