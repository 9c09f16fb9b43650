package fastpath

import "unsafe"

// sameKey reports whether a and b are the same key, comparing them as two
// 64-bit words where == compares five fields one by one. It can: the
// padding of every FlowKey is zero (keys are built by composite literals,
// NewFlowKey or field by field in zeroed memory, and copied whole), so the
// words are equal exactly when the fields are (FuzzSameKey).
func sameKey(a, b *FlowKey) bool {
	x, y := (*[2]uint64)(unsafe.Pointer(a)), (*[2]uint64)(unsafe.Pointer(b))
	return x[0] == y[0] && x[1] == y[1]
}
