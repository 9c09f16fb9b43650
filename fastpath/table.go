package fastpath

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// ConnState is a connection entry's state (patent Fig. 7A, plus the
// embryonic and reset states of docs/fastpath.md).
type ConnState uint8

// Connection states. ACTIVE and FIN are also the agents' wire states
// (agent/wire pins their values); SYN and RST exist only in a gateway's own
// table and are never installed from an agent's listing.
const (
	StateActive ConnState = 1
	StateFIN    ConnState = 2
	// StateSYN is an embryonic TCP entry: the client's SYN was seen and
	// nothing else from it yet. It lives for the service's SYN timeout
	// and is the first to be evicted when the table is full.
	StateSYN ConnState = 3
	// StateRST is an entry that saw an RST from the client's side. It
	// keeps its server for the service's reset timeout, so a blind,
	// spoofed RST does not cut the connection: the client's next packet
	// without RST makes it ACTIVE again.
	StateRST ConnState = 4
)

func (s ConnState) String() string {
	switch s {
	case StateActive:
		return "ACTIVE"
	case StateFIN:
		return "FIN"
	case StateSYN:
		return "SYN"
	case StateRST:
		return "RST"
	}
	return "NONE"
}

// closing reports whether s is a state of a connection being torn down (FIN
// or RST); such entries count on a server's FIN gauge, the others (ACTIVE
// and SYN) on its ACTIVE gauge.
func (s ConnState) closing() bool { return s == StateFIN || s == StateRST }

// Entry is one connection-table slot: 32 bytes, two per cache line, no
// pointers, so a table can live in hugepage memory handed over by DPDK.
type Entry struct {
	Key      FlowKey // Key.Proto == 0 marks an empty slot
	LastSeen int64   // clock time of the last packet, in nanoseconds
	Server   ServerID
	Service  ServiceID
	State    ConnState
	_        [3]byte
}

func (e *Entry) empty() bool { return e.Key.Proto == 0 }

// evictionWindow is how many slots from a key's home slot are searched for an
// entry to evict when the table is full. With no closing entry among them
// the search goes on for one up to twice as far (an embryonic entry may be a
// real client between its SYN and its ACK), and with nothing evictable at
// all (at half load a run of empty slots, or only busy connections) up to
// evictionReach slots: a full table answers table_full only when no
// evictable entry lies anywhere near. Under a SYN flood, when no closing
// entry is left, that costs a scan of 2 × evictionWindow slots (16 cache
// lines, sequential) per flood SYN.
const (
	evictionWindow = 16
	evictionReach  = 256
)

// Table is one core's connection table: open addressing with linear probing
// over a power-of-two array of slots, at most half full, with backward-shift
// deletion (no tombstones, so lookups never slow down with churn). It never
// allocates after NewTable and is used by exactly one goroutine.
type Table struct {
	slots    []Entry
	mask     uint64
	seed     uint64
	count    int
	capacity int
	cursor   int // next slot the incremental reaper looks at

	// addrs6 holds, beside each slot of an IPv6 entry, the entry's
	// addresses (EnableIPv6): at the same index, so that the burst's
	// prefetch of a home slot can fetch them too.
	addrs6 []Addrs6
}

// TableSlots returns how many slots a table for capacity live entries needs:
// the next power of two at or above twice the capacity, which keeps the load
// at or below 50 % and the average probe short.
func TableSlots(capacity int) int {
	if capacity < 1 {
		capacity = 1
	}
	return 1 << bits.Len(uint(2*capacity-1))
}

// NewTable builds a table over memory the caller provides (a Go slice in
// tests, hugepage memory in the daemon). len(slots) must be a power of two;
// the table holds at most len(slots)/2 entries. The slots must be zeroed.
// seed randomises the hash.
func NewTable(slots []Entry, seed uint64) (*Table, error) {
	n := len(slots)
	if n < 2 || n&(n-1) != 0 {
		return nil, fmt.Errorf("connection table: %d slots is not a power of two ≥ 2", n)
	}
	for i := range slots {
		if slots[i] != (Entry{}) {
			return nil, fmt.Errorf("connection table: slot %d is not zeroed", i)
		}
	}
	return &Table{slots: slots, mask: uint64(n - 1), seed: seed, capacity: n / 2}, nil
}

