package fastpath

// wrrState is one service's weighted-round-robin position on one core: the
// last selected server index and the current eligible weight (patent Fig. 7C
// and Fig. 8's "last selected node" and "current eligible weight"). The
// weights and their maximum live in the service's snapshot, so a weight
// change between bursts keeps the sequence going from where it was.
type wrrState struct {
	last    int // index of the last server picked
	current int // current eligible weight; 0 until the first pick
}

// pick returns the index of the next server, or -1 when every weight is 0.
// weights are already clamped to the service's weight bound, and maxWeight is
// their maximum. Fig. 7C: advance to the next server; past the last one, go
// back to the first and lower the eligible weight by one, restarting at the
// maximum when it reaches 0; choose the first server whose weight is at least
// the eligible weight. Because some server carries maxWeight, the loop ends
// within one pass over the servers per weight level.
func (s *wrrState) pick(weights []uint8, maxWeight int) int {
	n := len(weights)
	if maxWeight == 0 || n == 0 {
		return -1
	}
	if s.current == 0 { // first pick: start at the first server, top weight
		s.last, s.current = -1, maxWeight
	}
	if s.current > maxWeight {
		s.current = maxWeight
	}
	if s.last >= n {
		s.last = n - 1
	}
	for {
		s.last++
		if s.last >= n {
			s.last = 0
			s.current--
			if s.current <= 0 {
				s.current = maxWeight
			}
		}
		if int(weights[s.last]) >= s.current {
			return s.last
		}
	}
}
