package dpdk

import (
	"errors"
	"testing"
)

func newFrames(t *testing.T, n, size int) *Frames {
	t.Helper()
	f, err := NewFrames(n, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Free)
	return f
}

func TestFramesSendCopiesAndWraps(t *testing.T) {
	pool := newPool(t, "t_frames", 255)
	p := openPort(t, "net_ring4", PortConfig{Mempool: pool})
	f := newFrames(t, 5, 128)
	for i := range f.Len() {
		n := 60 + 10*i
		fillPattern(f.Slot(i)[:n], i)
		f.SetLen(i, n)
	}
	// Slots 3, 4, 0, 1: the run wraps after the last slot.
	sent, err := f.Send(pool, p.ID, 0, 3, 4)
	if err != nil || sent != 4 {
		t.Fatalf("Send = %d, %v; want 4 sent", sent, err)
	}
	rx := newBurst(t, 32)
	if n := rx.Rx(p.ID, 0); n != 4 {
		t.Fatalf("received %d frames, want 4", n)
	}
	for k, pkt := range rx.Packets() {
		slot := []int{3, 4, 0, 1}[k]
		want := make([]byte, 60+10*slot)
		fillPattern(want, slot)
		if string(pkt) != string(want) {
			t.Errorf("frame %d is not slot %d's frame (%d bytes, want %d)", k, slot, len(pkt), len(want))
		}
	}
	rx.Drop()

	if _, err := f.Send(pool, p.ID, 0, 0, FramesBurst+1); err == nil {
		t.Error("Send of more than FramesBurst frames succeeded")
	}
	if _, err := f.Send(pool, p.ID, 0, 5, 1); err == nil {
		t.Error("Send from a slot past the end succeeded")
	}
	f.SetLen(2, 129)
	if _, err := f.Send(pool, p.ID, 0, 2, 1); err == nil {
		t.Error("Send of a frame longer than its slot succeeded")
	}
	small := newPool(t, "t_frames_small", 15)
	if _, err := f.Send(small, p.ID, 0, 0, 32); !errors.Is(err, ErrNoMbufs) {
		t.Errorf("Send of 32 frames from a pool of 15: %v, want ErrNoMbufs", err)
	}
}

func TestFramesSendFreesWhatTheRingRefuses(t *testing.T) {
	pool := newPool(t, "t_frames_full", 4095)
	p := openPort(t, "net_ring4", PortConfig{Mempool: pool})
	f := newFrames(t, 1, 64)
	f.SetLen(0, 64)
	queued := 0
	for range 4096 / FramesBurst {
		sent, err := f.Send(pool, p.ID, 0, 0, FramesBurst)
		if err != nil {
			t.Fatal(err)
		}
		queued += sent
		if sent < FramesBurst {
			break
		}
	}
	if pool.InUse() != queued {
		t.Fatalf("%d mbufs in use, want the %d the ring took: the refused ones must be freed", pool.InUse(), queued)
	}
	rx := newBurst(t, 32)
	for got := 0; got < queued; {
		n := rx.Rx(p.ID, 0)
		if n == 0 {
			t.Fatalf("received %d of the %d frames the ring took", got, queued)
		}
		got += n
	}
	rx.Drop()
}

func TestNewFramesRejectsBadSizes(t *testing.T) {
	for _, c := range []struct{ n, size int }{{0, 64}, {1, 0}, {1, 70000}} {
		if f, err := NewFrames(c.n, c.size); err == nil {
			f.Free()
			t.Errorf("NewFrames(%d, %d) succeeded", c.n, c.size)
		}
	}
}
