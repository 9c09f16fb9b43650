package fastpath

// prefetchSlots asks the CPU to pull the cache lines of slots[homes[i]], i <
// n, into L1 (PREFETCHT0), in one call: Go has no prefetch intrinsic, and a
// call into assembly per packet cost more than the loop inside one. Hashing
// a whole burst and then prefetching every home slot before touching any of
// them measured 2–3× faster here than plain lookups. The assembly assumes
// 32-byte entries (TestEntryLayout).
//
//go:noescape
func prefetchSlots(slots *Entry, homes *int32, n int)
