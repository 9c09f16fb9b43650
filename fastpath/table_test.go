package fastpath

import (
	"math/rand/v2"
	"testing"
)

func TestTableSlots(t *testing.T) {
	for _, c := range []struct{ capacity, slots int }{{1, 2}, {2, 4}, {3, 8}, {4, 8}, {1000, 2048}, {1 << 20, 1 << 21}} {
		if got := TableSlots(c.capacity); got != c.slots {
			t.Errorf("TableSlots(%d) = %d, want %d", c.capacity, got, c.slots)
		}
	}
	if _, err := NewTable(make([]Entry, 6), 0); err == nil {
		t.Error("6 slots accepted")
	}
	dirty := make([]Entry, 4)
	dirty[2].Key.Proto = ProtoTCP
	if _, err := NewTable(dirty, 0); err == nil {
		t.Error("non-zeroed memory accepted")
	}
}

// Random inserts and deletes against a map: backward-shift deletion must
// keep every remaining key findable, including runs that wrap the array.
func TestTableMatchesMapUnderChurn(t *testing.T) {
	for _, slots := range []int{16, 256} {
		tbl, err := NewTable(make([]Entry, slots), 7)
		if err != nil {
			t.Fatal(err)
		}
		model := map[FlowKey]ServerID{}
		rng := rand.New(rand.NewPCG(1, 2))
		for step := range 200000 {
			k := NewFlowKey(ProtoTCP, rng.Uint32N(4), uint16(rng.UintN(uint(slots))), 1, 80)
			if _, ok := model[k]; ok && rng.IntN(2) == 0 {
				if !tbl.Delete(k) {
					t.Fatalf("step %d: delete of present key failed", step)
				}
				delete(model, k)
			} else if !ok && !tbl.Full() {
				e := tbl.Insert(k)
				e.Server = ServerID(step)
				model[k] = ServerID(step)
			}
			if tbl.Len() != len(model) {
				t.Fatalf("step %d: len %d, model %d", step, tbl.Len(), len(model))
			}
			if step%997 == 0 {
				for mk, srv := range model {
					if e := tbl.Lookup(mk); e == nil || e.Server != srv {
						t.Fatalf("step %d: key %+v lost", step, mk)
					}
				}
			}
		}
	}
}

// A full table at half load can have a run of empty slots (or of busy
// connections, or embryonic ones only) right after a new key's home: the
// search for a victim goes on past the window instead of answering
// table_full or evicting a client between its SYN and its ACK, but never
// beyond evictionReach.
func TestVictimSearchGoesPastAnEmptyWindow(t *testing.T) {
	tbl, err := NewTable(make([]Entry, 1024), 1)
	if err != nil {
		t.Fatal(err)
	}
	put := func(slot int, state ConnState, lastSeen int64) {
		tbl.slots[slot] = Entry{Key: FlowKey{SrcIP: uint32(slot), Proto: ProtoTCP}, State: state, LastSeen: lastSeen}
	}
	const home = 100
	put(home+evictionWindow+4, StateActive, 1000) // busy: never a victim
	put(home+evictionWindow+9, StateRST, 500)
	put(home+evictionWindow+12, StateRST, 100) // older: the one to go
	if got := tbl.victimNear(home, 1000, 1000); got != home+evictionWindow+12 {
		t.Fatalf("victim = slot %d, want the oldest closing entry within twice the window (%d)", got, home+evictionWindow+12)
	}
	// With only embryonic entries in the window, a closing entry up to
	// twice as far goes first.
	const synOnly = 400
	put(synOnly+2, StateSYN, 10)
	put(synOnly+2*evictionWindow-1, StateRST, 900)
	if got := tbl.victimNear(synOnly, 1000, 1000); got != synOnly+2*evictionWindow-1 {
		t.Fatalf("victim = slot %d, want the closing entry past a window of embryonic ones (%d)", got, synOnly+2*evictionWindow-1)
	}
	put(synOnly+2*evictionWindow+10, StateRST, 900)
	tbl.slots[synOnly+2*evictionWindow-1] = Entry{}
	if got := tbl.victimNear(synOnly, 1000, 1000); got != synOnly+2 {
		t.Fatalf("victim = slot %d, want the embryonic entry (%d): no closing one within twice the window", got, synOnly+2)
	}
	// Within the window the oldest of the best class still wins.
	put(home+3, StateSYN, 50)
	put(home+5, StateRST, 300)
	put(home+7, StateRST, 200)
	if got := tbl.victimNear(home, 1000, 1000); got != home+7 {
		t.Fatalf("victim = slot %d, want the oldest closing entry in the window (%d)", got, home+7)
	}
	// Nothing evictable within reach; then something just within it.
	const far = 600
	put(far+evictionReach, StateRST, 0)
	if got := tbl.victimNear(far, 1000, 1000); got != -1 {
		t.Fatalf("victim = slot %d beyond evictionReach, want none", got)
	}
	put(far+evictionReach-1, StateRST, 0)
	if got := tbl.victimNear(far, 1000, 1000); got != far+evictionReach-1 {
		t.Fatalf("victim = slot %d, want the last slot within reach (%d)", got, far+evictionReach-1)
	}
}
