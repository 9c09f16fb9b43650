package gateway

import (
	"testing"
	"time"

	"vec/fastpath"
)

// TestIterationClockFollowsTheGatewayClock: set with fresh tick readings,
// the iteration clock stays within a few microseconds of the clock it is
// anchored to, whether the iterations come fast or after long naps, and
// never goes back.
func TestIterationClockFollowsTheGatewayClock(t *testing.T) {
	base := fastpath.NewMonotonicClock()
	c := newIterationClock(base)
	last := c.Now()
	deadline := time.Now().Add(50 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		if i%1000 == 0 {
			time.Sleep(time.Duration(i%7) * 100 * time.Microsecond) // a nap
		}
		// The gateway clock read just before and just after bounds the
		// iteration clock, however long the goroutine is preempted in
		// between (a loaded machine).
		before := base.Now()
		c.set(readTicks())
		got := c.Now()
		after := base.Now()
		if got < last {
			t.Fatalf("the clock went back from %d to %d", last, got)
		}
		last = got
		if got > after+int64(20*time.Microsecond) || got < before-int64(anchorPeriod)-int64(20*time.Microsecond) {
			t.Fatalf("iteration clock %d, gateway clock %d before and %d after", got, before, after)
		}
	}
}

// TestIterationClockTicksBack: a tick reading before the anchor (another
// CPU's counter, a reset) takes a new anchor and does not move the time
// back.
func TestIterationClockTicksBack(t *testing.T) {
	c := newIterationClock(fastpath.NewMonotonicClock())
	c.set(readTicks())
	before := c.Now()
	c.set(c.anchorTicks - 1)
	if c.Now() < before {
		t.Fatalf("time went back from %d to %d", before, c.Now())
	}
}
