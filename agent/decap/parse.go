package decap

import "encoding/binary"

// Reason is what became of one received datagram: Delivered, or why it was
// dropped.
type Reason uint8

// The outcomes of FromIPIP and FromGUE; Serve adds WriteFailed.
const (
	Delivered        Reason = iota
	TooShort                // shorter than the headers it announces
	BadOuter                // outer header not IPv4, bad IHL or not protocol 4
	BadGUEVersion           // GUE version 2 or 3, or version 1 without an IP packet
	GUEControl              // GUE control message (C bit): nothing to deliver
	BadInnerProtocol        // GUE protocol not 4 or 41, or inner version not the announced one
	BadInnerLength          // inner header length or total length does not match the data
	WriteFailed             // the TUN device refused the inner packet
	numReasons
)

var reasonNames = [numReasons]string{
	Delivered:        "delivered",
	TooShort:         "too_short",
	BadOuter:         "bad_outer",
	BadGUEVersion:    "bad_gue_version",
	GUEControl:       "gue_control",
	BadInnerProtocol: "bad_inner_protocol",
	BadInnerLength:   "bad_inner_length",
	WriteFailed:      "write_failed",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// IP protocol numbers of the inner packet, as IPIP's outer header and GUE's
// proto field carry them.
const (
	protoIPv4 = 4
	protoIPv6 = 41
)

const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	gueHeaderLen  = 4
)

// FromIPIP returns the inner IPv4 packet of an IPIP packet as a raw
// IPPROTO_IPIP socket reads it: outer IPv4 header (with options, IHL*4
// bytes) included. The result aliases pkt.
func FromIPIP(pkt []byte) ([]byte, Reason) {
	if len(pkt) < ipv4HeaderLen {
		return nil, TooShort
	}
	if pkt[0]>>4 != 4 || pkt[9] != protoIPv4 {
		return nil, BadOuter
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return nil, BadOuter
	}
	if len(pkt) < ihl {
		return nil, TooShort
	}
	return checkInner(pkt[ihl:], 4)
}

// FromGUE returns the inner IP packet of a GUE UDP payload (RFC draft
// draft-ietf-intarea-gue, as Linux's fou in gue mode sends and receives
// it). Variant 0: a 4-byte header (version 0, C bit, hlen in 4-byte words of
// extension fields to skip, inner protocol 4 or 41, flags) before the
// packet; variant 1: the bare IPv4 or IPv6 packet, recognised by its first
// nibble. The result aliases payload.
func FromGUE(payload []byte) ([]byte, Reason) {
	if len(payload) < 1 {
		return nil, TooShort
	}
	switch payload[0] >> 6 {
	case 0:
	case 1:
		switch payload[0] >> 4 {
		case 4:
			return checkInner(payload, 4)
		case 6:
			return checkInner(payload, 6)
		}
		return nil, BadGUEVersion
	default:
		return nil, BadGUEVersion
	}
	if len(payload) < gueHeaderLen {
		return nil, TooShort
	}
	if payload[0]&0x20 != 0 {
		return nil, GUEControl
	}
	hlen := gueHeaderLen + int(payload[0]&0x1f)*4
	if len(payload) < hlen {
		return nil, TooShort
	}
	switch payload[1] {
	case protoIPv4:
		return checkInner(payload[hlen:], 4)
	case protoIPv6:
		return checkInner(payload[hlen:], 6)
	}
	return nil, BadInnerProtocol
}

// checkInner accepts b if it is exactly one IP packet of the given version.
func checkInner(b []byte, version byte) ([]byte, Reason) {
	if version == 4 {
		if len(b) < ipv4HeaderLen {
			return nil, TooShort
		}
		if b[0]>>4 != 4 {
			return nil, BadInnerProtocol
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < ipv4HeaderLen || ihl > len(b) || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
			return nil, BadInnerLength
		}
		return b, Delivered
	}
	if len(b) < ipv6HeaderLen {
		return nil, TooShort
	}
	if b[0]>>4 != 6 {
		return nil, BadInnerProtocol
	}
	// A jumbogram (payload length 0) cannot arrive in one datagram.
	if ipv6HeaderLen+int(binary.BigEndian.Uint16(b[4:6])) != len(b) {
		return nil, BadInnerLength
	}
	return b, Delivered
}
