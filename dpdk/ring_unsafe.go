package dpdk

/*
#include <stdlib.h>
#include <rte_ring.h>
#include "vecdpdk.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Ring is a DPDK ring of 64-bit values (rte_ring): the control plane sends
// messages to a worker as opaque tokens, never Go pointers. Enqueue and
// Dequeue are one cgo call each; a worker draining many tokens between
// bursts uses DequeueBurst.
type Ring struct {
	c    *C.struct_rte_ring
	name string
}

// NewRing creates a ring that holds exactly count values
// (rte_ring_create with RING_F_EXACT_SZ). singleProducer/singleConsumer
// select the faster single-thread enqueue/dequeue: only one goroutine may
// then enqueue (resp. dequeue) at a time.
func NewRing(name string, count uint32, singleProducer, singleConsumer bool) (*Ring, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	sp, sc := C.int(0), C.int(0)
	if singleProducer {
		sp = 1
	}
	if singleConsumer {
		sc = 1
	}
	var errno C.int
	r := C.vec_ring_create(cname, C.uint(count), SocketAny, sp, sc, &errno)
	if r == nil {
		return nil, &Error{Op: fmt.Sprintf("rte_ring_create(%q, %d)", name, count), Errno: int(errno)}
	}
	return &Ring{c: r, name: name}, nil
}

// Enqueue adds v; false when the ring is full.
func (r *Ring) Enqueue(v uint64) bool {
	return C.vec_ring_enqueue(r.c, C.uint64_t(v)) == 0
}

// Dequeue removes the oldest value; false when the ring is empty.
func (r *Ring) Dequeue() (uint64, bool) {
	var v C.uint64_t
	if C.vec_ring_dequeue(r.c, &v) != 0 {
		return 0, false
	}
	return uint64(v), true
}

// DequeueBurst removes up to len(dst) values into dst in one cgo call and
// returns how many.
func (r *Ring) DequeueBurst(dst []uint64) int {
	if len(dst) == 0 {
		return 0
	}
	return int(C.vec_ring_dequeue_burst(r.c, (*C.uint64_t)(unsafe.Pointer(&dst[0])), C.uint(len(dst))))
}

// Count returns the number of values in the ring.
func (r *Ring) Count() int { return int(C.vec_ring_count(r.c)) }

// Capacity returns the most values the ring holds.
func (r *Ring) Capacity() int { return int(r.c.capacity) }

// Free releases the ring (rte_ring_free). Calling Free twice is a no-op.
func (r *Ring) Free() {
	if r.c != nil {
		C.rte_ring_free(r.c)
		r.c = nil
	}
}
