package fastpath

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Scheduler is how a service picks the server of a new connection.
type Scheduler uint8

// Schedulers.
const (
	// SchedulerWRR is the weighted round robin of Fig. 7C (wrr.go), each
	// core keeping its own position: the default.
	SchedulerWRR Scheduler = iota
	// SchedulerMaglev looks the flow's hash up in a weighted Maglev table
	// (Eisenbud et al., NSDI 2016) built from the servers' names and
	// weights, so every gateway with the same configuration picks the same
	// server for a flow, and one that sees a connection's packets only
	// mid-flow can still find its server (docs/maglev.md).
	SchedulerMaglev
)

func (s Scheduler) String() string {
	switch s {
	case SchedulerWRR:
		return "wrr"
	case SchedulerMaglev:
		return "maglev"
	}
	return "unknown"
}

// MaglevTableSize is the number of slots of a Maglev table: a prime, so that
// every skip in 1..M-1 makes a server's preference list a permutation of
// all the slots, and large against the number of servers (the paper asks for
// M ≫ N; with a few dozen servers each one's share is within a fraction of a
// percent of its weight's). A table is 128 KiB of uint16.
const MaglevTableSize = 65537

// maglevFlowSeed seeds the flow hash that indexes a Maglev table. It is a
// constant, unlike the connection table's random seed: every gateway must
// put a flow in the same slot.
const maglevFlowSeed uint64 = 0x6d61676c65762d31 // "maglev-1"

// maglevSlot is the slot of the flow k (its 5-tuple hashed with
// maglevFlowSeed) in any Maglev table.
func (c *Core) maglevSlot(m *packetMeta) uint32 {
	k := &m.key
	src, dst := k.SrcIP, k.DstIP
	if k.IPv6 {
		// The key's folded addresses depend on the table's seed; every
		// gateway must find the same slot, so fold them without one.
		a := c.addrs(m)
		src, dst = foldFixed(&a.Src), foldFixed(&a.Dst)
	}
	return uint32(hashTuple(src, dst, k.SrcPort, k.DstPort, k.Proto, maglevFlowSeed) % MaglevTableSize)
}

// foldFixed folds an IPv6 address to 32 bits with no seed, for maglevSlot.
func foldFixed(a *[16]byte) uint32 {
	be := binary.BigEndian
	return be.Uint32(a[0:]) ^ be.Uint32(a[4:]) ^ be.Uint32(a[8:]) ^ be.Uint32(a[12:])
}

// maglevMember is one server of a Maglev table: the inputs of the table
// are the members' names and weights, nothing else.
type maglevMember struct {
	name   string
	weight int
}

// maglevTable is a weighted Maglev lookup table: slots[i] is the index in
// members of the server that owns slot i. It is built once, off the
// workers, and never changed, so snapshots share it while its service's
// members stay the same. A table of no members has no slots.
type maglevTable struct {
	members []maglevMember // sorted by name
	slots   []uint16       // MaglevTableSize entries, or none
}

