package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every interval until it holds and returns how long
// that took; if timeout passes first it fails t, naming what it waited
// for.
func WaitFor(t testing.TB, what string, timeout, interval time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(interval)
	}
	return time.Since(start)
}
