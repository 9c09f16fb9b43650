package dpdk

/*
#include <errno.h>
#include "vecdpdk.h"
*/
import "C"

import (
	"fmt"
	"math"
	"syscall"
	"unsafe"
)

// Burst is a batch of mbufs for one RX or TX call. It owns C memory: the
// mbuf pointers, each packet's data pointer and length, and a keep
// (verdict) byte per packet. Go reads and writes these directly, so each
// Rx and each send is exactly one cgo call whatever the number of packets.
//
// A Burst holds at most Size mbufs between an Rx (or Alloc) and the next
// send; Rx and Alloc free whatever it still holds first, so nothing leaks.
// A Burst is not safe for concurrent use; give each worker its own.
type Burst struct {
	c *C.struct_vec_burst
	n int
	// views is the C array of struct vec_view, each laid out like a Go
	// []byte over its mbuf's data (checked below), so the burst's
	// packets are read in place: nothing is rebuilt per burst.
	views   [][]byte
	lens    []uint16 // C array: data length of each held mbuf
	pktLens []uint32 // C array: packet length (all segments) of each held mbuf
	segs    []uint16 // C array: segment count of each held mbuf
	keep    []byte   // C array: verdicts
}

// A struct vec_view must be exactly as large as a Go slice header, whose
// fields it repeats in order (pointer, length, capacity, each a machine
// word on the 64-bit targets DPDK supports): each line below fails to
// compile otherwise.
var (
	_ [unsafe.Sizeof([]byte(nil)) - uintptr(C.sizeof_struct_vec_view)]byte
	_ [uintptr(C.sizeof_struct_vec_view) - unsafe.Sizeof([]byte(nil))]byte
)

// NewBurst allocates a burst of up to size packets (1 .. 65535; 32 is the
// usual choice) in hugepage memory.
func NewBurst(size int) (*Burst, error) {
	if size < 1 || size > math.MaxUint16 {
		return nil, fmt.Errorf("dpdk.NewBurst: size %d out of range 1..%d", size, math.MaxUint16)
	}
	c := C.vec_burst_new(C.uint16_t(size))
	if c == nil {
		return nil, &Error{Op: fmt.Sprintf("rte_zmalloc(burst of %d)", size), Errno: int(syscall.ENOMEM)}
	}
	return &Burst{
		c:       c,
		views:   unsafe.Slice((*[]byte)(unsafe.Pointer(c.views)), size),
		lens:    unsafe.Slice((*uint16)(unsafe.Pointer(c.len)), size),
		pktLens: unsafe.Slice((*uint32)(unsafe.Pointer(c.pkt_len)), size),
		segs:    unsafe.Slice((*uint16)(unsafe.Pointer(c.segs)), size),
		keep:    unsafe.Slice((*byte)(unsafe.Pointer(c.keep)), size),
	}, nil
}

// Size returns the most packets the burst holds.
func (b *Burst) Size() int { return len(b.views) }

// Len returns the number of packets the burst holds now.
func (b *Burst) Len() int { return b.n }

// Rx receives up to Size packets from port's RX queue (rte_eth_rx_burst)
// and returns how many. It records each packet's data pointer and length
// for Packets and clears every keep byte to 0.
func (b *Burst) Rx(port, queue uint16) int {
	b.n = int(C.vec_burst_rx(b.c, C.uint16_t(port), C.uint16_t(queue)))
	return b.n
}

// Packets returns views of the held packets' data, first segment only: a
// packet that arrived as a chain of mbufs (Segments > 1) is cut short in
// its view, and the caller must not parse it (see PacketLens). Writing
// through them changes the packets. The slice lies in C memory; a view in
// it may be replaced by another range of the same mbuf's buffer (up to
// Headroom bytes earlier, or shorter), and SendKept sends the packet as
// its view then says. The slice and the views are valid until the next
// Rx, Alloc, send, Drop or Free. It allocates nothing.
func (b *Burst) Packets() [][]byte { return b.views[:b.n] }

// Segments returns the number of mbufs (segments) each held packet spans,
// in C memory: 1 for a packet Packets shows whole. Valid like Packets.
func (b *Burst) Segments() []uint16 { return b.segs[:b.n] }

