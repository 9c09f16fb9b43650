//go:build !amd64

package fastpath

// prefetch is a no-op where no assembly stub exists.
func prefetch(*Entry) {}
