package gateway

import (
	"testing"

	"vec/internal/testenv"
)

// The tests run off the main goroutine: dpdk.Init (Gateway.Start) must run
// on it (runOnMain).
func TestMain(m *testing.M) { testenv.RunTestsOffMain(m) }

// runOnMain runs f on the main goroutine and returns when it has.
func runOnMain(f func()) { testenv.OnMain(f) }
