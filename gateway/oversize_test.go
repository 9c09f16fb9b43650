package gateway

import (
	"slices"
	"testing"

	"vec/dpdk"
	"vec/internal/limits"
)

// Frames that did not arrive whole — chained over several mbufs, or longer
// than the port's MTU allows — are found and left out; the rest keep their
// order and their places in the burst.
func TestOversizeFramesAreLeftOut(t *testing.T) {
	const maxFrame = 1514
	pkts := [][]byte{{0}, {1}, {2}, {3}, {4}, {5}}
	segs := []uint16{1, 2, 1, 1, 5, 1}
	lens := []uint32{60, 4000, 1514, 1515, 9014, 1000}
	if got := oversize(segs, lens, maxFrame); got != 3 {
		t.Fatalf("oversize = %d, want 3 (a chain, a frame one byte too long, a long chain)", got)
	}
	whole, at := wholeOnly(pkts, segs, lens, maxFrame, nil, nil)
	if !slices.Equal(at, []int{0, 2, 5}) || len(whole) != 3 || whole[0][0] != 0 || whole[1][0] != 2 || whole[2][0] != 5 {
		t.Fatalf("whole frames %v at %v", whole, at)
	}
	if got := oversize([]uint16{1, 1}, []uint32{9014, 64}, 9014); got != 0 {
		t.Errorf("a 9014-byte frame on an MTU-9000 port counted as oversize")
	}
	allocs := testing.AllocsPerRun(100, func() {
		var w worker
		if oversize(segs, lens, maxFrame) > 0 {
			wholeOnly(pkts, segs, lens, maxFrame, w.whole[:0], w.wholeAt[:0])
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per burst with oversize frames", allocs)
	}
}

// The packet buffers hold the longest frame of the largest MTU in one
// mbuf; the default MTU keeps the 2 KiB buffers of old.
func TestDataRoomFollowsMTU(t *testing.T) {
	if got := dataRoomFor(limits.DefaultMTU); got != mbufDataRoom {
		t.Errorf("data room for MTU 1500: %d, want %d", got, mbufDataRoom)
	}
	for _, mtu := range []int{limits.MinMTU, 1500, 4000, 9000, 9216, limits.MaxMTU} {
		room := int(dataRoomFor(mtu)) - dpdk.Headroom
		frame := dpdk.MaxFrameLen(uint16(mtu))
		if room < frame+dpdk.VLANTagLen+64 || room%1024 != 0 || room > frame+dpdk.VLANTagLen+64+1023 {
			t.Errorf("MTU %d: %d bytes of frame room for %d-byte frames", mtu, room, frame)
		}
	}
	rt := Options{PortOptions: []PortOptions{{MTU: 1500}, {MTU: 9000}}}
	if got := int(dataRoomFor(rt.MaxPortMTU())) - dpdk.Headroom; got != 9216 {
		t.Errorf("ports of MTU 1500 and 9000: %d bytes of frame room, want 9216", got)
	}
}
