package gateway

// A received frame longer than its port's MTU allows, or one the device
// delivered as a chain of mbufs, must not reach the fastpath: it sees the
// first segment only and would take it for a whole (and, being cut short,
// malformed) frame. The worker drops such frames and counts them as
// fastpath.DropOversize. The checks read the burst's per-packet segment
// counts and lengths, which Rx filled in C memory: no cgo call per packet.

// oversize returns how many of a burst's packets did not arrive whole:
// more than one segment, or longer than maxFrame.
func oversize(segs []uint16, lens []uint32, maxFrame uint32) int {
	bad := 0
	for i, s := range segs {
		if s != 1 || lens[i] > maxFrame {
			bad++
		}
	}
	return bad
}

// wholeOnly appends to whole the packets that arrived whole and to at
// their indices in pkts, and returns both.
func wholeOnly(pkts [][]byte, segs []uint16, lens []uint32, maxFrame uint32, whole [][]byte, at []int) ([][]byte, []int) {
	for i, p := range pkts {
		if segs[i] == 1 && lens[i] <= maxFrame {
			whole = append(whole, p)
			at = append(at, i)
		}
	}
	return whole, at
}
