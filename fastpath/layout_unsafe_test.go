package fastpath

import (
	"testing"
	"unsafe"
)

// TestEntryLayout pins what the prefetch assembly and the table's
// two-entries-per-cache-line reasoning assume.
func TestEntryLayout(t *testing.T) {
	if size := unsafe.Sizeof(Entry{}); size != 32 {
		t.Fatalf("an Entry is %d bytes; prefetch_amd64.s multiplies slot numbers by 32", size)
	}
	if size := unsafe.Sizeof(Addrs6{}); size != unsafe.Sizeof(Entry{}) {
		t.Fatalf("an Addrs6 is %d bytes, an Entry %d: prefetchAddrs6 uses prefetchSlots's stride", size, unsafe.Sizeof(Entry{}))
	}
	// prefetchWindows fetches 17 lines: the 2 × evictionWindow slots
	// victimNear reads, from a home slot that may be a line's second.
	if lines := (2*evictionWindow*int(unsafe.Sizeof(Entry{})))/64 + 1; lines != 17 {
		t.Fatalf("victimNear reads up to %d cache lines; prefetch_amd64.s's prefetchWindows fetches 17", lines)
	}
}

// FuzzSameKey checks that sameKey agrees with == on keys built the ways
// the fastpath builds them.
func FuzzSameKey(f *testing.F) {
	f.Add(uint32(1), uint32(2), uint16(3), uint16(4), uint8(6), uint32(1), uint32(2), uint16(3), uint16(4), uint8(6))
	f.Add(uint32(1), uint32(2), uint16(3), uint16(4), uint8(6), uint32(1), uint32(2), uint16(3), uint16(4), uint8(17))
	f.Fuzz(func(t *testing.T, s1, d1 uint32, sp1, dp1 uint16, p1 uint8, s2, d2 uint32, sp2, dp2 uint16, p2 uint8) {
		a := NewFlowKey(p1, s1, sp1, d1, dp1)
		var m packetMeta // field by field in zeroed memory, as flowPacket does
		m.key.SrcIP, m.key.DstIP, m.key.SrcPort, m.key.DstPort, m.key.Proto = s2, d2, sp2, dp2, p2
		if got, want := sameKey(&a, &m.key), a == m.key; got != want {
			t.Fatalf("sameKey(%+v, %+v) = %v, == says %v", a, m.key, got, want)
		}
	})
}
