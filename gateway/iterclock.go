package gateway

import (
	"math/bits"

	"vec/fastpath"
)

// iterationClock is a worker core's fastpath clock: the time of the poll
// iteration, set once per iteration from the time-stamp counter reading the
// poll timer takes anyway. The monotonic clock through the vDSO (kvm-clock
// on the development VM) took about 55 ns a read, and the fastpath read it
// twice per iteration (a burst and the reaper's step): over a nanosecond and
// a half per packet of a 32-packet burst. The ticks are turned into the
// gateway clock's nanoseconds from an anchor, a reading of both taken
// together, which is renewed every anchorPeriod: the entries' LastSeen
// times, which the control plane compares with the gateway clock, stay on
// its timebase, and the tick factor's error (below 0.01 %) never adds up to
// more than a fraction of a microsecond. The time never goes back.
type iterationClock struct {
	base         fastpath.Clock // the gateway's clock
	nanosPerTick uint64         // 32.32 fixed point, as the poll timer's
	anchorTicks  uint64
	anchorNanos  int64
	now          int64
}

// anchorPeriod is how long an anchor serves before the next iteration
// takes a new one.
const anchorPeriod = 1 << 20 // ns, about a millisecond

func newIterationClock(base fastpath.Clock) *iterationClock {
	c := &iterationClock{base: base, nanosPerTick: tickScale()}
	c.anchor()
	return c
}

// Now returns the time of the current iteration.
func (c *iterationClock) Now() int64 { return c.now }

// set makes ticks (a readTicks reading) the time of the iteration.
func (c *iterationClock) set(ticks uint64) {
	if ticks < c.anchorTicks {
		c.anchor()
		return
	}
	hi, lo := bits.Mul64(ticks-c.anchorTicks, c.nanosPerTick)
	elapsed := hi<<32 | lo>>32
	if hi>>32 != 0 || elapsed >= anchorPeriod {
		c.anchor()
		return
	}
	c.now = max(c.now, c.anchorNanos+int64(elapsed))
}

// anchor takes a new anchor: a reading of the gateway clock and the ticks
// at the same moment, as near as the tightest of a few tries between two
// tick readings (a worker preempted between the two readings would
// otherwise put the clock ahead by as long as it waited). The current
// iteration begins at the anchor.
func (c *iterationClock) anchor() {
	gap := uint64(0)
	for try := range anchorTries {
		before := readTicks()
		nanos := c.base.Now()
		after := readTicks()
		if try == 0 || after-before < gap {
			c.anchorTicks, c.anchorNanos, gap = before+(after-before)/2, nanos, after-before
		}
	}
	c.now = max(c.now, c.anchorNanos)
}

// anchorTries is how many readings anchor takes to keep the tightest.
const anchorTries = 3
