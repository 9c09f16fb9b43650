package fastpath

import "unsafe"

// growFront returns p extended by n bytes at its front: the n bytes before
// p[0] must belong to the same buffer (Core.SetHeadroom's promise), which
// only the caller of ProcessBurst can know. It copies nothing.
func growFront(p []byte, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p)), -n)), len(p)+n)
}
