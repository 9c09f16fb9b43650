//go:build !amd64

package fastpath

// prefetchSlots is a no-op where no assembly stub exists.
func prefetchSlots(*Entry, *int32, int) {}

// prefetchWindows is a no-op where no assembly stub exists.
func prefetchWindows(*Entry, *int32, int, uint64) {}
