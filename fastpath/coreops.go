package fastpath

import "net/netip"

// What a worker does to its own core when the control plane asks through
// the mailbox: drop the connection entries of servers whose drain ended
// (PurgeStep), and copy out a page of entries (List). Both go a bounded
// number of table slots at a time (ScanSlots), resuming where they
// stopped, so a poll iteration never spends long on them whatever the
// table's size. They run on the goroutine that owns the core, between
// bursts, and keep the core's counters (Counters.Entries, Servers) in step
// with its table as ProcessBurst and Reap do.

// ScanSlots bounds the slots of its table a worker examines for one
// listing request or one step of a purge: what one poll iteration spends
// on it, whatever the table's size, so that the RX rings do not fill
// meanwhile (the reaper's bound per iteration, maxReapSlots, is the same).
// A step always finishes the run of the table it started, so it may
// examine one run more (a few slots at the table's load).
const ScanSlots = 4096

// Purge is a purge in progress: it drops every connection entry of some
// servers (those whose drain ended) a bounded step at a time
// (Core.PurgeStep), in home-slot order (see Table.ScanRun): an entry of
// those servers is dropped whatever the packets, the reaper or other
// requests inserted or deleted between two steps. The servers must take
// no new connections meanwhile (they drain, so they do not).
type Purge struct {
	drop    []bool // indexed by ServerID
	home    int    // next home slot
	Dropped uint64 // entries dropped so far
}

// NewPurge starts a purge of the entries of the servers marked in drop
// (indexed by ServerID).
func NewPurge(drop []bool) *Purge { return &Purge{drop: drop} }

// PurgeStep examines about maxSlots slots of the table from where p's last
// step stopped and drops the entries of the purged servers there; it
// returns how many slots it examined. When the whole table is done, it
// resets the purged servers' counters and reports done.
func (c *Core) PurgeStep(p *Purge, maxSlots int) (examined int, done bool) {
	t := c.table
	want := func(e *Entry) bool { return p.drop[e.Server] }
	drop := func(*Entry) bool {
		p.Dropped++
		return true
	}
	for p.home < t.Slots() && examined < maxSlots {
		next, n := t.ScanRun(p.home, want, drop)
		p.home, examined = next, examined+n
	}
	c.Counters.Entries = uint64(t.Len())
	if p.home < t.Slots() {
		return examined, false
	}
	for id, d := range p.drop {
		if d {
			c.Servers[id] = ServerCounters{}
		}
	}
	return examined, true
}

// ListedEntry is a copy of an entry as List hands it out, with an IPv6
// entry's addresses, which the entry itself does not hold.
type ListedEntry struct {
	Entry
	Addrs Addrs6 // when Key.IPv6
}

// listed copies e, one of t's slots.
func (t *Table) listed(e *Entry) ListedEntry {
	l := ListedEntry{Entry: *e}
	if e.Key.IPv6 {
		l.Addrs = t.Addrs6(e)
	}
	return l
}

// Client returns the connection's client address and port.
func (l *ListedEntry) Client() netip.AddrPort {
	if l.Key.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(l.Addrs.Src), l.Key.SrcPort)
	}
	return netip.AddrPortFrom(addr4(l.Key.SrcIP), l.Key.SrcPort)
}

// VIP returns the connection's VIP and port.
func (l *ListedEntry) VIP() netip.AddrPort {
	if l.Key.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(l.Addrs.Dst), l.Key.DstPort)
	}
	return netip.AddrPortFrom(addr4(l.Key.DstIP), l.Key.DstPort)
}

// addr4 is the address of a big-endian IPv4 integer.
func addr4(ip uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
}

// ListCursor is where a listing of one core's table goes on: at home slot
// Home, after the first Skip matching entries of that home slot (earlier
// pages returned those; Skip is not zero only when one home slot holds
// more matching entries than a page).
type ListCursor struct {
	Home, Skip int
}

// Listed is what one List call did.
type Listed struct {
	Copied int        // entries copied into the buffer
	Next   ListCursor // where the next page goes on
	// Full is set when the buffer had no room for the next home slot's
	// entries, Done when the table has no home slot left.
	Full, Done bool
	Examined   int // slots examined
}

// List copies the entries match selects, in home-slot order from cursor
// from, into buf, examining about maxSlots slots at most; it takes them a
// run of the table at a time (Table.ScanRun), so a page ends between two
// runs, and the listing stays exact while entries come and go. Only when
// a run holds more matching entries than a whole page do they go home
// slot by home slot, and a home slot with more than a page is split over
// pages (ListCursor.Skip). A page may be short, or empty, without the
// table being done.
func (c *Core) List(match func(*Entry) bool, from ListCursor, buf []ListedEntry, maxSlots int) Listed {
	t := c.table
	home := from.Home
	var copied, examined int
	take := func(e *Entry) bool {
		if copied < len(buf) {
			buf[copied] = t.listed(e)
		}
		copied++ // counts the entries that did not fit too
		return false
	}
	if from.Skip > 0 {
		// In the middle of a home slot's entries, too many for a page.
		return c.listHome(match, from, buf)
	}
	for home < t.Slots() && examined < maxSlots {
		before := copied
		next, n := t.ScanRun(home, match, take)
		examined += n
		if copied > len(buf) {
			// The run's entries do not fit: the next page takes them.
			// Only when they would fit in no page do they go home slot
			// by home slot.
			if before > 0 {
				return Listed{Copied: before, Next: ListCursor{Home: home}, Full: true, Examined: examined}
			}
			l := c.listHome(match, ListCursor{Home: home}, buf)
			l.Examined += examined
			return l
		}
		home = next
	}
	return Listed{Copied: copied, Next: ListCursor{Home: home}, Done: home >= t.Slots(), Examined: examined}
}

// listHome lists the entries of home slot from.Home after the first
// from.Skip, and of the home slots after it, until buf is full: for a run
// with more matching entries than a page. A page ends between two home
// slots unless one home slot has more matching entries than buf; it
// examines one run per home slot, so it stops at the end of the run it
// started in.
func (c *Core) listHome(match func(*Entry) bool, from ListCursor, buf []ListedEntry) Listed {
	t := c.table
	home, skip := from.Home, from.Skip
	var copied, examined int
	var group int // matching entries of the home slot being scanned
	take := func(e *Entry) bool {
		if group++; group > skip && copied < len(buf) {
			buf[copied] = t.listed(e)
			copied++
		}
		return false
	}
	for home < t.Slots() {
		before := copied
		group = 0
		n := t.ScanHome(home, match, take)
		examined += n
		if taken := copied - before; skip+taken < group {
			// This home slot's entries do not all fit. Leave them to
			// the next page, unless they would not fit in any page.
			if before > 0 {
				return Listed{Copied: before, Next: ListCursor{Home: home}, Full: true, Examined: examined}
			}
			return Listed{Copied: copied, Next: ListCursor{Home: home, Skip: skip + taken}, Full: true, Examined: examined}
		}
		home, skip = home+1, 0
		if n == 1 {
			break // an empty slot: the run has ended
		}
	}
	return Listed{Copied: copied, Next: ListCursor{Home: home}, Done: home >= t.Slots(), Examined: examined}
}
