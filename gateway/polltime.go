package gateway

import (
	"math/bits"
	"sync"
	"time"

	"vec/dataplane"
)

// A worker times its poll iterations with one read of the CPU's time-stamp
// counter per iteration (readTicks: RDTSC on amd64, which took less than
// half as long as the monotonic clock through the vDSO on the development
// machine; BenchmarkReadTicks, BenchmarkMonotonicClock) and counts them into a histogram of log2 buckets
// (dataplane.PollTimes) that only the worker writes and the control plane
// copies through the counters request. The ticks are converted to
// nanoseconds with a factor measured once per process against the
// monotonic clock: the workers are pinned and the TSC of the CPUs vecd
// runs on is invariant (constant_tsc, nonstop_tsc), so the factor holds.

// pollTimer is a worker's poll-iteration histogram and the tick reading at
// the start of the iteration being timed.
type pollTimer struct {
	hist dataplane.PollTimes
	// nanosPerTick is a 32.32 fixed-point factor: ns = ticks × it >> 32.
	nanosPerTick uint64
	last         uint64
	timing       bool // last is the start of an iteration to count
}

func newPollTimer() pollTimer { return pollTimer{nanosPerTick: tickScale()} }

// lap ends the iteration begun at the previous lap, counting it unless it
// was skipped, and begins the next one at now (a readTicks reading).
func (p *pollTimer) lap(now uint64) {
	if p.timing && now >= p.last {
		hi, lo := bits.Mul64(now-p.last, p.nanosPerTick)
		p.record(hi<<32 | lo>>32)
	}
	p.last, p.timing = now, true
}

// skip leaves the current iteration uncounted (it napped).
func (p *pollTimer) skip() { p.timing = false }

// record counts one iteration of ns nanoseconds: bucket i holds
// (64 ns << (i-1), 64 ns << i], bucket 0 everything up to 64 ns.
func (p *pollTimer) record(ns uint64) {
	i := min(bits.Len64((max(ns, 1)-1)>>6), dataplane.PollTimeBuckets-1)
	p.hist.Buckets[i]++
	p.hist.SumNanos += ns
	p.hist.MaxNanos = max(p.hist.MaxNanos, ns)
}

// tickScale is the process's readTicks-to-nanoseconds factor, measured on
// first use.
var tickScale = sync.OnceValue(measureTickScale)

// tickCalibration is how long measureTickScale compares the ticks with
// the monotonic clock: a reading's error of a few hundred nanoseconds is
// then below 0.01 %.
const tickCalibration = 10 * time.Millisecond

// measureTickScale reads the ticks and the monotonic clock together,
// waits tickCalibration and reads them again; the pair read closest
// together of a few tries is kept at each end.
func measureTickScale() uint64 {
	epoch := time.Now()
	pair := func() (uint64, time.Duration) {
		var ticks, gap uint64
		var mono time.Duration
		for i := range 5 {
			a := readTicks()
			m := time.Since(epoch)
			b := readTicks()
			if i == 0 || b-a < gap {
				ticks, mono, gap = a+(b-a)/2, m, b-a
			}
		}
		return ticks, mono
	}
	t0, m0 := pair()
	time.Sleep(tickCalibration)
	t1, m1 := pair()
	if t1 <= t0 || m1 <= m0 {
		return 1 << 32 // cannot happen with a working clock; count ticks as ns
	}
	return uint64(m1-m0) << 32 / (t1 - t0)
}
