package dpdk

import (
	"bytes"
	"testing"
	"unsafe"
)

// A kept packet whose view was moved within its mbuf's buffer is sent as
// the view says: grown to the front into the headroom (as encapsulation
// does), or cut shorter (a reply); a view outside the buffer is freed.
func TestSendKeptFollowsMovedViews(t *testing.T) {
	pool := newPool(t, "t_moved", 2047)
	p := openPort(t, "net_ring6", PortConfig{Mempool: pool})
	b := newBurst(t, 8)
	if err := b.Alloc(pool, 3, 100); err != nil {
		t.Fatal(err)
	}
	if b.Headroom() < 32 {
		t.Fatalf("headroom %d after Alloc, want DPDK's (128)", b.Headroom())
	}
	pkts := b.Packets()
	for i, pkt := range pkts {
		fillPattern(pkt, i)
	}
	grown := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&pkts[0][0]), -32)), 132)
	copy(grown, bytes.Repeat([]byte{0xee}, 32))
	want := [][]byte{bytes.Clone(grown), bytes.Clone(pkts[1][:60])}
	pkts[0], pkts[1] = grown, pkts[1][:60]
	pkts[2] = unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&pkts[2][0]), -4096)), 100) // outside its buffer
	keep := b.Keep()
	keep[0], keep[1], keep[2] = 1, 1, 1
	if sent, freed := b.SendKept(p.ID, 0); sent != 2 || freed != 1 {
		t.Fatalf("sent %d, freed %d; want 2 and 1", sent, freed)
	}
	if n := b.Rx(p.ID, 0); n != 2 {
		t.Fatalf("received %d", n)
	}
	for i, pkt := range b.Packets() {
		if !bytes.Equal(pkt, want[i]) {
			t.Fatalf("packet %d: %d bytes, not the %d of its moved view", i, len(pkt), len(want[i]))
		}
	}
	b.Drop()
	if pool.InUse() != 0 {
		t.Fatalf("in use %d, want 0", pool.InUse())
	}
}
