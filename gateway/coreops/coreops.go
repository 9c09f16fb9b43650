package coreops

import (
	"vec/control/manager"
	"vec/fastpath"
)

// ScanSlots bounds the slots of its table a worker examines for one
// listing request or one step of a purge: what one poll iteration spends
// on it, whatever the table's size, so that the RX rings do not fill
// meanwhile (the reaper's bound per iteration, fastpath's maxReapSlots, is
// the same). A step always finishes the run of the table it started, so
// it may examine one run more (a few slots at the table's load).
const ScanSlots = 4096

// Purge drops every connection entry of some servers (those whose drain
// ended) a bounded step at a time, in home-slot order (see
// fastpath.Table.ScanRun): an entry of those servers is dropped whatever
// the packets, the reaper or other requests inserted or deleted between
// two steps. The servers must take no new connections meanwhile (they
// drain, so they do not).
type Purge struct {
	drop    []bool // indexed by ServerID
	home    int    // next home slot
	Dropped uint64 // entries dropped so far
}

// NewPurge starts a purge of the entries of the servers marked in drop
// (indexed by ServerID).
func NewPurge(drop []bool) *Purge { return &Purge{drop: drop} }

// Step examines about maxSlots slots from where the last step stopped and
// drops the entries of the purged servers there; it returns how many
// slots it examined. When the whole table is done, it resets the purged
// servers' counters and reports done.
func (p *Purge) Step(core *fastpath.Core, maxSlots int) (examined int, done bool) {
	t := core.Table()
	want := func(e *fastpath.Entry) bool { return p.drop[e.Server] }
	drop := func(*fastpath.Entry) bool {
		p.Dropped++
		return true
	}
	for p.home < t.Slots() && examined < maxSlots {
		next, n := t.ScanRun(p.home, want, drop)
		p.home, examined = next, examined+n
	}
	core.Counters.Entries = uint64(t.Len())
	if p.home < t.Slots() {
		return examined, false
	}
	for id, d := range p.drop {
		if d {
			core.Servers[id] = fastpath.ServerCounters{}
		}
	}
	return examined, true
}

// Cursor is where a listing of one core's table goes on: at home slot
// Home, after the first Skip matching entries of that home slot (earlier
// pages returned those; Skip is not zero only when one home slot holds
// more matching entries than a page).
type Cursor struct {
	Home, Skip int
}

// Listed is what one List call did.
type Listed struct {
	Copied int    // entries copied into the buffer
	Next   Cursor // where the next page goes on
	// Full is set when the buffer had no room for the next home slot's
	// entries, Done when the table has no home slot left.
	Full, Done bool
	Examined   int // slots examined
}

// List copies the entries q matches, in home-slot order from cursor
// from, into buf, examining about maxSlots slots at most; it takes them a
// run of the table at a time (fastpath.Table.ScanRun), so a page ends
// between two runs, and the listing stays exact while entries come and go.
// Only when a run holds more matching entries than a whole page do they go
// home slot by home slot, and a home slot with more than a page is split
// over pages (Cursor.Skip). A page may be short, or empty, without the
// table being done.
func List(core *fastpath.Core, q *manager.ConnQuery, from Cursor, buf []fastpath.Entry, maxSlots int) Listed {
	t := core.Table()
	home := from.Home
	var copied, examined int
	want := func(e *fastpath.Entry) bool { return q.Match(e) }
	take := func(e *fastpath.Entry) bool {
		if copied < len(buf) {
			buf[copied] = *e
		}
		copied++ // counts the entries that did not fit too
		return false
	}
	if from.Skip > 0 {
		// In the middle of a home slot's entries, too many for a page.
		return listHome(core, q, from, buf)
	}
	for home < t.Slots() && examined < maxSlots {
		before := copied
		next, n := t.ScanRun(home, want, take)
		examined += n
		if copied > len(buf) {
			// The run's entries do not fit: the next page takes them.
			// Only when they would fit in no page do they go home slot
			// by home slot.
			if before > 0 {
				return Listed{Copied: before, Next: Cursor{Home: home}, Full: true, Examined: examined}
			}
			l := listHome(core, q, Cursor{Home: home}, buf)
			l.Examined += examined
			return l
		}
		home = next
	}
	return Listed{Copied: copied, Next: Cursor{Home: home}, Done: home >= t.Slots(), Examined: examined}
}

// listHome lists the entries of home slot from.Home after the first
// from.Skip, and of the home slots after it, until buf is full: for a run
// with more matching entries than a page. A page ends between two home
// slots unless one home slot has more matching entries than buf; it
// examines one run per home slot, so it stops at the end of the run it
// started in.
func listHome(core *fastpath.Core, q *manager.ConnQuery, from Cursor, buf []fastpath.Entry) Listed {
	t := core.Table()
	home, skip := from.Home, from.Skip
	var copied, examined int
	var group int // matching entries of the home slot being scanned
	want := func(e *fastpath.Entry) bool { return q.Match(e) }
	take := func(e *fastpath.Entry) bool {
		if group++; group > skip && copied < len(buf) {
			buf[copied] = *e
			copied++
		}
		return false
	}
	for home < t.Slots() {
		before := copied
		group = 0
		n := t.ScanHome(home, want, take)
		examined += n
		if taken := copied - before; skip+taken < group {
			// This home slot's entries do not all fit. Leave them to
			// the next page, unless they would not fit in any page.
			if before > 0 {
				return Listed{Copied: before, Next: Cursor{Home: home}, Full: true, Examined: examined}
			}
			return Listed{Copied: copied, Next: Cursor{Home: home, Skip: skip + taken}, Full: true, Examined: examined}
		}
		home, skip = home+1, 0
		if n == 1 {
			break // an empty slot: the run has ended
		}
	}
	return Listed{Copied: copied, Next: Cursor{Home: home}, Done: home >= t.Slots(), Examined: examined}
}

// MaxListRequests bounds the requests one page of a listing makes to the
// workers (each examining at most ScanSlots slots), so one API call costs
// a bounded time whatever the tables' size and however few entries the
// filter matches.
const MaxListRequests = 64

// ListFunc carries out List on worker i's core from cursor from into buf,
// with a bound of ScanSlots: directly, or through the worker's mailbox.
type ListFunc func(i int, from Cursor, buf []fastpath.Entry) (Listed, error)

// Page makes a page of q.Limit entries at most from q.From on, asking
// the workers (cores[i] is worker i's CPU) one after another through
// list, at most MaxListRequests times. A worker whose table is done hands
// over to the next one.
func Page(q *manager.ConnQuery, cores []int, list ListFunc) (manager.ConnPage, error) {
	var page manager.ConnPage
	at := q.From
	buf := make([]fastpath.Entry, q.Limit)
	for range MaxListRequests {
		if at.Worker >= len(cores) {
			page.Done = true
			return page, nil
		}
		room := q.Limit - len(page.Entries)
		if room == 0 {
			break
		}
		l, err := list(at.Worker, Cursor{Home: at.Home, Skip: at.Skip}, buf[:room])
		if err != nil {
			return manager.ConnPage{}, err
		}
		for _, e := range buf[:l.Copied] {
			page.Entries = append(page.Entries, manager.ConnEntry{Core: cores[at.Worker], Entry: e})
		}
		if l.Done {
			at = manager.ConnCursor{Worker: at.Worker + 1}
			continue
		}
		at = manager.ConnCursor{Worker: at.Worker, Home: l.Next.Home, Skip: l.Next.Skip}
		if l.Full {
			break
		}
	}
	page.Next = at
	page.Done = at.Worker >= len(cores)
	return page, nil
}