// Len returns the number of live entries.
func (t *Table) Len() int { return t.count }

// Capacity returns the most entries the table will hold.
func (t *Table) Capacity() int { return t.capacity }

// Full reports whether an insert would exceed the capacity.
func (t *Table) Full() bool { return t.count >= t.capacity }

// hash returns the key's hash under this table's seed.
func (t *Table) hash(k FlowKey) uint64 { return k.Hash(t.seed) }

// home returns the slot index where a probe for hash h starts.
func (t *Table) home(h uint64) int { return int(h & t.mask) }

// slot returns a pointer to slot i, for prefetching.
func (t *Table) slot(i int) *Entry { return &t.slots[i] }

// EnableIPv6 gives the table the memory for its IPv6 entries' addresses,
// one Addrs6 per slot (Slots of them). Without it the table takes no IPv6
// entry.
func (t *Table) EnableIPv6(addrs []Addrs6) error {
	if len(addrs) != len(t.slots) {
		return fmt.Errorf("connection table: %d IPv6 address slots for %d slots", len(addrs), len(t.slots))
	}
	t.addrs6 = addrs
	return nil
}

// fold6 folds an IPv6 address to the 32 bits a FlowKey holds, by a hash
// keyed with the table's seed: a client that can choose its addresses
// cannot make many flows share a folded key, and so a home slot, without
// knowing the seed.
func (t *Table) fold6(a *[16]byte) uint32 {
	hi, lo := bits.Mul64(binary.BigEndian.Uint64(a[:8])^t.seed, 0x9e3779b97f4a7c15)
	h := hi ^ lo ^ binary.BigEndian.Uint64(a[8:])
	hi, lo = bits.Mul64(h, 0xbf58476d1ce4e5b9)
	return uint32(hi ^ lo)
}

// key6 returns the key of an IPv6 flow with addresses a.
func (t *Table) key6(a *Addrs6, srcPort, dstPort uint16, proto uint8) FlowKey {
	return FlowKey{SrcIP: t.fold6(&a.Src), DstIP: t.fold6(&a.Dst), SrcPort: srcPort, DstPort: dstPort, Proto: proto, IPv6: true}
}

// Addrs6 returns the addresses of IPv6 entry e, which must be one of this
// table's slots.
func (t *Table) Addrs6(e *Entry) Addrs6 { return t.addrs6[t.slotOf(e)] }

// find6 is find for an IPv6 key: the entry's full addresses must match a
// too.
func (t *Table) find6(k FlowKey, a *Addrs6, home int) (found, free int) {
	i := home
	for {
		e := &t.slots[i]
		if sameKey(&e.Key, &k) && t.addrs6[i] == *a {
			return i, -1
		}
		if e.empty() {
			return -1, i
		}
		i = int(uint64(i+1) & t.mask)
	}
}

// insertAt6 is insertAt for an IPv6 key with addresses a; nil when the
// table was given no room for IPv6 addresses (EnableIPv6).
func (t *Table) insertAt6(free int, k FlowKey, a *Addrs6) *Entry {
	if t.addrs6 == nil {
		return nil
	}
	t.addrs6[free] = *a
	return t.insertAt(free, k)
}

// clear empties the table.
func (t *Table) clear() {
	clear(t.slots)
	t.count = 0
}

// find probes from home for k. It returns the index of k's entry, or -1 and
// the first empty slot of the probe run (where k would be inserted).
func (t *Table) find(k FlowKey, home int) (found, free int) {
	i := home
	for {
		e := &t.slots[i]
		if sameKey(&e.Key, &k) {
			return i, -1
		}
		if e.empty() {
			return -1, i
		}
		i = int(uint64(i+1) & t.mask)
	}
}

// Lookup returns the entry for k, or nil.
func (t *Table) Lookup(k FlowKey) *Entry {
	i, _ := t.find(k, t.home(t.hash(k)))
	if i < 0 {
		return nil
	}
	return &t.slots[i]
}

// insertAt fills the empty slot free (from find) and returns the entry. An
// evicted entry on the key's probe path is also overwritten through it,
// after the count has been taken down for it.
func (t *Table) insertAt(free int, k FlowKey) *Entry {
	e := &t.slots[free]
	*e = Entry{Key: k}
	t.count++
	return e
}

