package fastpath

import (
	"math/rand/v2"
	"testing"

	"vec/internal/limits"
)

// pageLimit is the control API's largest page (apiwire.MaxConnLimit).
const pageLimit = 1000

// matchNone and matchAll are List filters.
func matchNone(*Entry) bool { return false }
func matchAll(*Entry) bool  { return true }

// newCore makes a core whose table holds entries random connections, the
// i-th on server i%4.
func newCore(t testing.TB, capacity, entries int, rng *rand.Rand) (*Core, []FlowKey) {
	t.Helper()
	table, err := NewTable(make([]Entry, TableSlots(capacity)), rng.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	core, err := NewCore(snap, table, &ManualClock{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]FlowKey, 0, entries)
	for len(keys) < entries {
		k := randomKey(rng)
		if table.Lookup(k) != nil {
			continue
		}
		insert(t, table, k, ServerID(len(keys)%4))
		keys = append(keys, k)
	}
	return core, keys
}

func randomKey(rng *rand.Rand) FlowKey {
	return FlowKey{SrcIP: rng.Uint32(), DstIP: 0x0a010064, SrcPort: uint16(rng.Uint32()), DstPort: 80,
		Proto: ProtoTCP}
}

func insert(t testing.TB, table *Table, k FlowKey, server ServerID) {
	t.Helper()
	e := table.Insert(k)
	if e == nil {
		t.Fatal("table full")
	}
	e.Server, e.State = server, StateActive
}

// longestScan is the most slots one ScanHome of t examines: a step
// finishes the home slot it started, so it may go that far past its bound.
func longestScan(t *Table) int {
	longest := 0
	for h := range t.Slots() {
		longest = max(longest, t.ScanHome(h, func(*Entry) bool { return false }, nil))
	}
	return longest
}

// One listing request, and one purge step, examine a bounded number of
// slots wherever in the table they start and whatever its size: a deep
// page costs what the first one does.
func TestListAndPurgeExamineBoundedSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, capacity := range []int{1 << 12, 1 << 18} {
		core, _ := newCore(t, capacity, capacity*9/10, rng)
		table := core.Table()
		bound := ScanSlots + longestScan(table)
		buf := make([]ListedEntry, pageLimit)
		for _, home := range []int{0, table.Slots() / 2, table.Slots() - ScanSlots/2, table.Slots() - 1} {
			for _, match := range []func(*Entry) bool{matchNone, matchAll} {
				l := core.List(match, ListCursor{Home: home}, buf, ScanSlots)
				if l.Examined > bound {
					t.Errorf("table of %d slots, page at home slot %d: %d slots examined, bound %d", table.Slots(), home, l.Examined, bound)
				}
				if !l.Done && l.Next.Home <= home {
					t.Errorf("table of %d slots, page at home slot %d: no progress (next %+v)", table.Slots(), home, l.Next)
				}
			}
		}
		// Matching nothing, a listing of the whole table takes one
		// request per ScanSlots slots or so.
		requests := 0
		for c := (ListCursor{}); ; requests++ {
			l := core.List(matchNone, c, buf, ScanSlots)
			if l.Done {
				break
			}
			c = l.Next
		}
		if fewest := table.Slots()/bound - 1; requests < fewest {
			t.Errorf("table of %d slots listed in %d requests, fewer than %d: a request examined more than its bound", table.Slots(), requests, fewest)
		}
		// A purge step is bounded the same way.
		drop := make([]bool, limits.MaxServers)
		drop[1] = true
		p := NewPurge(drop)
		for steps := 0; ; steps++ {
			examined, done := core.PurgeStep(p, ScanSlots)
			if examined > bound {
				t.Fatalf("table of %d slots: purge step %d examined %d slots, bound %d", table.Slots(), steps, examined, bound)
			}
			if done {
				break
			}
		}
	}
}

