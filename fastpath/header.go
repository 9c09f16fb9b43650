package fastpath

import "encoding/binary"

// Typed views over raw frame bytes, in the style of gvisor's pkg/tcpip/header:
// each view is a []byte starting at its header, IsValid is checked first, and
// the accessors read fixed offsets. Views never copy and never allocate.

// EtherType values the fastpath recognises.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeARP  uint16 = 0x0806
	// Tag protocol identifiers: 802.1Q, 802.1ad (QinQ's outer tag) and
	// the pre-standard QinQ value.
	EtherTypeVLAN    uint16 = 0x8100
	EtherTypeQinQ    uint16 = 0x88a8
	EtherTypeQinQOld uint16 = 0x9100
)

// Header sizes.
const (
	EthernetHeaderLen = 14
	ARPIPv4Len        = 28
	IPv4MinHeaderLen  = 20
	TCPMinHeaderLen   = 20
	UDPHeaderLen      = 8
)

// Ethernet is an Ethernet II header. The gateway's ports are untagged, so a
// tagged frame is recognised (Tagged) but never parsed past its tag.
type Ethernet []byte

// IsValid reports whether the frame holds a whole Ethernet header.
func (e Ethernet) IsValid() bool { return len(e) >= EthernetHeaderLen }

// Destination returns the destination MAC bytes.
func (e Ethernet) Destination() []byte { return e[0:6] }

// Source returns the source MAC bytes.
func (e Ethernet) Source() []byte { return e[6:12] }

// Type returns the EtherType (the tag protocol identifier of a tagged frame).
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// Tagged reports whether the frame carries a VLAN tag (802.1Q, 802.1ad).
func (e Ethernet) Tagged() bool {
	switch e.Type() {
	case EtherTypeVLAN, EtherTypeQinQ, EtherTypeQinQOld:
		return true
	}
	return false
}

// Payload returns the bytes after the Ethernet header.
func (e Ethernet) Payload() []byte { return e[EthernetHeaderLen:] }

// ARP operations.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARP is an ARP packet for IPv4 over Ethernet (RFC 826).
type ARP []byte

// IsValid reports whether this is a complete Ethernet/IPv4 ARP packet.
func (a ARP) IsValid() bool {
	return len(a) >= ARPIPv4Len &&
		binary.BigEndian.Uint16(a[0:2]) == 1 && // hardware type Ethernet
		binary.BigEndian.Uint16(a[2:4]) == EtherTypeIPv4 &&
		a[4] == 6 && a[5] == 4
}

// Op returns the ARP operation.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[6:8]) }

// SenderMAC returns the sender hardware address bytes.
func (a ARP) SenderMAC() []byte { return a[8:14] }

// SenderIP returns the sender protocol address as a big-endian integer.
func (a ARP) SenderIP() uint32 { return binary.BigEndian.Uint32(a[14:18]) }

// TargetMAC returns the target hardware address bytes.
func (a ARP) TargetMAC() []byte { return a[18:24] }

// TargetIP returns the target protocol address as a big-endian integer.
func (a ARP) TargetIP() uint32 { return binary.BigEndian.Uint32(a[24:28]) }

// IPv4 is an IPv4 header followed by its payload.
type IPv4 []byte

// IPv4Status is the outcome of IPv4.Check.
type IPv4Status uint8

// IPv4 validation outcomes; everything but IPv4OK is a reason to drop.
const (
	IPv4OK IPv4Status = iota
	IPv4Truncated
	IPv4BadVersion
	IPv4BadIHL         // IHL < 5, or the header runs past the frame
	IPv4BadTotalLength // total length < header length or > the bytes present
	IPv4Fragment       // MF set or a non-zero fragment offset
	IPv4Options        // IHL > 5
)

