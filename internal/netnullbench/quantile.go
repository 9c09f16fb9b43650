package netnullbench

import (
	"time"

	"vec/dataplane"
)

// pollQuantile estimates the q-quantile (0 < q ≤ 1) of the iteration times
// in h the way Prometheus's histogram_quantile does: linearly within the
// bucket that holds it, capped at the longest iteration. It is 0 for an
// empty histogram.
func pollQuantile(h *dataplane.PollTimes, q float64) time.Duration {
	count := h.Count()
	if count == 0 {
		return 0
	}
	rank := q * float64(count)
	var below uint64
	for i, n := range h.Buckets {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		lo, hi := time.Duration(0), time.Duration(h.MaxNanos)
		if i > 0 {
			lo = dataplane.PollTimeBound(i - 1)
		}
		if i < dataplane.PollTimeBuckets-1 {
			hi = min(hi, dataplane.PollTimeBound(i))
		}
		at := lo + time.Duration((rank-float64(below))/float64(n)*float64(hi-lo))
		return min(at, time.Duration(h.MaxNanos))
	}
	return time.Duration(h.MaxNanos)
}
