//go:build !amd64

package fastpath

// prefetchSlots is a no-op where no assembly stub exists.
func prefetchSlots(*Entry, *int32, int) {}
