package fastpath

import "unsafe"

// slotOf returns the index of e, one of t's slots.
func (t *Table) slotOf(e *Entry) int {
	return int((uintptr(unsafe.Pointer(e)) - uintptr(unsafe.Pointer(unsafe.SliceData(t.slots)))) / unsafe.Sizeof(Entry{}))
}

// prefetchAddrs6 prefetches the IPv6 addresses beside the home slots
// homes[:n] (an Addrs6 is as long as an Entry, the stride prefetchSlots
// takes).
func (t *Table) prefetchAddrs6(homes *int32, n int) {
	if n > 0 {
		prefetchSlots((*Entry)(unsafe.Pointer(unsafe.SliceData(t.addrs6))), homes, n)
	}
}

// sameKey reports whether a and b are the same key, comparing them as two
// 64-bit words where == compares five fields one by one. It can: the
// padding of every FlowKey is zero (keys are built by composite literals,
// NewFlowKey or field by field in zeroed memory, and copied whole), so the
// words are equal exactly when the fields are (FuzzSameKey).
func sameKey(a, b *FlowKey) bool {
	x, y := (*[2]uint64)(unsafe.Pointer(a)), (*[2]uint64)(unsafe.Pointer(b))
	return x[0] == y[0] && x[1] == y[1]
}
