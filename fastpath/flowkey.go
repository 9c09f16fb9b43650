package fastpath

import "math/bits"

// FlowKey is a packed, pointer-free 5-tuple: 16 bytes, comparable with ==,
// usable as a table key without hashing any pointer (tailscale flowtrack
// style). Addresses are IPv4 as big-endian integers. Proto 0 never occurs in a
// real key, so the table uses it to mark an empty slot.
//
// An IPv6 flow's key has IPv6 set and its addresses folded to 32 bits by a
// keyed hash (Table.fold6); the table keeps the flow's full addresses beside
// its entry (Addrs6) and compares them too, so a folded collision never
// confuses two flows, and IPv4 keys stay 16 bytes.
type FlowKey struct {
	SrcIP   uint32
	DstIP   uint32
	SrcPort uint16
	DstPort uint16
	Proto   uint8
	IPv6    bool
	_       [2]byte
}

// Addrs6 are an IPv6 flow's source and destination addresses.
type Addrs6 struct {
	Src, Dst [16]byte
}

// NewFlowKey builds a key; it exists so callers outside the package can build
// keys despite the padding field.
func NewFlowKey(proto uint8, srcIP uint32, srcPort uint16, dstIP uint32, dstPort uint16) FlowKey {
	return FlowKey{SrcIP: srcIP, DstIP: dstIP, SrcPort: srcPort, DstPort: dstPort, Proto: proto}
}

// Hash mixes the key into 64 bits (two multiply-xorshift rounds). It is
// seeded per table so that an attacker who can choose tuples cannot aim at
// one probe run without knowing the seed.
func (k FlowKey) Hash(seed uint64) uint64 {
	return hashTuple(k.SrcIP, k.DstIP, k.SrcPort, k.DstPort, k.Proto, seed)
}

// hashTuple is FlowKey.Hash on the tuple's fields, for callers that have
// them in registers: building a FlowKey on the stack and reading it back
// whole stalls store-to-load forwarding on the hot path.
func hashTuple(srcIP, dstIP uint32, srcPort, dstPort uint16, proto uint8, seed uint64) uint64 {
	a := uint64(srcIP)<<32 | uint64(dstIP)
	b := uint64(srcPort)<<32 | uint64(dstPort)<<16 | uint64(proto)
	hi, lo := bits.Mul64(a^seed, 0x9e3779b97f4a7c15)
	h := hi ^ lo
	hi, lo = bits.Mul64(h^b, 0xbf58476d1ce4e5b9)
	return hi ^ lo
}
