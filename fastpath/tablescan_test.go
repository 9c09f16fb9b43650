package fastpath

import (
	"math/rand/v2"
	"testing"
)

// ScanRun visits exactly the entries whose home slot lies in [from, next),
// from any slot, including runs that wrap past the table's end, and
// deletes those visit asks it to without skipping or repeating any.
// ScanHome visits exactly one home slot's entries.
func TestScanRunVisitsTheEntriesOfItsHomeSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 2000 {
		slots := 1 << (3 + rng.IntN(3)) // 8..32: many runs wrap
		table, err := NewTable(make([]Entry, slots), rng.Uint64())
		if err != nil {
			t.Fatal(err)
		}
		home := map[FlowKey]int{}
		for range 1 + rng.IntN(slots/2) {
			k := FlowKey{SrcIP: rng.Uint32(), DstIP: 1, SrcPort: 1, DstPort: 80, Proto: ProtoTCP}
			if table.Insert(k) != nil {
				home[k] = table.home(table.hash(k))
			}
		}
		all := func(*Entry) bool { return true }
		// From any slot: the entries of home slots [from, next).
		from := rng.IntN(slots)
		visited := map[FlowKey]int{}
		next, examined := table.ScanRun(from, all, func(e *Entry) bool { visited[e.Key]++; return false })
		if next <= from || next > slots || examined < 1 {
			t.Fatalf("round %d: ScanRun(%d) = %d, %d", round, from, next, examined)
		}
		for k, h := range home {
			if want := h >= from && h < next; (visited[k] == 1) != want || visited[k] > 1 {
				t.Fatalf("round %d: ScanRun(%d) → %d visited the entry of home slot %d %d times", round, from, next, h, visited[k])
			}
		}
		// Home slot by home slot.
		h := rng.IntN(slots)
		clear(visited)
		table.ScanHome(h, all, func(e *Entry) bool { visited[e.Key]++; return false })
		for k, kh := range home {
			if (visited[k] == 1) != (kh == h) || visited[k] > 1 {
				t.Fatalf("round %d: ScanHome(%d) visited the entry of home slot %d %d times", round, h, kh, visited[k])
			}
		}
		// A whole pass that deletes about half: each entry visited once,
		// those deleted gone, the others still found.
		clear(visited)
		deleted := map[FlowKey]bool{}
		for at := 0; at < slots; {
			at, _ = table.ScanRun(at, all, func(e *Entry) bool {
				visited[e.Key]++
				if rng.IntN(2) == 0 {
					deleted[e.Key] = true
					return true
				}
				return false
			})
		}
		for k := range home {
			if visited[k] != 1 {
				t.Fatalf("round %d: a pass visited an entry %d times", round, visited[k])
			}
			if (table.Lookup(k) == nil) != deleted[k] {
				t.Fatalf("round %d: entry deleted %v, found %v", round, deleted[k], table.Lookup(k) != nil)
			}
		}
		if table.Len() != len(home)-len(deleted) {
			t.Fatalf("round %d: %d entries left, want %d", round, table.Len(), len(home)-len(deleted))
		}
	}
}
