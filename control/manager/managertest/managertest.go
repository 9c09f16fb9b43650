// Package managertest provides a Dataplane for tests of the control plane
// without DPDK: its "workers" are real fastpath cores in ordinary memory,
// driven from the test's goroutine, and it carries out requests with the
// same worker-side code as the gateway (fastpath.Core.PurgeStep and
// List).
package managertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"vec/dataplane"
	"vec/fastpath"
	"vec/internal/limits"
)

// Dataplane is a dataplane.Dataplane over in-memory fastpath cores. Its
// methods lock it, so a test can send packets through the cores from its
// own goroutine while the manager works.
type Dataplane struct {
	mu    sync.Mutex
	cores []*fastpath.Core
	// Clock drives the cores (connection timers, idle times).
	Clock *fastpath.ManualClock
	// FailApply, when set, makes staging an update on worker FailWorker
	// fail, as on a worker whose mailbox is full or that does not answer:
	// the workers before it have staged the update, and Apply rolls back
	// (no worker switches), as the gateway's does.
	FailApply  error
	FailWorker int
	// Applied counts the snapshots applied, Purged the entries purged.
	Applied int
	Purged  uint64
	// SilentVIPs are those of the last update.
	SilentVIPs []netip.Addr
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

// SetHeadroom tells every core that the frames given to Process have n
// writable bytes before them (fastpath.Core.SetHeadroom), as DPDK's
// packet buffers do: encapsulating services need fastpath.EncapHeadroom.
func (d *Dataplane) SetHeadroom(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cores {
		c.SetHeadroom(n)
	}
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

// Apply implements dataplane.Dataplane.
func (d *Dataplane) Apply(ctx context.Context, u dataplane.Update) (dataplane.ApplyReport, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Stage on every worker, then commit; a worker that cannot stage
	// ends it with nothing committed.
	staged := make([]*fastpath.Snapshot, len(d.cores))
	for i := range d.cores {
		if d.FailApply != nil && i == d.FailWorker {
			return dataplane.ApplyReport{}, fmt.Errorf("staging on worker %d: %w", i, d.FailApply)
		}
		if err := ctx.Err(); err != nil {
			return dataplane.ApplyReport{}, fmt.Errorf("staging on worker %d: %w", i, err)
		}
		staged[i] = u.Snapshot
	}
	start := time.Now()
	rep := dataplane.ApplyReport{}
	d.SilentVIPs = u.SilentVIPs
	for i, c := range d.cores {
		// As a gateway worker: the purge first, a bounded step at a
		// time, then the switch.
		if len(u.Purge) > 0 {
			drop := make([]bool, limits.MaxServers)
			for _, id := range u.Purge {
				drop[id] = true
			}
			p := fastpath.NewPurge(drop)
			for _, done := c.PurgeStep(p, fastpath.ScanSlots); !done; _, done = c.PurgeStep(p, fastpath.ScanSlots) {
			}
			d.Purged += p.Dropped
		}
		c.SetSnapshot(staged[i])
		rep.AckLatency = append(rep.AckLatency, time.Since(start))
	}
	rep.Max = time.Since(start)
	d.Applied++
	return rep, nil
}

// Read implements dataplane.Dataplane.
func (d *Dataplane) Read(ctx context.Context, servers int) (dataplane.Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	var r dataplane.Reading
	for i, c := range d.cores {
		r.Cores = append(r.Cores, dataplane.CoreReading{Core: i, Counters: c.Counters,
			Servers: append([]fastpath.ServerCounters(nil), c.Servers[:servers]...)})
	}
	r.Ports = []dataplane.PortCounters{{Device: "fake0"}}
	return r, nil
}

// Connections implements dataplane.Dataplane the way the gateway does
// (dataplane.PageConnections), calling fastpath.Core.List directly instead
// of through a mailbox.
func (d *Dataplane) Connections(ctx context.Context, q dataplane.ConnQuery) (dataplane.ConnPage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q.Limit < 1 {
		return dataplane.ConnPage{}, errors.New("limit below 1")
	}
	cores := make([]int, len(d.cores))
	for i := range cores {
		cores[i] = i
	}
	return dataplane.PageConnections(&q, cores, func(i int, from fastpath.ListCursor, buf []fastpath.ListedEntry) (fastpath.Listed, error) {
		if err := ctx.Err(); err != nil {
			return fastpath.Listed{}, err
		}
		return d.cores[i].List(q.Match, from, buf, fastpath.ScanSlots), nil
	})
}

// Workers implements dataplane.Dataplane.
func (d *Dataplane) Workers() []dataplane.WorkerStatus {
	out := make([]dataplane.WorkerStatus, len(d.cores))
	for i := range d.cores {
		out[i] = dataplane.WorkerStatus{Core: i, Queue: i, MailboxCapacity: 64}
	}
	return out
}
