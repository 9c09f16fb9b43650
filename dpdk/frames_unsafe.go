package dpdk

/*
#include <errno.h>
#include "frames.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"syscall"
	"unsafe"
)

// FramesBurst is the most frames one Frames.Send call sends.
const FramesBurst = C.VEC_FRAMES_BURST

// ErrNoMbufs is Frames.Send's error when the mempool has fewer free mbufs
// than the burst needs: every buffer is in flight. It is a fixed value, so
// a sender waiting for buffers to come back allocates nothing.
var ErrNoMbufs = errors.New("dpdk: no free mbufs for the burst")

// Frames is a store of pre-built frames in C memory, for a traffic
// generator that prepares its traffic ahead: Go writes the frames once
// through Slot and SetLen, and each Send is one cgo call that copies a run
// of them into fresh mbufs and transmits them, so sending costs no Go work
// per packet. The slots have a fixed size, back to back, so a run of
// consecutive slots is read sequentially. Not safe for concurrent use.
type Frames struct {
	c    *C.struct_vec_frames
	buf  []byte   // C memory: n slots of stride bytes
	lens []uint16 // C memory: each slot's frame length
	size int      // stride
}

// NewFrames allocates n zeroed slots of slotSize bytes each (malloc, not
// hugepage memory: only the mbufs the frames are copied into need that).
func NewFrames(n, slotSize int) (*Frames, error) {
	if n < 1 || n > math.MaxUint32 || slotSize < 1 || slotSize > math.MaxUint16 {
		return nil, fmt.Errorf("dpdk.NewFrames: %d slots of %d bytes: want 1.. slots of 1..%d bytes", n, slotSize, math.MaxUint16)
	}
	c := C.vec_frames_new(C.uint32_t(n), C.uint32_t(slotSize))
	if c == nil {
		return nil, &Error{Op: fmt.Sprintf("malloc(%d frames of %d bytes)", n, slotSize), Errno: int(syscall.ENOMEM)}
	}
	return &Frames{
		c:    c,
		buf:  unsafe.Slice((*byte)(unsafe.Pointer(c.buf)), n*slotSize),
		lens: unsafe.Slice((*uint16)(unsafe.Pointer(c.len)), n),
		size: slotSize,
	}, nil
}

// Len returns the number of slots.
func (f *Frames) Len() int { return len(f.lens) }

// Slot returns slot i's whole room (SlotSize bytes) to write a frame into.
// It is a view of C memory, valid until Free.
func (f *Frames) Slot(i int) []byte { return f.buf[i*f.size : (i+1)*f.size : (i+1)*f.size] }

// SlotSize returns the room of each slot.
func (f *Frames) SlotSize() int { return f.size }

// SetLen sets the length of slot i's frame: Send sends its first n bytes
// (a length beyond SlotSize makes Send fail).
func (f *Frames) SetLen(i, n int) { f.lens[i] = uint16(n) }

// FrameLen returns slot i's frame length.
func (f *Frames) FrameLen(i int) int { return int(f.lens[i]) }

// Send copies the count frames from slot first on, wrapping after the last
// slot, into new mbufs from pool and transmits them on port's queue in one
// rte_eth_tx_burst; the frames the queue does not take are freed (send
// them again from first+sent). It returns how many the queue took:
// ErrNoMbufs if pool has fewer than count free mbufs. One cgo call; count
// is at most FramesBurst.
func (f *Frames) Send(pool *Mempool, port, queue uint16, first, count int) (int, error) {
	if pool == nil || pool.c == nil {
		return 0, fmt.Errorf("dpdk.Frames.Send: %w", errNilMempool)
	}
	if count < 0 || count > FramesBurst || first < 0 || first >= f.Len() {
		return 0, fmt.Errorf("dpdk.Frames.Send: %d frames from slot %d of %d (at most %d a call)", count, first, f.Len(), FramesBurst)
	}
	ret := C.vec_frames_send(f.c, pool.c, C.uint32_t(first), C.uint16_t(count), C.uint16_t(port), C.uint16_t(queue))
	switch {
	case ret >= 0:
		return int(ret), nil
	case -ret == C.ENOBUFS || -ret == C.ENOENT: // DPDK 22.11 says ENOBUFS, older ones ENOENT
		return 0, ErrNoMbufs
	default:
		return 0, callError(fmt.Sprintf("dpdk.Frames.Send(%d frames from slot %d)", count, first), ret)
	}
}

// Free releases the store; calling it twice is a no-op.
func (f *Frames) Free() {
	if f.c == nil {
		return
	}
	C.vec_frames_free(f.c)
	*f = Frames{}
}