// maglevHashes are the two hashes of a server's name that make its
// permutation: FNV-1a from two different offset bases, each finished by
// splitmix64's mixer. Fixed and unseeded: every process computes the same.
func maglevHashes(name string) (h1, h2 uint64) {
	const prime = 0x100000001b3
	h1, h2 = 0xcbf29ce484222325, 0x84222325cbf29ce4
	for i := 0; i < len(name); i++ {
		h1 = (h1 ^ uint64(name[i])) * prime
		h2 = (h2 ^ uint64(name[i])) * prime
	}
	return mix64(h1), mix64(h2)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// buildMaglev fills a table for members (sorted by name, names distinct,
// weights above 0) as the paper's Population procedure does, weighted:
// in every round each member, in name order, takes weight turns, and a
// turn claims the next slot of its permutation (offset, offset+skip, …
// mod M) that nobody holds yet. A member's share of the slots is its share
// of the weights, up to the last, partial round.
func buildMaglev(members []maglevMember) *maglevTable {
	t := &maglevTable{members: members}
	if len(members) == 0 {
		return t
	}
	const m = MaglevTableSize
	const empty = ^uint16(0) // members are at most limits.MaxServers, far below it
	t.slots = make([]uint16, m)
	for i := range t.slots {
		t.slots[i] = empty
	}
	next := make([]uint32, len(members)) // the member's next candidate slot
	skip := make([]uint32, len(members))
	for i, mb := range members {
		h1, h2 := maglevHashes(mb.name)
		next[i] = uint32(h1 % m)
		skip[i] = uint32(h2%(m-1)) + 1
	}
	filled := 0
	for {
		for i, mb := range members {
			for range mb.weight {
				c := next[i]
				for t.slots[c] != empty {
					if c += skip[i]; c >= m {
						c -= m
					}
				}
				t.slots[c] = uint16(i)
				if c += skip[i]; c >= m {
					c -= m
				}
				next[i] = c
				if filled++; filled == m {
					return t
				}
			}
		}
	}
}

// sameMembers reports whether t was built from exactly members.
func (t *maglevTable) sameMembers(members []maglevMember) bool {
	return slices.Equal(t.members, members)
}

// maglevLookup is a Maglev service's pair of tables in one snapshot: the
// current one, which schedules new connections, and the previous one, the
// table the service had before the last change of its members (the current
// one itself when there was none). currentIndex and previousIndex map a
// table's member to the service's servers index in this snapshot;
// previousIndex is -1 for a member that is no longer one of the service's
// servers.
type maglevLookup struct {
	current, previous           *maglevTable
	currentIndex, previousIndex []int32
}

// pick returns the servers index that the current table gives the flow in
// slot; the table must have members (the service's maxWeight is above 0).
func (l *maglevLookup) pick(slot uint32) int {
	return int(l.currentIndex[l.current.slots[slot]])
}

// secondChance returns the server of a flow in slot that the gateway has no
// entry for but whose packets are mid-flow: the previous table's server
// when the two tables disagree on the slot (the connection most likely
// began before the change; previous is then true), the current table's
// otherwise, and the current one's too when the previous table's server is
// gone from the service. -1: neither table has a server for it.
func (l *maglevLookup) secondChance(slot uint32) (index int, previous bool) {
	cur := -1
	if l.current.slots != nil {
		cur = int(l.currentIndex[l.current.slots[slot]])
	}
	if l.previous.slots == nil {
		return cur, false
	}
	prev := int(l.previousIndex[l.previous.slots[slot]])
	if prev < 0 || prev == cur {
		return cur, false
	}
	return prev, true
}

// compileMaglev builds (or takes over from before) the tables of svc, a
// Maglev service compiled from sc; before is the service with the same ID
// in the snapshot in force, or nil. The members are the servers that take
// new connections (a weight above 0 in svc.weights: resolved, not
// quiesced), by name. When they are the same as before's current table,
// both of before's tables carry over; otherwise a new table is built and
// before's current one becomes the previous one.
func compileMaglev(svc *service, sc *ServiceConfig, before *service) (*maglevLookup, error) {
	var members []maglevMember
	var index []int32
	for i, srv := range sc.Servers {
		if svc.weights[i] == 0 {
			continue
		}
		if srv.Name == "" {
			return nil, fmt.Errorf("server %d: a maglev service needs every server's name", srv.ID)
		}
		members = append(members, maglevMember{name: srv.Name, weight: int(svc.weights[i])})
		index = append(index, int32(i))
	}
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(members[a].name, members[b].name) })
	sorted := make([]maglevMember, len(members))
	currentIndex := make([]int32, len(members))
	for i, j := range order {
		sorted[i], currentIndex[i] = members[j], index[j]
		if i > 0 && sorted[i].name == sorted[i-1].name {
			return nil, fmt.Errorf("servers %d and %d: both named %q (a maglev table needs distinct names)",
				sc.Servers[currentIndex[i-1]].ID, sc.Servers[currentIndex[i]].ID, sorted[i].name)
		}
	}
	l := &maglevLookup{currentIndex: currentIndex}
	var old *maglevLookup
	if before != nil && before.key == svc.key {
		old = before.maglev
	}
	byID := make(map[ServerID]int32, len(sc.Servers))
	for i, srv := range sc.Servers {
		byID[srv.ID] = int32(i)
	}
	switch {
	case old == nil:
		l.current = buildMaglev(sorted)
		l.previous, l.previousIndex = l.current, l.currentIndex
	case old.current.sameMembers(sorted):
		l.current = old.current
		l.previous, l.previousIndex = old.previous, carryIndex(old.previous, old.previousIndex, before, sc, byID)
	default:
		l.current = buildMaglev(sorted)
		l.previous, l.previousIndex = old.current, carryIndex(old.current, old.currentIndex, before, sc, byID)
	}
	return l, nil
}

// carryIndex maps the members of t, which were before's servers at
// oldIndex, to the servers of sc: the same ServerID under the same name, or
// -1 when that server is gone. byID is the servers index of each of sc's
// ServerIDs.
func carryIndex(t *maglevTable, oldIndex []int32, before *service, sc *ServiceConfig, byID map[ServerID]int32) []int32 {
	out := make([]int32, len(oldIndex))
	for i, j := range oldIndex {
		out[i] = -1
		if j < 0 {
			continue
		}
		if k, ok := byID[before.servers[j]]; ok && sc.Servers[k].Name == t.members[i].name {
			out[i] = k
		}
	}
	return out
}
