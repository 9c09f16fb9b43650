package gateway

import (
	"testing"
	"time"

	"vec/dataplane"
)

// oneNanoPerTick is the factor of a tick source counting nanoseconds.
const oneNanoPerTick = 1 << 32

// Iterations land in the bucket whose bound is the first not below their
// time, each bound in its own bucket and a nanosecond more in the next,
// and those beyond the last bound in the last bucket.
func TestPollTimerBuckets(t *testing.T) {
	p := pollTimer{nanosPerTick: oneNanoPerTick}
	for i := range dataplane.PollTimeBuckets - 1 {
		bound := uint64(dataplane.PollTimeBound(i))
		p.hist = dataplane.PollTimes{}
		p.record(bound)
		if p.hist.Buckets[i] != 1 {
			t.Errorf("%d ns: buckets %v, want it in bucket %d", bound, p.hist.Buckets, i)
		}
		p.hist = dataplane.PollTimes{}
		p.record(bound + 1)
		if p.hist.Buckets[i+1] != 1 {
			t.Errorf("%d ns: buckets %v, want it in bucket %d", bound+1, p.hist.Buckets, i+1)
		}
	}
	p.hist = dataplane.PollTimes{}
	p.record(0)
	p.record(uint64(time.Hour))
	if p.hist.Buckets[0] != 1 || p.hist.Buckets[dataplane.PollTimeBuckets-1] != 1 {
		t.Errorf("0 ns and an hour: buckets %v, want one in the first and one in the last", p.hist.Buckets)
	}
}

// lap, fed by a fake tick source, times each iteration from one reading
// to the next through the tick factor, counts none before the first
// reading nor the one skipped (a nap), and keeps the sum and the longest.
func TestPollTimerLaps(t *testing.T) {
	// A 2 GHz counter: half a nanosecond per tick.
	p := pollTimer{nanosPerTick: oneNanoPerTick / 2}
	ticks := uint64(1_000_000)
	step := func(d uint64) { ticks += d; p.lap(ticks) }
	p.lap(ticks)  // the first iteration begins
	step(2000)    // 1 µs: bucket 4 (512 ns, 1.024 µs]
	step(2000)    // again
	step(80)      // 40 ns: bucket 0
	p.skip()      // the iteration begun now naps
	step(1 << 30) // not counted
	step(200_000) // 100 µs: bucket 11 (65.5 µs, 131 µs]
	want := dataplane.PollTimes{SumNanos: 1000 + 1000 + 40 + 100_000, MaxNanos: 100_000}
	want.Buckets[4], want.Buckets[0], want.Buckets[11] = 2, 1, 1
	if p.hist != want {
		t.Errorf("histogram %+v, want %+v", p.hist, want)
	}
}

// The timer counts without allocating: it runs in the poll loop.
func TestPollTimerAllocates(t *testing.T) {
	p := pollTimer{nanosPerTick: oneNanoPerTick}
	if n := testing.AllocsPerRun(1000, func() { p.lap(readTicks()) }); n != 0 {
		t.Errorf("lap allocates %v times per call", n)
	}
}

// The tick factor measured on this machine turns a sleep into about as
// many nanoseconds (within the sleep's own overshoot).
func TestTickScaleMatchesMonotonicClock(t *testing.T) {
	p := pollTimer{nanosPerTick: tickScale()}
	start := time.Now()
	p.lap(readTicks())
	time.Sleep(20 * time.Millisecond)
	p.lap(readTicks())
	elapsed := time.Since(start)
	got := time.Duration(p.hist.SumNanos)
	if got < 20*time.Millisecond || got > elapsed {
		t.Errorf("a %v sleep timed at %v by the ticks (monotonic clock: %v)", 20*time.Millisecond, got, elapsed)
	}
}

// The cost of the poll loop's time reading, next to the monotonic clock's.
func BenchmarkReadTicks(b *testing.B) {
	var sum uint64
	for b.Loop() {
		sum += readTicks()
	}
	_ = sum
}

func BenchmarkMonotonicClock(b *testing.B) {
	start := time.Now()
	var sum time.Duration
	for b.Loop() {
		sum += time.Since(start)
	}
	_ = sum
}

// BenchmarkPollTimerLap is what timing costs one iteration: the reading
// and the count.
func BenchmarkPollTimerLap(b *testing.B) {
	p := pollTimer{nanosPerTick: tickScale()}
	for b.Loop() {
		p.lap(readTicks())
	}
}
