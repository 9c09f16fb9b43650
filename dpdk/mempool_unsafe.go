package dpdk

/*
#include <stdlib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "vecdpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

const (
	// SocketAny lets DPDK choose the NUMA socket (SOCKET_ID_ANY).
	SocketAny = -1
	// DefaultDataRoomSize is DPDK's default mbuf data room: 2048 bytes of
	// data plus the 128-byte headroom (RTE_MBUF_DEFAULT_BUF_SIZE).
	DefaultDataRoomSize = C.RTE_MBUF_DEFAULT_BUF_SIZE
	// Headroom is the part of an mbuf's data room kept free in front of
	// a received frame (RTE_PKTMBUF_HEADROOM).
	Headroom = C.RTE_PKTMBUF_HEADROOM
)

// Mempool is a pool of packet buffers (mbufs) in hugepage memory.
type Mempool struct {
	c        *C.struct_rte_mempool
	name     string
	dataRoom uint16
}

// NewPktMempool creates a pool of n mbufs (rte_pktmbuf_pool_create) with a
// per-lcore cache of cacheSize mbufs and dataRoomSize bytes of buffer each
// (headroom included; 0 means DefaultDataRoomSize). socket -1 (SocketAny)
// lets DPDK choose. n is best one less than a power of two.
func NewPktMempool(name string, n uint32, cacheSize uint32, dataRoomSize uint16, socket int) (*Mempool, error) {
	if dataRoomSize == 0 {
		dataRoomSize = DefaultDataRoomSize
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var errno C.int
	mp := C.vec_pktmbuf_pool_create(cname, C.uint(n), C.uint(cacheSize), C.uint16_t(dataRoomSize), C.int(socket), &errno)
	if mp == nil {
		return nil, &Error{Op: fmt.Sprintf("rte_pktmbuf_pool_create(%q)", name), Errno: int(errno)}
	}
	return &Mempool{c: mp, name: name, dataRoom: dataRoomSize}, nil
}

// FrameRoom returns how many bytes of frame one mbuf of the pool holds:
// its data room less the headroom.
func (m *Mempool) FrameRoom() int { return int(m.dataRoom) - Headroom }

// Name returns the name the pool was created with.
func (m *Mempool) Name() string { return m.name }

// Capacity returns the number of mbufs in the pool.
func (m *Mempool) Capacity() int { return int(m.c.size) }

// InUse returns how many mbufs are out of the pool (rte_mempool_in_use_count;
// mbufs sitting in per-lcore caches count as available). Not for the data
// path: it walks every lcore's cache.
func (m *Mempool) InUse() int { return int(C.rte_mempool_in_use_count(m.c)) }

// Available returns how many mbufs can be allocated (rte_mempool_avail_count).
func (m *Mempool) Available() int { return int(C.rte_mempool_avail_count(m.c)) }

// Free releases the pool (rte_mempool_free). Every mbuf must have been
// returned and no port queue may still use it. Calling Free twice is a no-op.
func (m *Mempool) Free() {
	if m.c != nil {
		C.rte_mempool_free(m.c)
		m.c = nil
	}
}

// errNilMempool reports a PortConfig or Alloc call without a pool.
var errNilMempool = errors.New("dpdk: nil Mempool")