// onProbePath reports whether slot lies on the probe run from home up to
// (not including) free, cyclically: the slots a lookup from home passes.
func (t *Table) onProbePath(slot, home, free int) bool {
	return uint64(slot-home)&t.mask < uint64(free-home)&t.mask
}

// Insert adds k (which must not be present) and returns its zeroed entry, or
// nil when the table is full.
func (t *Table) Insert(k FlowKey) *Entry {
	if t.Full() {
		return nil
	}
	found, free := t.find(k, t.home(t.hash(k)))
	if found >= 0 {
		return &t.slots[found]
	}
	return t.insertAt(free, k)
}

// deleteAt empties slot i and shifts later entries of the same probe run
// back into the hole (Knuth's algorithm R), so no tombstones are needed.
// Entries only ever move to positions at or after i (cyclically).
func (t *Table) deleteAt(i int) {
	hole := i
	j := i
	for {
		j = int(uint64(j+1) & t.mask)
		e := &t.slots[j]
		if e.empty() {
			break
		}
		h := t.home(t.hash(e.Key))
		// Move e into the hole unless its home lies cyclically in (hole, j].
		if (j > hole && (h <= hole || h > j)) || (j < hole && h <= hole && h > j) {
			t.slots[hole] = *e
			if e.Key.IPv6 {
				t.addrs6[hole] = t.addrs6[j]
			}
			hole = j
		}
	}
	t.slots[hole] = Entry{}
	t.count--
}

// Delete removes k if present and reports whether it was.
func (t *Table) Delete(k FlowKey) bool {
	i, _ := t.find(k, t.home(t.hash(k)))
	if i < 0 {
		return false
	}
	t.deleteAt(i)
	return true
}

// victimNear picks the entry to evict for a new key whose home slot is home,
// among the evictionWindow slots from there (further while none is a
// closing entry, see evictionWindow): the closing (FIN or RST) entry
// with the oldest LastSeen, else the oldest embryonic (SYN) entry, else the
// oldest ACTIVE entry that has seen no packet for longer than minIdle. It
// returns -1 when there is none: a recently active connection is never
// thrown out. Closing entries go first: their connections are over (a reset
// one is only kept against a spoofed RST), while an embryonic entry may be
// a real client between its SYN and its ACK — measured with vec-pktgen's
// syn mode, evicting those first lost every connection whose RST came after
// its SYN had been evicted. Under a SYN flood the window holds embryonic
// entries only, and the flood's oldest goes.
func (t *Table) victimNear(home int, now, minIdle int64) int {
	best, slot := t.scanVictims(notEvictable<<victimRankShift, -1, home, evictionWindow, now, minIdle)
	if best>>victimRankShift == rankClosing {
		return slot
	}
	best, slot = t.scanVictims(best, slot, home+evictionWindow, evictionWindow, now, minIdle)
	for n := 2 * evictionWindow; best>>victimRankShift == notEvictable; n++ {
		if n == evictionReach {
			return -1
		}
		best, slot = t.scanVictims(best, slot, home+n, 1, now, minIdle)
	}
	return slot
}

// Eviction ranks, lower first (victimRank): closing entries, embryonic
// ones, idle ACTIVE ones; an empty slot, a busy ACTIVE entry or an entry
// not yet given a state is never evicted.
const (
	rankClosing = iota
	rankEmbryonic
	rankIdle
	notEvictable
)

// victimRank is the eviction rank of each state (indexed by State&7, all
// eight listed). An empty slot is all zeroes (NewTable, deleteAt), so its
// State 0 ranks it notEvictable.
var victimRank = [8]uint8{
	0:           notEvictable,
	StateActive: rankIdle,
	StateFIN:    rankClosing,
	StateSYN:    rankEmbryonic,
	StateRST:    rankClosing,
	5:           notEvictable,
	6:           notEvictable,
	7:           notEvictable,
}

// A candidate's sort key: its rank above victimRankShift, below it how
// much younger than victimAgeLimit it is, so that the smallest key is the
// oldest entry of the best rank. Ages past victimAgeLimit (about 833 days)
// count as that.
const (
	victimRankShift = 56
	victimAgeLimit  = 1<<victimRankShift - 1
)

