package metrics

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"vec/control/apiwire"
)

// pollSource is a Source whose one worker has a given poll-iteration
// histogram.
type pollSource struct{ hist apiwire.PollTimes }

func (s pollSource) Counters(context.Context) (apiwire.Counters, error) {
	return apiwire.Counters{Cores: []apiwire.CoreCounters{{Core: 3, Drops: map[string]uint64{}, PollIteration: s.hist}}}, nil
}

func (s pollSource) Status() apiwire.Status { return apiwire.Status{} }

// The histogram goes out with cumulative buckets at the bounds
// dataplane.PollTimeBound gives, the iterations beyond the last bound in
// +Inf only, its sum in seconds and the longest iteration as a gauge.
func TestCollectorExportsPollIterationHistogram(t *testing.T) {
	var h apiwire.PollTimes
	h.Buckets[0] = 5                         // ≤ 64 ns
	h.Buckets[4] = 3                         // ≤ 1.024 µs
	h.Buckets[apiwire.PollTimeBuckets-1] = 2 // beyond the last bound
	h.SumNanos, h.MaxNanos = 50_000_000, 30_000_000
	s := scrape(t, NewCollector(pollSource{h}, 1024, zap.NewNop()))
	want := map[string]float64{
		`vec_worker_poll_iteration_seconds_bucket{core="3",le="6.4e-08"}`:     5,
		`vec_worker_poll_iteration_seconds_bucket{core="3",le="5.12e-07"}`:    5,
		`vec_worker_poll_iteration_seconds_bucket{core="3",le="1.024e-06"}`:   8,
		`vec_worker_poll_iteration_seconds_bucket{core="3",le="0.016777216"}`: 8,
		`vec_worker_poll_iteration_seconds_bucket{core="3",le="+Inf"}`:        10,
		`vec_worker_poll_iteration_seconds_count{core="3"}`:                   10,
		`vec_worker_poll_iteration_seconds_sum{core="3"}`:                     0.05,
		`vec_worker_poll_iteration_max_seconds{core="3"}`:                     0.03,
	}
	for name, v := range want {
		got, ok := s[name]
		if !ok {
			t.Errorf("%s missing from the scrape", name)
			continue
		}
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	buckets := 0
	for name := range s {
		if len(name) > 40 && name[:40] == `vec_worker_poll_iteration_seconds_bucket` {
			buckets++
		}
	}
	if buckets != apiwire.PollTimeBuckets {
		t.Errorf("%d buckets exported, want %d (every bound and +Inf)", buckets, apiwire.PollTimeBuckets)
	}
}
