// Package managertest provides a Dataplane for tests of the control plane
// without DPDK: its "workers" are real fastpath cores in ordinary memory,
// driven from the test's goroutine, and it carries out requests with the
// same worker-side code as the gateway (gateway/coreops).
package managertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"vec/control/manager"
	"vec/fastpath"
	"vec/gateway/coreops"
)

// Dataplane is a manager.Dataplane over in-memory fastpath cores. Its
// methods lock it, so a test can send packets through the cores from its
// own goroutine while the manager works.
type Dataplane struct {
	mu    sync.Mutex
	cores []*fastpath.Core
	// Clock drives the cores (connection timers, idle times).
	Clock *fastpath.ManualClock
	// FailApply, when set, makes Apply fail without touching a core, as
	// a worker that does not answer would.
	FailApply error
	// Applied counts the snapshots applied, Purged the entries purged.
	Applied int
	Purged  uint64
	// SilentVIPs are those of the last update.
	SilentVIPs []uint32
	reads      int
}

// New makes workers cores running snap, each with a table for
// tableCapacity connections.
func New(workers, tableCapacity int, snap *fastpath.Snapshot, clock *fastpath.ManualClock) (*Dataplane, error) {
	d := &Dataplane{Clock: clock}
	for range workers {
		table, err := fastpath.NewTable(make([]fastpath.Entry, fastpath.TableSlots(tableCapacity)), rand.Uint64())
		if err != nil {
			return nil, err
		}
		core, err := fastpath.NewCore(snap, table, clock, time.Second)
		if err != nil {
			return nil, err
		}
		d.cores = append(d.cores, core)
	}
	return d, nil
}

// Process sends frames through core i and returns the verdicts.
func (d *Dataplane) Process(i int, frames ...[]byte) []fastpath.Verdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := make([]fastpath.Verdict, len(frames))
	d.cores[i].ProcessBurst(frames, v)
	return v
}

// Snapshot is the snapshot core i runs.
func (d *Dataplane) Snapshot(i int) *fastpath.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cores[i].Snapshot()
}

// Entries is the number of connection entries over all cores.
func (d *Dataplane) Entries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.cores {
		n += c.Table().Len()
	}
	return n
}

// Reads counts the counter readings taken.
func (d *Dataplane) Reads() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

// Apply implements manager.Dataplane.
func (d *Dataplane) Apply(ctx context.Context, u manager.Update) (manager.ApplyReport, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.FailApply != nil {
		return manager.ApplyReport{}, d.FailApply
	}
	if err := ctx.Err(); err != nil {
		return manager.ApplyReport{}, err
	}
	start := time.Now()
	rep := manager.ApplyReport{}
	d.SilentVIPs = u.SilentVIPs
	for _, c := range d.cores {
		c.SetSnapshot(u.Snapshot)
		if len(u.Purge) > 0 {
			drop := make([]bool, fastpath.MaxServers)
			for _, id := range u.Purge {
				drop[id] = true
			}
			d.Purged += coreops.Purge(c, drop, make([]fastpath.FlowKey, 4))
		}
		rep.AckLatency = append(rep.AckLatency, time.Since(start))
	}
	rep.Max = time.Since(start)
	d.Applied++
	return rep, nil
}

// Read implements manager.Dataplane.
func (d *Dataplane) Read(ctx context.Context, servers int) (manager.Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	var r manager.Reading
	for i, c := range d.cores {
		r.Cores = append(r.Cores, manager.CoreReading{Core: i, Counters: c.Counters,
			Servers: append([]fastpath.ServerCounters(nil), c.Servers[:servers]...)})
	}
	r.Ports = []manager.PortCounters{{Device: "fake0"}}
	return r, nil
}

// Connections implements manager.Dataplane the way the gateway does:
// worker after worker, each skipping what the earlier ones did not.
func (d *Dataplane) Connections(ctx context.Context, q manager.ConnQuery) (manager.ConnPage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q.Limit < 0 {
		return manager.ConnPage{}, errors.New("negative limit")
	}
	var page manager.ConnPage
	skip, room := q.Offset, q.Limit
	for i, c := range d.cores {
		buf := make([]fastpath.Entry, room)
		copied, skipped, more := coreops.List(c, &q, skip, buf)
		for _, e := range buf[:copied] {
			page.Entries = append(page.Entries, manager.ConnEntry{Core: i, Entry: e})
		}
		skip -= skipped
		room -= copied
		if more {
			page.More = true
			break
		}
	}
	return page, nil
}

// Workers implements manager.Dataplane.
func (d *Dataplane) Workers() []manager.WorkerStatus {
	out := make([]manager.WorkerStatus, len(d.cores))
	for i := range d.cores {
		out[i] = manager.WorkerStatus{Core: i, Queue: i, MailboxCapacity: 64}
	}
	return out
}