// scanVictims looks at the n slots from first (wrapping) for a better
// eviction candidate than best (a sort key) at slot, and returns the best
// one. It has no branch on what it reads, which are random under a SYN
// flood: it ran 1.6× faster than a switch over the states.
func (t *Table) scanVictims(best uint64, slot, first, n int, now, minIdle int64) (uint64, int) {
	for k := range n {
		i := int(uint64(first+k) & t.mask)
		e := &t.slots[i]
		rank := uint64(victimRank[e.State&7])
		age := now - e.LastSeen
		if rank == rankIdle && age <= minIdle {
			rank = notEvictable
		}
		key := rank<<victimRankShift | (victimAgeLimit - uint64(min(max(age, 0), victimAgeLimit)))
		if key < best {
			best, slot = key, i
		}
	}
	return best, slot
}

// Range calls fn for every live entry until fn returns false, in one go
// over the whole table: for the owning goroutine, in tests. A worker scans
// its table a bounded step at a time, with ScanHome.
func (t *Table) Range(fn func(*Entry) bool) {
	for i := range t.slots {
		if !t.slots[i].empty() && !fn(&t.slots[i]) {
			return
		}
	}
}

// Slots returns the number of slots: the home slots a scan by home slot
// (ScanRun, ScanHome) runs over are 0..Slots()-1.
func (t *Table) Slots() int { return len(t.slots) }

// A scan of the table that stops anywhere and resumes later takes the
// entries in the order of their home slots. An entry never lies before its
// home slot (every slot from its home slot to its own is taken), and
// neither an insert nor the backward-shift deletion changes an entry's
// home slot, so a scan that has taken the entries of home slots 0..h-1 and
// resumes at h visits every entry that stayed in the table exactly once,
// whatever was inserted or deleted meanwhile. A cursor over slot
// positions (like the reaper's) lacks this: a deletion behind it can shift
// an entry that was ahead of it back across it.

// ScanRun visits, in slot order, the entries whose home slot lies in
// [from, next), and returns next and how many slots it examined: next is
// one past the first empty slot at or after from (no entry's home slot
// lies in [from, next) but in the slots before it), or Slots() when the
// run from there wraps past the table's end (the entries of the last home
// slots that lie in the first slots are visited too). Only the entries of
// a run that from enters in the middle, whose home slot may lie before
// from, are hashed to check it, and only those want accepts; want sees the
// entries in slot order and must not change the table. visit gets every
// accepted entry whose home slot is in range; when it returns true, the
// entry is deleted and the slot looked at again (the deletion may shift a
// later entry into it).
func (t *Table) ScanRun(from int, want func(*Entry) bool, visit func(*Entry) bool) (next, examined int) {
	n := len(t.slots)
	check := !t.slots[int(uint64(from-1)&t.mask)].empty()
	wrapped := false
	for i := from; ; {
		examined++
		e := &t.slots[i]
		if e.empty() {
			// The table is never full, so every run ends.
			if wrapped {
				return n, examined
			}
			return i + 1, examined
		}
		if want(e) {
			ok := true
			if check || wrapped {
				// Past the end, the home slot lies at the end; before it,
				// an entry whose home slot is past i wrapped from there.
				h := t.home(t.hash(e.Key))
				ok = h >= from && (wrapped || h <= i)
			}
			if ok && visit(e) {
				t.deleteAt(i)
				continue
			}
		}
		if i++; i == n {
			i, wrapped = 0, true
		}
	}
}

// ScanHome visits, in slot order, the entries whose home slot is home
// (see ScanRun for want and visit), and returns how many slots it
// examined: the length of the probe run from home, plus one. It splits a
// run that ScanRun would visit at once.
func (t *Table) ScanHome(home int, want func(*Entry) bool, visit func(*Entry) bool) (examined int) {
	i := home
	for {
		examined++
		e := &t.slots[i]
		if e.empty() {
			return examined
		}
		if want(e) && t.home(t.hash(e.Key)) == home && visit(e) {
			t.deleteAt(i)
			continue
		}
		i = int(uint64(i+1) & t.mask)
	}
}