// Listing a table page by page, while packets insert and delete entries
// between pages, lists every entry that stays in the table from the first
// page to the last exactly once, and no entry twice. (Paging over several
// workers' tables, dataplane.PageConnections, hands over from one table's
// end to the next table's start.)
func TestListingVisitsEveryEntryOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    int
		maxSlots int
		deletes  bool
	}{
		{"pages of 100, deletes and inserts between pages", 100, ScanSlots, true},
		{"pages of 7, short steps, deletes and inserts", 7, 64, true},
		// With pages of one entry, entries of one home slot span pages
		// (ListCursor.Skip); the guarantee holds with inserts.
		{"pages of 1, inserts between pages", 1, 64, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			core, keys := newCore(t, 1<<12, (1<<12)*6/10, rng)
			table := core.Table()
			live := map[FlowKey]bool{}
			stable := map[FlowKey]bool{} // present all along
			ever := map[FlowKey]bool{}
			for _, k := range keys {
				live[k], stable[k], ever[k] = true, true, true
			}
			listed := map[FlowKey]int{}
			buf := make([]ListedEntry, tc.limit)
			pages := 0
			for c := (ListCursor{}); ; pages++ {
				l := core.List(matchAll, c, buf, tc.maxSlots)
				if l.Copied > tc.limit {
					t.Fatalf("page %d: %d entries, room for %d", pages, l.Copied, tc.limit)
				}
				for _, e := range buf[:l.Copied] {
					listed[e.Key]++
				}
				if l.Done {
					break
				}
				c = l.Next
				// Between pages, the worker forwards packets: a few
				// connections end, a few start.
				for range 3 {
					if k := randomKey(rng); !ever[k] && !table.Full() {
						insert(t, table, k, 0)
						live[k], ever[k] = true, true
					}
				}
				if tc.deletes {
					for k := range live {
						if rng.IntN(200) == 0 {
							table.Delete(k)
							delete(live, k)
							delete(stable, k)
						}
					}
				}
			}
			for k, n := range listed {
				if n > 1 {
					t.Errorf("entry %v listed %d times", k, n)
				}
				if !ever[k] {
					t.Errorf("entry %v listed, never in the table", k)
				}
			}
			missed := 0
			for k := range stable {
				if listed[k] != 1 {
					missed++
				}
			}
			if missed > 0 {
				t.Errorf("%d of %d entries present all along not listed", missed, len(stable))
			}
			t.Logf("%d pages, %d entries listed, %d present all along", pages, len(listed), len(stable))
		})
	}
}

// A purge drops every entry of the purged servers, resumed over many
// steps while other entries come and go between them, and resets their
// counters only when done.
func TestPurgeInStepsDropsEveryEntry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	core, keys := newCore(t, 1<<12, 3000, rng)
	table := core.Table()
	core.Servers[2].Active = 99
	drop := make([]bool, limits.MaxServers)
	drop[2] = true
	p := NewPurge(drop)
	steps := 0
	for {
		_, done := core.PurgeStep(p, 64)
		if done {
			break
		}
		steps++
		if core.Servers[2].Active != 99 {
			t.Fatal("counters reset before the purge is done")
		}
		// Entries of other servers end and start between steps; a
		// deletion shifts entries back, across the purge's position.
		for range 2 {
			k := keys[rng.IntN(len(keys))]
			if e := table.Lookup(k); e != nil && e.Server != 2 {
				table.Delete(k)
			}
			if k := randomKey(rng); table.Lookup(k) == nil && !table.Full() {
				insert(t, table, k, 3)
			}
		}
	}
	if steps < table.Slots()/(64+longestScan(table)) {
		t.Errorf("purge done in %d steps of 64 slots over %d slots", steps, table.Slots())
	}
	left := 0
	table.Range(func(e *Entry) bool {
		if e.Server == 2 {
			left++
		}
		return true
	})
	if left > 0 || p.Dropped != 750 {
		t.Errorf("%d entries of the purged server left, %d dropped, want 0 and 750", left, p.Dropped)
	}
	if core.Servers[2] != (ServerCounters{}) || core.Counters.Entries != uint64(table.Len()) {
		t.Errorf("after the purge: server counters %+v, entries %d of %d", core.Servers[2], core.Counters.Entries, table.Len())
	}
}

// What one listing request costs the worker on a table of a million
// entries (two million slots): a full page from anywhere in the table, and
// a request whose filter matches nothing (it examines ScanSlots slots).
func BenchmarkListRequest(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	core, _ := newCore(b, 1<<20, 1<<20, rng)
	buf := make([]ListedEntry, pageLimit)
	for _, bc := range []struct {
		name  string
		match func(*Entry) bool
	}{
		{"page of 1000", matchAll},
		{"no match", matchNone},
	} {
		b.Run(bc.name, func(b *testing.B) {
			examined := 0
			for b.Loop() {
				l := core.List(bc.match, ListCursor{Home: rng.IntN(core.Table().Slots())}, buf, ScanSlots)
				examined += l.Examined
			}
			b.ReportMetric(float64(examined)/float64(b.N), "slots/op")
		})
	}
}

// What one purge step costs the worker on the same table.
func BenchmarkPurgeStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	core, _ := newCore(b, 1<<20, 1<<20, rng)
	drop := make([]bool, limits.MaxServers)
	drop[5] = true // no entry: the step examines, drops nothing
	p := NewPurge(drop)
	for b.Loop() {
		if _, done := core.PurgeStep(p, ScanSlots); done {
			p = NewPurge(drop)
		}
	}
}
