//go:build !amd64

package gateway

import "time"

// tickEpoch is the zero of readTicks where no TSC stub exists.
var tickEpoch = time.Now()

// readTicks reads the monotonic clock in nanoseconds where no assembly
// stub exists (measureTickScale then finds a factor of 1).
func readTicks() uint64 { return uint64(time.Since(tickEpoch)) }
