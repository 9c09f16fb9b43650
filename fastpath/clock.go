package fastpath

import "time"

// Clock gives the fastpath its notion of time in nanoseconds. Cores read it
// once per burst and once per reaping step, never per packet.
type Clock interface {
	Now() int64
}

// MonotonicClock reads the process's monotonic clock.
type MonotonicClock struct{ start time.Time }

// NewMonotonicClock returns a clock whose zero is now.
func NewMonotonicClock() *MonotonicClock { return &MonotonicClock{start: time.Now()} }

// Now returns nanoseconds since the clock was made.
func (c *MonotonicClock) Now() int64 { return int64(time.Since(c.start)) }

// ManualClock only moves when told to: for tests and for replaying captures.
type ManualClock struct{ now int64 }

// Now returns the clock's time.
func (c *ManualClock) Now() int64 { return c.now }

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) { c.now += int64(d) }
