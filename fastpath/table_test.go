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
