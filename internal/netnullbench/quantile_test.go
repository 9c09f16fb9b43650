package netnullbench

import (
	"testing"
	"time"

	"vec/dataplane"
)

func TestPollQuantile(t *testing.T) {
	var h dataplane.PollTimes
	if q := pollQuantile(&h, 0.5); q != 0 {
		t.Errorf("median of nothing = %v, want 0", q)
	}
	h.Buckets[4] = 90 // (512 ns, 1024 ns]
	h.Buckets[10] = 9 // (32.768 µs, 65.536 µs]
	h.Buckets[12] = 1 // (131 µs, 262 µs]
	h.MaxNanos = 200_000
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.45, 768},               // halfway through bucket 4
		{0.9, 1024},               // its top
		{0.99, 65536},             // the top of bucket 10
		{0.995, 131072 + 68928/2}, // halfway from 131 µs to the longest
		{1, 200_000},              // the longest
	} {
		// Within a nanosecond: q × count is not always exact.
		if got := pollQuantile(&h, c.q); got < c.want-1 || got > c.want+1 {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
}