// Check validates the header against the bytes present. Trailing bytes beyond
// the total length (Ethernet padding) are allowed.
func (ip IPv4) Check() IPv4Status {
	if len(ip) < IPv4MinHeaderLen {
		return IPv4Truncated
	}
	if ip[0]>>4 != 4 {
		return IPv4BadVersion
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < IPv4MinHeaderLen || ihl > len(ip) {
		return IPv4BadIHL
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total < ihl || total > len(ip) {
		return IPv4BadTotalLength
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return IPv4Fragment
	}
	if ihl != IPv4MinHeaderLen {
		return IPv4Options
	}
	return IPv4OK
}

// IsValid reports whether the header passes Check.
func (ip IPv4) IsValid() bool { return ip.Check() == IPv4OK }

// HeaderLen returns the header length in bytes from the IHL field.
func (ip IPv4) HeaderLen() int { return int(ip[0]&0x0f) * 4 }

// TotalLength returns the total length field.
func (ip IPv4) TotalLength() int { return int(binary.BigEndian.Uint16(ip[2:4])) }

// Protocol returns the payload's IP protocol number.
func (ip IPv4) Protocol() uint8 { return ip[9] }

// Source returns the source address as a big-endian integer.
func (ip IPv4) Source() uint32 { return binary.BigEndian.Uint32(ip[12:16]) }

// Destination returns the destination address as a big-endian integer.
func (ip IPv4) Destination() uint32 { return binary.BigEndian.Uint32(ip[16:20]) }

// Payload returns the bytes between the header and the total length.
func (ip IPv4) Payload() []byte { return ip[ip.HeaderLen():ip.TotalLength()] }

// TCP flag bits.
const (
	TCPFlagFIN uint8 = 0x01
	TCPFlagSYN uint8 = 0x02
	TCPFlagRST uint8 = 0x04
	TCPFlagPSH uint8 = 0x08
	TCPFlagACK uint8 = 0x10
)

// TCP is a TCP header followed by its payload.
type TCP []byte

// TCPStatus is the outcome of TCP.Check.
type TCPStatus uint8

// TCP validation outcomes.
const (
	TCPOK TCPStatus = iota
	TCPTruncated
	TCPBadDataOffset // data offset < 5, or the header runs past the segment
)

// Check validates the header against the segment's bytes.
func (t TCP) Check() TCPStatus {
	if len(t) < TCPMinHeaderLen {
		return TCPTruncated
	}
	off := int(t[12]>>4) * 4
	if off < TCPMinHeaderLen || off > len(t) {
		return TCPBadDataOffset
	}
	return TCPOK
}

// IsValid reports whether the header passes Check.
func (t TCP) IsValid() bool { return t.Check() == TCPOK }

// SourcePort returns the source port.
func (t TCP) SourcePort() uint16 { return binary.BigEndian.Uint16(t[0:2]) }

// DestinationPort returns the destination port.
func (t TCP) DestinationPort() uint16 { return binary.BigEndian.Uint16(t[2:4]) }

// DataOffset returns the header length in bytes.
func (t TCP) DataOffset() int { return int(t[12]>>4) * 4 }

// Flags returns the low eight flag bits (CWR … FIN).
func (t TCP) Flags() uint8 { return t[13] }

// UDP is a UDP header followed by its payload.
type UDP []byte

// UDPStatus is the outcome of UDP.Check.
type UDPStatus uint8

// UDP validation outcomes.
const (
	UDPOK UDPStatus = iota
	UDPTruncated
	UDPBadLength // length field < 8 or beyond the datagram's bytes
)

// Check validates the header against the datagram's bytes.
func (u UDP) Check() UDPStatus {
	if len(u) < UDPHeaderLen {
		return UDPTruncated
	}
	l := int(binary.BigEndian.Uint16(u[4:6]))
	if l < UDPHeaderLen || l > len(u) {
		return UDPBadLength
	}
	return UDPOK
}

// IsValid reports whether the header passes Check.
func (u UDP) IsValid() bool { return u.Check() == UDPOK }

// SourcePort returns the source port.
func (u UDP) SourcePort() uint16 { return binary.BigEndian.Uint16(u[0:2]) }

// DestinationPort returns the destination port.
func (u UDP) DestinationPort() uint16 { return binary.BigEndian.Uint16(u[2:4]) }

// Length returns the length field (header plus payload).
func (u UDP) Length() int { return int(binary.BigEndian.Uint16(u[4:6])) }

// ICMP message types the fastpath handles.
const (
	ICMPEchoReply       uint8 = 0
	ICMPDestUnreachable uint8 = 3
	ICMPEchoRequest     uint8 = 8
	ICMPTimeExceeded    uint8 = 11
)

// ICMPHeaderLen is the fixed part of every ICMP message: type, code,
// checksum and four bytes whose meaning depends on the type.
const ICMPHeaderLen = 8

// ICMP is an ICMPv4 message.
type ICMP []byte

// IsValid reports whether the fixed header is whole.
func (m ICMP) IsValid() bool { return len(m) >= ICMPHeaderLen }

// Type returns the message type.
func (m ICMP) Type() uint8 { return m[0] }

// Code returns the message code.
func (m ICMP) Code() uint8 { return m[1] }

// Payload returns the bytes after the fixed header: for an error, the
// quoted start of the datagram that caused it.
func (m ICMP) Payload() []byte { return m[ICMPHeaderLen:] }

// QuotedDatagram is the start of the datagram an ICMP error quotes: its
// IPv4 header (whose total length describes the whole original datagram,
// not the bytes quoted) and at least the first 8 bytes of its payload,
// which hold a TCP or UDP header's ports.
type QuotedDatagram []byte

// IsValid reports whether the quote holds an IPv4 header and 8 bytes after
// it.
func (q QuotedDatagram) IsValid() bool {
	if len(q) < IPv4MinHeaderLen || q[0]>>4 != 4 {
		return false
	}
	ihl := int(q[0]&0x0f) * 4
	return ihl >= IPv4MinHeaderLen && len(q) >= ihl+8
}

// Protocol returns the quoted datagram's protocol.
func (q QuotedDatagram) Protocol() uint8 { return q[9] }

// Source returns the quoted datagram's source address.
func (q QuotedDatagram) Source() uint32 { return binary.BigEndian.Uint32(q[12:16]) }

// Destination returns the quoted datagram's destination address.
func (q QuotedDatagram) Destination() uint32 { return binary.BigEndian.Uint32(q[16:20]) }

// Ports returns the quoted TCP or UDP source and destination ports.
func (q QuotedDatagram) Ports() (src, dst uint16) {
	ihl := int(q[0]&0x0f) * 4
	return binary.BigEndian.Uint16(q[ihl : ihl+2]), binary.BigEndian.Uint16(q[ihl+2 : ihl+4])
}

// checksumAdjust returns an Internet checksum updated for one 16-bit word
// of the summed data changing from old to new (RFC 1624, eqn. 3).
func checksumAdjust(sum, old, new uint16) uint16 {
	s := uint32(^sum) + uint32(^old) + uint32(new)
	s = (s & 0xffff) + s>>16
	s = (s & 0xffff) + s>>16
	return ^uint16(s)
}
