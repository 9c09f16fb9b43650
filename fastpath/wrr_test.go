package fastpath

import (
	"net/netip"
	"slices"
	"testing"

	"vec/internal/limits"
)

func picks(s *wrrState, weights []uint8, n int) []int {
	mw := int(slices.Max(weights))
	out := make([]int, n)
	for i := range out {
		out[i] = s.pick(weights, mw)
	}
	return out
}

func TestWRRThreeTwoExactOverEveryFivePicks(t *testing.T) {
	var s wrrState
	seq := picks(&s, []uint8{3, 2}, 500)
	for start := 0; start+5 <= len(seq); start += 5 {
		var count [2]int
		for _, i := range seq[start : start+5] {
			count[i]++
		}
		if count != [2]int{3, 2} {
			t.Fatalf("picks %d..%d = %v: %v, want 3:2", start, start+4, seq[start:start+5], count)
		}
	}
	// Fig. 7C's order: eligible weight 3 takes server 0 only, 2 and 1 take both.
	if want := []int{0, 0, 1, 0, 1}; !slices.Equal(seq[:5], want) {
		t.Fatalf("sequence %v, want %v", seq[:5], want)
	}
}

func TestWRRFiveZeroOne(t *testing.T) {
	var s wrrState
	seq := picks(&s, []uint8{5, 0, 1}, 60)
	if want := []int{0, 0, 0, 0, 0, 2}; !slices.Equal(seq[:6], want) {
		t.Fatalf("first cycle %v, want %v", seq[:6], want)
	}
	var count [3]int
	for _, i := range seq {
		count[i]++
	}
	if count != [3]int{50, 0, 10} {
		t.Fatalf("counts %v, want [50 0 10]", count)
	}
}

func TestWRRAllZeroPicksNothing(t *testing.T) {
	var s wrrState
	for _, i := range picks(&s, []uint8{0, 0}, 3) {
		if i != -1 {
			t.Fatalf("picked %d with all weights 0", i)
		}
	}
	if got := s.pick(nil, 0); got != -1 {
		t.Fatalf("picked %d from no servers", got)
	}
}

func TestWRRWeightBoundClamps(t *testing.T) {
	cfg := &Config{Services: []ServiceConfig{{
		ID: 0, VIP: netip.MustParseAddr("10.0.0.100"), Proto: ProtoTCP, Port: 80, WeightBound: 4,
		Servers: []ServerConfig{{ID: 0, MAC: serverMAC(0), Weight: 10}, {ID: 1, MAC: serverMAC(1), Weight: 2}},
	}}}
	snap, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := &snap.services[0]
	if !slices.Equal(svc.weights, []uint8{4, 2}) || svc.maxWeight != 4 {
		t.Fatalf("weights %v max %d, want [4 2] max 4", svc.weights, svc.maxWeight)
	}
	var s wrrState
	var count [2]int
	for range 60 {
		count[s.pick(svc.weights, svc.maxWeight)]++
	}
	if count != [2]int{40, 20} {
		t.Fatalf("counts %v, want 4:2", count)
	}
	cfg.Services[0].WeightBound = limits.MaxWeightBound + 1
	if _, err := NewSnapshot(cfg); err == nil {
		t.Fatal("a weight bound above the maximum was accepted")
	}
}

// A weight change between picks continues the sequence: the position and
// the eligible weight carry over, clamped to the new maximum.
func TestWRRWeightChangeMidSequence(t *testing.T) {
	var s wrrState
	first := picks(&s, []uint8{3, 2}, 2) // 0, 0: position server 0, eligible weight 2
	if !slices.Equal(first, []int{0, 0}) {
		t.Fatalf("first picks %v", first)
	}
	// Server 0 quiesced: the cycle goes on from server 1 without restarting.
	next := picks(&s, []uint8{0, 2}, 4)
	if !slices.Equal(next, []int{1, 1, 1, 1}) {
		t.Fatalf("after quiescing server 0: %v", next)
	}
	// Back to 1:1 with a lower maximum: the eligible weight is clamped, no
	// server is skipped or picked twice in a row unfairly.
	after := picks(&s, []uint8{1, 1}, 10)
	var count [2]int
	for _, i := range after {
		count[i]++
	}
	if count != [2]int{5, 5} {
		t.Fatalf("1:1 after change: %v (%v)", count, after)
	}
	// A server list that shrank under the saved position still works.
	s2 := wrrState{last: 5, current: 3}
	if got := s2.pick([]uint8{2, 2}, 2); got != 0 {
		t.Fatalf("after shrink picked %d, want 0", got)
	}
}
