package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/zap"

	"vec/dataplane"
	"vec/fastpath"
	"vec/internal/limits"
)

// testWorkers are workers without ports whose poll loops the test starts
// and stops: stopped, their cores may be read from the test.
type testWorkers struct {
	t    *testing.T
	g    *Gateway
	done []chan struct{}
}

func newTestWorkers(t *testing.T, n, capacity int, snap *fastpath.Snapshot) *testWorkers {
	t.Helper()
	tw := &testWorkers{t: t, g: &Gateway{log: zap.NewNop()}, done: make([]chan struct{}, n)}
	for i := range n {
		table, err := fastpath.NewTable(make([]fastpath.Entry, fastpath.TableSlots(capacity)), rand.Uint64())
		if err != nil {
			t.Fatal(err)
		}
		clock := newIterationClock(fastpath.NewMonotonicClock())
		core, err := fastpath.NewCore(snap, table, clock, 0)
		if err != nil {
			t.Fatal(err)
		}
		mb, err := newMailbox(fmt.Sprintf("t%d_%s", i, t.Name()[:min(len(t.Name()), 20)]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mb.ring.Free)
		tw.g.workers = append(tw.g.workers, &worker{cpu: 10 + i, queue: uint16(i), core: core, coreClock: clock, mailbox: mb, idleSleep: time.Millisecond})
	}
	t.Cleanup(tw.stopAll)
	return tw
}

func (tw *testWorkers) start(i int) {
	if tw.done[i] != nil {
		return
	}
	w, done := tw.g.workers[i], make(chan struct{})
	w.stop.Store(false)
	tw.done[i] = done
	go func() {
		defer close(done)
		w.poll()
	}()
}

func (tw *testWorkers) stop(i int) {
	if tw.done[i] == nil {
		return
	}
	tw.g.workers[i].stop.Store(true)
	<-tw.done[i]
	tw.done[i] = nil
}

func (tw *testWorkers) startAll() {
	for i := range tw.done {
		tw.start(i)
	}
}

func (tw *testWorkers) stopAll() {
	for i := range tw.done {
		tw.stop(i)
	}
}

// running checks, with the workers stopped, that every one runs snap.
func (tw *testWorkers) running(what string, snap *fastpath.Snapshot) {
	tw.t.Helper()
	for i, w := range tw.g.workers {
		if w.core.Snapshot() != snap {
			tw.t.Errorf("%s: worker %d runs another snapshot", what, i)
		}
	}
}

func emptySnapshot(t *testing.T) *fastpath.Snapshot {
	t.Helper()
	s, err := fastpath.NewSnapshot(&fastpath.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An update reaches every worker or none: when worker 1 cannot take it
// (mailbox full, or no answer in time) worker 0, which could, does not run
// it either, not even once worker 1 answers late. A good update then
// switches both, dropping the purged servers' entries first.
func TestApplyIsAllOrNone(t *testing.T) {
	if !withEAL(t) {
		return
	}
	before, next := emptySnapshot(t), emptySnapshot(t)
	tw := newTestWorkers(t, 2, 1024, before)
	g := tw.g
	tw.startAll()
	ctx := context.Background()

	mb := g.workers[1].mailbox
	mb.mu.Lock()
	free := mb.free
	mb.free = nil
	mb.mu.Unlock()
	_, err := g.Apply(ctx, dataplane.Update{Snapshot: next})
	mb.mu.Lock()
	mb.free = free
	mb.mu.Unlock()
	if err == nil {
		t.Fatal("Apply succeeded with worker 1's mailbox full")
	}
	time.Sleep(20 * time.Millisecond) // worker 0 would have switched by now
	tw.stopAll()
	tw.running("worker 1's mailbox full", before)

	tw.start(0)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = g.Apply(tctx, dataplane.Update{Snapshot: next})
	cancel()
	if err == nil {
		t.Fatal("Apply succeeded with worker 1 not answering")
	}
	tw.start(1) // worker 1 takes the update late
	time.Sleep(20 * time.Millisecond)
	tw.stopAll()
	tw.running("worker 1 answering late", before)

	// Entries of servers 1 and 2 on both workers; server 1's drain ends.
	for _, w := range g.workers {
		for i := range 100 {
			e := w.core.Table().Insert(fastpath.FlowKey{SrcIP: uint32(i), DstIP: 1, SrcPort: 1, DstPort: 80, Proto: fastpath.ProtoTCP})
			e.Server, e.State = fastpath.ServerID(1+i%2), fastpath.StateActive
			w.core.Servers[e.Server].Active++
		}
	}
	tw.startAll()
	rep, err := g.Apply(ctx, dataplane.Update{Snapshot: next, Purge: []fastpath.ServerID{1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.AckLatency) != 2 || rep.AckLatency[0] <= 0 || rep.AckLatency[1] <= 0 || rep.Max < rep.AckLatency[1] {
		t.Errorf("report %+v", rep)
	}
	tw.stopAll()
	tw.running("a good update", next)
	for i, w := range g.workers {
		left := map[fastpath.ServerID]int{}
		w.core.Table().Range(func(e *fastpath.Entry) bool {
			left[e.Server]++
			return true
		})
		if left[1] != 0 || left[2] != 50 || w.purged != 50 || w.core.Servers[1] != (fastpath.ServerCounters{}) || w.core.Servers[2].Active != 50 {
			t.Errorf("worker %d after purging server 1: entries by server %v, %d purged, counters %+v %+v",
				i, left, w.purged, w.core.Servers[1], w.core.Servers[2])
		}
	}
}

// Listing through the workers' mailboxes, page by page by cursor, while
// the workers poll: every entry of both tables once, on its worker's core.
func TestConnectionsArePagedByCursor(t *testing.T) {
	if !withEAL(t) {
		return
	}
	tw := newTestWorkers(t, 2, 1<<14, emptySnapshot(t))
	const perWorker = 5000
	for i, w := range tw.g.workers {
		for j := range perWorker {
			e := w.core.Table().Insert(fastpath.FlowKey{SrcIP: uint32(i<<16 | j), DstIP: 1, SrcPort: 1, DstPort: 80, Proto: fastpath.ProtoTCP})
			e.State = fastpath.StateActive
		}
	}
	tw.startAll()
	seen := map[fastpath.FlowKey]int{}
	q := dataplane.ConnQuery{Limit: 100}
	pages := 0
	for ; ; pages++ {
		page, err := tw.g.Connections(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > q.Limit {
			t.Fatalf("page %d: %d entries, limit %d", pages, len(page.Entries), q.Limit)
		}
		for _, e := range page.Entries {
			if want := 10 + int(e.Entry.Key.SrcIP>>16); e.Core != want {
				t.Errorf("entry of worker on core %d reported on core %d", want, e.Core)
			}
			seen[e.Entry.Key]++
		}
		if page.Done {
			break
		}
		q.From = page.Next
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%v listed %d times", k, n)
		}
	}
	if len(seen) != 2*perWorker {
		t.Errorf("%d entries listed in %d pages, want %d", len(seen), pages+1, 2*perWorker)
	}
}

// A committed update whose purge is still going on (a bounded step per
// poll iteration) goes first: the worker refuses to stage the next one
// until it has switched, so that the next Apply fails with nothing
// changed. The test plays the worker's loop, one serveMailbox call per
// iteration.
func TestStageWaitsForTheCommittedPurge(t *testing.T) {
	if !withEAL(t) {
		return
	}
	before, purged, next := emptySnapshot(t), emptySnapshot(t), emptySnapshot(t)
	tw := newTestWorkers(t, 1, 1<<16, before)
	w := tw.g.workers[0]
	mb := w.mailbox
	for i := range 1 << 15 {
		e := w.core.Table().Insert(fastpath.FlowKey{SrcIP: uint32(i), DstIP: 1, SrcPort: 1, DstPort: 80, Proto: fastpath.ProtoTCP})
		e.Server, e.State = 1, fastpath.StateActive
	}
	drop := make([]bool, limits.MaxServers)
	drop[1] = true
	stage := func(snap *fastpath.Snapshot, drop []bool) *request {
		t.Helper()
		req := &request{kind: reqStage, snap: snap, gen: mb.gens.Add(1), purge: drop, live: make(chan struct{})}
		slot, err := mb.post(req)
		if err != nil {
			t.Fatal(err)
		}
		w.serveMailbox()
		if err := mb.wait(context.Background(), req, slot); err != nil {
			t.Fatal(err)
		}
		return req
	}
	first := stage(purged, drop)
	mb.commit.Store(first.gen)
	w.serveMailbox() // the first purge step
	if second := stage(next, nil); !second.refused {
		t.Fatal("a stage was taken while the committed update's purge was going on")
	}
	if w.core.Snapshot() != before {
		t.Fatal("switched before the purge was done")
	}
	iterations := 2
	for ; mb.staged != nil; iterations++ {
		w.serveMailbox()
	}
	select {
	case <-first.live:
	default:
		t.Fatal("switched without telling")
	}
	if w.core.Snapshot() != purged || w.core.Table().Len() != 0 || first.purged != 1<<15 || w.purged != 1<<15 {
		t.Errorf("after the purge: %d entries left, %d purged", w.core.Table().Len(), first.purged)
	}
	if fewest := w.core.Table().Slots() / (2 * fastpath.ScanSlots); iterations < fewest {
		t.Errorf("a purge of %d slots took %d iterations, fewer than %d: a step went past its bound", w.core.Table().Slots(), iterations, fewest)
	}
	third := stage(next, nil)
	if third.refused {
		t.Fatal("a stage was refused after the purge")
	}
	mb.commit.Store(third.gen)
	w.serveMailbox()
	if w.core.Snapshot() != next {
		t.Error("the next committed update did not switch")
	}
}
