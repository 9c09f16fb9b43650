package dpdk

/*
#include "vecdpdk.h"
*/
import "C"

import (
	"encoding/binary"
	"unsafe"
)

// softRSSIPv4 is DPDK's own software Toeplitz hash (rte_softrss) of an
// IPv4 tuple: the reference the pure-Go ToeplitzHash is tested against.
// l4 includes the ports. key must be at least 16 bytes.
func softRSSIPv4(key []byte, src, dst [4]byte, srcPort, dstPort uint16, l4 bool) uint32 {
	if len(key) < 16 {
		panic("dpdk.softRSSIPv4: key shorter than 16 bytes")
	}
	return uint32(C.vec_softrss_ipv4(C.uint32_t(binary.BigEndian.Uint32(src[:])), C.uint32_t(binary.BigEndian.Uint32(dst[:])),
		C.uint16_t(srcPort), C.uint16_t(dstPort), cBool(l4), (*C.uint8_t)(unsafe.Pointer(&key[0]))))
}

// softRSSIPv6 is rte_softrss of an IPv6 tuple, addresses in network order
// as they are on the wire. l4 includes the ports. key must be at least 40
// bytes.
func softRSSIPv6(key []byte, src, dst [16]byte, srcPort, dstPort uint16, l4 bool) uint32 {
	if len(key) < 40 {
		panic("dpdk.softRSSIPv6: key shorter than 40 bytes")
	}
	return uint32(C.vec_softrss_ipv6((*C.uint8_t)(unsafe.Pointer(&src[0])), (*C.uint8_t)(unsafe.Pointer(&dst[0])),
		C.uint16_t(srcPort), C.uint16_t(dstPort), cBool(l4), (*C.uint8_t)(unsafe.Pointer(&key[0]))))
}

// cBool is b as a C int, 1 or 0.
func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