// PacketLens returns each held packet's whole length over all its
// segments (pkt_len), in C memory. Valid like Packets.
func (b *Burst) PacketLens() []uint32 { return b.pktLens[:b.n] }

// Keep returns the verdict bytes of the held packets, in C memory: write 1
// for a packet SendKept should transmit, 0 for one it should free. Rx and
// Alloc set them all to 0.
func (b *Burst) Keep() []byte { return b.keep[:b.n] }

// SendKept transmits the packets whose keep byte is non-zero, in order, on
// port's TX queue (rte_eth_tx_burst, retried a few times while the TX ring
// is full), and frees the others and any kept packet that could not be
// sent (TxFull says how many of those there were). A kept packet is sent as
// its view says (Packets); one whose view was moved outside its mbuf's
// buffer is freed, never sent. One cgo call. The burst is empty afterwards.
func (b *Burst) SendKept(port, queue uint16) (sent, freed int) {
	n := b.n
	sent = int(C.vec_burst_send_kept(b.c, C.uint16_t(port), C.uint16_t(queue)))
	b.n = 0
	return sent, n - sent
}

// SendKeptThenRx is SendKept on (txPort, txQueue), then Rx on (rxPort,
// rxQueue), in one cgo call instead of two: a poll loop that transmits a
// burst at the start of its next receive saves a call per burst. TxFull
// then reports the send. It returns what Rx returns.
func (b *Burst) SendKeptThenRx(txPort, txQueue, rxPort, rxQueue uint16) int {
	b.n = int(C.vec_burst_send_kept_rx(b.c, C.uint16_t(txPort), C.uint16_t(txQueue), C.uint16_t(rxPort), C.uint16_t(rxQueue)))
	return b.n
}

// SendAll transmits every held packet on port's TX queue, frees those the
// TX ring had no room for, and returns how many were sent. One cgo call.
func (b *Burst) SendAll(port, queue uint16) int {
	sent := int(C.vec_burst_send_all(b.c, C.uint16_t(port), C.uint16_t(queue)))
	b.n = 0
	return sent
}

// Headroom returns the least headroom of the held packets: how many bytes
// before the first byte of every view belong to its mbuf's buffer and may
// be written (DPDK's RTE_PKTMBUF_HEADROOM, 128, after a usual Rx).
func (b *Burst) Headroom() int { return int(b.c.headroom) }

// TxFull returns how many packets the last SendKept, SendKeptThenRx or
// SendAll meant to transmit but freed because the TX ring stayed full.
func (b *Burst) TxFull() int { return int(b.c.tx_full) }

// Alloc replaces the burst's content with n new mbufs from pool
// (rte_pktmbuf_alloc_bulk), each with length bytes of uninitialised data:
// fill them through Packets, then send them.
func (b *Burst) Alloc(pool *Mempool, n int, length int) error {
	if pool == nil || pool.c == nil {
		return fmt.Errorf("dpdk.Burst.Alloc: %w", errNilMempool)
	}
	if n < 0 || n > b.Size() {
		return fmt.Errorf("dpdk.Burst.Alloc: %d packets, the burst holds %d", n, b.Size())
	}
	if length < 0 || length > math.MaxUint16 {
		return fmt.Errorf("dpdk.Burst.Alloc: length %d out of range", length)
	}
	ret := C.vec_burst_alloc(b.c, pool.c, C.uint16_t(n), C.uint16_t(length))
	b.n = int(b.c.n)
	switch {
	case ret == 0:
		return nil
	case -ret == C.EINVAL:
		return callError(fmt.Sprintf("rte_pktmbuf_append(%d bytes)", length), ret)
	default:
		return callError(fmt.Sprintf("rte_pktmbuf_alloc_bulk(%q, %d)", pool.name, n), ret)
	}
}

// Drop frees the held packets.
func (b *Burst) Drop() {
	C.vec_burst_drop(b.c)
	b.n = 0
}

// Free frees the held packets and the burst's memory. Calling Free twice
// is a no-op.
func (b *Burst) Free() {
	if b.c == nil {
		return
	}
	C.vec_burst_free(b.c)
	*b = Burst{}
}
