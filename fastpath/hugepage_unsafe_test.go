package fastpath

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugepageEntries maps n zeroed entries on 2 MiB hugepages, like the
// daemon's tables, falling back to the Go heap (4 KiB pages, many more TLB
// misses) when no hugepages are reserved; it logs which it got.
func hugepageEntries(b *testing.B, n int) []Entry { return hugepageSlice[Entry](b, n) }

// hugepageSlice is hugepageEntries for any pointer-free element type (the
// IPv6 addresses beside the table's slots, as the daemon allocates them).
func hugepageSlice[T any](b *testing.B, n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_HUGETLB|unix.MAP_POPULATE)
	if err != nil {
		b.Logf("%d MiB on 4 KiB pages: hugepage mmap failed: %v", size>>20, err)
		return make([]T, n)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[0])), n)
}
