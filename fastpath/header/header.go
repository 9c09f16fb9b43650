package header

import (
	"encoding/binary"
	"net/netip"
)

// Each view is a []byte starting at its header. IsValid (or Check) is asked
// first; the accessors then read and the setters write fixed offsets, never
// copying and never allocating. The offsets are relative to the start of
// their header; a fixed-layout parser adds them to a header's start (for
// example UntaggedIPv4Offset + IPv4ProtocolOffset).

// EtherType values the fastpath recognises.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeARP  uint16 = 0x0806
	EtherTypeIPv6 uint16 = 0x86dd
	// Tag protocol identifiers: 802.1Q, 802.1ad (QinQ's outer tag) and
	// the pre-standard QinQ value.
	EtherTypeVLAN    uint16 = 0x8100
	EtherTypeQinQ    uint16 = 0x88a8
	EtherTypeQinQOld uint16 = 0x9100
)

// IP protocol numbers of the payloads the views read.
const (
	ICMPProtocolNumber uint8 = 1
	IPIPProtocolNumber uint8 = 4 // IPv4 in IPv4 (RFC 2003)
	TCPProtocolNumber  uint8 = 6
	UDPProtocolNumber  uint8 = 17
)

// GUE (Generic UDP Encapsulation, draft-ietf-intarea-gue) variant 0
// header without optional fields, as Linux's fou receiver in gue mode
// reads it: version 0, no control flag, no extension words, then the
// protocol number of the payload and two flag bytes, all zero.
const (
	GUEHeaderLen      = 4
	GUEVersionOffset  = 0 // version (2 bits), C (1 bit), Hlen (5 bits)
	GUEProtocolOffset = 1
)

// DontFragment is the DF bit of IPv4's flags and fragment offset word.
const DontFragment uint16 = 0x4000

// Address and header sizes.
const (
	MACLen            = 6
	IPv4AddressLen    = 4
	EthernetHeaderLen = 14
	ARPIPv4Len        = 28
	IPv4MinHeaderLen  = 20
	TCPMinHeaderLen   = 20
	UDPHeaderLen      = 8
	// ICMPHeaderLen is the fixed part of every ICMP message: type, code,
	// checksum and four bytes whose meaning depends on the type.
	ICMPHeaderLen = 8
)

// Ethernet field offsets.
const (
	EthernetDstOffset  = 0
	EthernetSrcOffset  = 6
	EthernetTypeOffset = 12
)

// Offsets in a frame of the common layout: untagged Ethernet, then IPv4
// without options, then the TCP, UDP or ICMP header. A fixed-layout parser
// or writer adds a field's offset to these.
const (
	UntaggedIPv4Offset = EthernetHeaderLen
	UntaggedL4Offset   = UntaggedIPv4Offset + IPv4MinHeaderLen
)

// An 802.1Q tag sits where the EtherType was: its tag protocol identifier
// there (EtherTypeVLAN), then the tag control information (priority and
// VLAN ID) and the EtherType of what it carries. Offsets are in the frame.
const (
	VLANTagLen                 = 4
	VLANTCIOffset              = EthernetHeaderLen
	VLANInnerTypeOffset        = VLANTCIOffset + 2
	VLANTaggedHeaderLen        = EthernetHeaderLen + VLANTagLen
	vlanIDMask          uint16 = 0x0fff
)

// VLANID returns the VLAN ID bits of a tag control information word.
func VLANID(tci uint16) uint16 { return tci & vlanIDMask }

// ARP field offsets (Ethernet/IPv4 ARP, RFC 826).
const (
	ARPHardwareTypeOffset = 0
	ARPProtocolTypeOffset = 2
	ARPHardwareLenOffset  = 4
	ARPProtocolLenOffset  = 5
	ARPOpOffset           = 6
	ARPSenderMACOffset    = 8
	ARPSenderIPOffset     = 14
	ARPTargetMACOffset    = 18
	ARPTargetIPOffset     = 24
)

// IPv4 field offsets.
const (
	IPv4VersionIHLOffset  = 0
	IPv4TOSOffset         = 1 // DSCP and ECN
	IPv4TotalLenOffset    = 2
	IPv4IDOffset          = 4
	IPv4FlagsFragOffset   = 6
	IPv4TTLOffset         = 8
	IPv4ProtocolOffset    = 9
	IPv4ChecksumOffset    = 10
	IPv4SrcAddrOffset     = 12
	IPv4DstAddrOffset     = 16
	ipv4FlagsFragmentMask = 0x3fff // MF and the fragment offset
	// IPv4VersionIHLNoOptions is the first byte of an IPv4 header without
	// options: version 4, IHL 5.
	IPv4VersionIHLNoOptions = 0x45
)

// TCP field offsets.
const (
	TCPSrcPortOffset    = 0
	TCPDstPortOffset    = 2
	TCPSeqNumOffset     = 4
	TCPAckNumOffset     = 8
	TCPDataOffsetOffset = 12
	TCPFlagsOffset      = 13
	TCPWindowOffset     = 14
	TCPChecksumOffset   = 16
)

// UDP field offsets.
const (
	UDPSrcPortOffset  = 0
	UDPDstPortOffset  = 2
	UDPLengthOffset   = 4
	UDPChecksumOffset = 6
)

// ICMP field offsets.
const (
	ICMPTypeOffset     = 0
	ICMPCodeOffset     = 1
	ICMPChecksumOffset = 2
	ICMPRestOffset     = 4 // the four type-specific bytes
	// ICMPNextHopMTUOffset is where destination unreachable, fragmentation
	// needed, carries the next-hop MTU (RFC 1191).
	ICMPNextHopMTUOffset = 6
)

// Problem is what Check found wrong with a header; OK means nothing. The
// values of every header share one type so that a user (the fastpath's drop
// reasons) maps them with one table.
type Problem uint8

// Problems.
const (
	OK Problem = iota
	IPv4Truncated
	IPv4BadVersion
	IPv4BadIHL         // IHL < 5, or the header runs past the frame
	IPv4BadTotalLength // total length < header length or > the bytes present
	IPv4Fragment       // MF set or a non-zero fragment offset
	IPv4Options        // IHL > 5
	TCPTruncated
	TCPBadDataOffset // data offset < 5, or the header runs past the segment
	UDPTruncated
	UDPBadLength // length field < 8 or beyond the datagram's bytes
	IPv6Truncated
	IPv6BadVersion
	IPv6BadLength // payload length beyond the bytes present
	IPv6Extension // an extension header (or a fragment) the fastpath does not parse
	NumProblems
)

// Ethernet is an Ethernet II header. The gateway's ports are untagged, so a
// tagged frame is recognised (Tagged) but never parsed past its tag.
type Ethernet []byte

// IsValid reports whether the frame holds a whole Ethernet header.
func (e Ethernet) IsValid() bool { return len(e) >= EthernetHeaderLen }

// Destination returns the destination MAC bytes.
func (e Ethernet) Destination() []byte { return e[EthernetDstOffset:EthernetSrcOffset] }

// Source returns the source MAC bytes.
func (e Ethernet) Source() []byte { return e[EthernetSrcOffset:EthernetTypeOffset] }

// DestinationUint64 returns the destination MAC as a big-endian integer.
func (e Ethernet) DestinationUint64() uint64 {
	return MACUint64(e[EthernetDstOffset:EthernetSrcOffset])
}

// Type returns the EtherType (the tag protocol identifier of a tagged frame).
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[EthernetTypeOffset:]) }

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

// SetDestination sets the destination MAC from its 6 bytes.
func (e Ethernet) SetDestination(mac []byte) { copy(e[EthernetDstOffset:EthernetSrcOffset], mac) }

// SetSource sets the source MAC from its 6 bytes.
func (e Ethernet) SetSource(mac []byte) { copy(e[EthernetSrcOffset:EthernetTypeOffset], mac) }

// SetDestinationUint64 sets the destination MAC from a big-endian integer.
func (e Ethernet) SetDestinationUint64(mac uint64) {
	PutMACUint64(e[EthernetDstOffset:EthernetSrcOffset], mac)
}

// SetSourceUint64 sets the source MAC from a big-endian integer.
func (e Ethernet) SetSourceUint64(mac uint64) {
	PutMACUint64(e[EthernetSrcOffset:EthernetTypeOffset], mac)
}

// SetType sets the EtherType.
func (e Ethernet) SetType(t uint16) { binary.BigEndian.PutUint16(e[EthernetTypeOffset:], t) }

// DestinationHiLo returns the destination MAC split as MACHiLo splits
// one: a fixed-layout parser compares the two words with those of a known
// MAC, the cheapest test on a path where nearly every frame matches.
func (e Ethernet) DestinationHiLo() (hi uint32, lo uint16) {
	return binary.BigEndian.Uint32(e[EthernetDstOffset:]), binary.BigEndian.Uint16(e[EthernetDstOffset+macHiLen:])
}

// macHiLen is how many bytes of a MAC MACHiLo puts in its first word.
const macHiLen = 4

// MACHiLo splits a MAC into its first four and last two bytes, for
// comparing with DestinationHiLo.
func MACHiLo(mac [MACLen]byte) (hi uint32, lo uint16) {
	return binary.BigEndian.Uint32(mac[:macHiLen]), binary.BigEndian.Uint16(mac[macHiLen:])
}

// MACUint64 returns the MAC address in b's first 6 bytes as a big-endian
// integer: two loads, so a MAC compares and is stored as one word.
func MACUint64(b []byte) uint64 {
	_ = b[MACLen-1]
	return uint64(binary.BigEndian.Uint32(b))<<16 | uint64(binary.BigEndian.Uint16(b[macHiLen:]))
}

// PutMACUint64 writes mac (a big-endian integer) into b's first 6 bytes.
func PutMACUint64(b []byte, mac uint64) {
	_ = b[MACLen-1]
	binary.BigEndian.PutUint32(b, uint32(mac>>16))
	binary.BigEndian.PutUint16(b[macHiLen:], uint16(mac))
}

// ARP operations.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// arpHardwareEthernet is ARP's hardware type for Ethernet.
const arpHardwareEthernet = 1

// ARP is an ARP packet for IPv4 over Ethernet (RFC 826).
type ARP []byte

// IsValid reports whether this is a complete Ethernet/IPv4 ARP packet.
func (a ARP) IsValid() bool {
	return len(a) >= ARPIPv4Len &&
		binary.BigEndian.Uint16(a[ARPHardwareTypeOffset:]) == arpHardwareEthernet &&
		binary.BigEndian.Uint16(a[ARPProtocolTypeOffset:]) == EtherTypeIPv4 &&
		a[ARPHardwareLenOffset] == MACLen && a[ARPProtocolLenOffset] == IPv4AddressLen
}

// SetIPv4OverEthernet writes the hardware and protocol types and lengths
// of an Ethernet/IPv4 ARP packet, the fields IsValid checks.
func (a ARP) SetIPv4OverEthernet() {
	binary.BigEndian.PutUint16(a[ARPHardwareTypeOffset:], arpHardwareEthernet)
	binary.BigEndian.PutUint16(a[ARPProtocolTypeOffset:], EtherTypeIPv4)
	a[ARPHardwareLenOffset], a[ARPProtocolLenOffset] = MACLen, IPv4AddressLen
}

// Op returns the ARP operation.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[ARPOpOffset:]) }

// SenderMAC returns the sender hardware address bytes.
func (a ARP) SenderMAC() []byte { return a[ARPSenderMACOffset:ARPSenderIPOffset] }

// SenderIP returns the sender protocol address as a big-endian integer.
func (a ARP) SenderIP() uint32 { return binary.BigEndian.Uint32(a[ARPSenderIPOffset:]) }

// TargetMAC returns the target hardware address bytes.
func (a ARP) TargetMAC() []byte { return a[ARPTargetMACOffset:ARPTargetIPOffset] }

// TargetIP returns the target protocol address as a big-endian integer.
func (a ARP) TargetIP() uint32 { return binary.BigEndian.Uint32(a[ARPTargetIPOffset:]) }

// SenderAddr returns the sender protocol address.
func (a ARP) SenderAddr() netip.Addr { return addr4(a[ARPSenderIPOffset:]) }

// TargetAddr returns the target protocol address.
func (a ARP) TargetAddr() netip.Addr { return addr4(a[ARPTargetIPOffset:]) }

// SetOp sets the ARP operation.
func (a ARP) SetOp(op uint16) { binary.BigEndian.PutUint16(a[ARPOpOffset:], op) }

// SetSenderMAC sets the sender hardware address from its 6 bytes.
func (a ARP) SetSenderMAC(mac []byte) { copy(a[ARPSenderMACOffset:ARPSenderIPOffset], mac) }

// SetSenderIP sets the sender protocol address.
func (a ARP) SetSenderIP(ip uint32) { binary.BigEndian.PutUint32(a[ARPSenderIPOffset:], ip) }

// SetTargetMAC sets the target hardware address from its 6 bytes.
func (a ARP) SetTargetMAC(mac []byte) { copy(a[ARPTargetMACOffset:ARPTargetIPOffset], mac) }

// SetTargetIP sets the target protocol address.
func (a ARP) SetTargetIP(ip uint32) { binary.BigEndian.PutUint32(a[ARPTargetIPOffset:], ip) }

// IPv4 is an IPv4 header followed by its payload.
type IPv4 []byte

// Check validates the header against the bytes present. Trailing bytes
// beyond the total length (Ethernet padding) are allowed.
func (ip IPv4) Check() Problem {
	if len(ip) < IPv4MinHeaderLen {
		return IPv4Truncated
	}
	if ip.Version() != 4 {
		return IPv4BadVersion
	}
	ihl := ip.HeaderLen()
	if ihl < IPv4MinHeaderLen || ihl > len(ip) {
		return IPv4BadIHL
	}
	total := ip.TotalLength()
	if total < ihl || total > len(ip) {
		return IPv4BadTotalLength
	}
	if ip.Fragmented() {
		return IPv4Fragment
	}
	if ihl != IPv4MinHeaderLen {
		return IPv4Options
	}
	return OK
}

// IsValid reports whether the header passes Check.
func (ip IPv4) IsValid() bool { return ip.Check() == OK }

// Version returns the version field.
func (ip IPv4) Version() uint8 { return ip[IPv4VersionIHLOffset] >> 4 }

// HeaderLen returns the header length in bytes from the IHL field.
func (ip IPv4) HeaderLen() int { return int(ip[IPv4VersionIHLOffset]&0x0f) * 4 }

// TotalLength returns the total length field.
func (ip IPv4) TotalLength() int { return int(binary.BigEndian.Uint16(ip[IPv4TotalLenOffset:])) }

// Fragmented reports whether MF is set or the fragment offset is not zero.
func (ip IPv4) Fragmented() bool {
	return FragmentBits(binary.BigEndian.Uint16(ip[IPv4FlagsFragOffset:]))
}

// FragmentBits reports whether the flags-and-fragment-offset word f has MF
// set or a non-zero offset (DF alone is not a fragment).
func FragmentBits(f uint16) bool { return f&ipv4FlagsFragmentMask != 0 }

// Protocol returns the payload's IP protocol number.
func (ip IPv4) Protocol() uint8 { return ip[IPv4ProtocolOffset] }

// Checksum returns the header checksum field.
func (ip IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(ip[IPv4ChecksumOffset:]) }

// Source returns the source address as a big-endian integer.
func (ip IPv4) Source() uint32 { return binary.BigEndian.Uint32(ip[IPv4SrcAddrOffset:]) }

// Destination returns the destination address as a big-endian integer.
func (ip IPv4) Destination() uint32 { return binary.BigEndian.Uint32(ip[IPv4DstAddrOffset:]) }

// SourceAddr returns the source address.
func (ip IPv4) SourceAddr() netip.Addr { return addr4(ip[IPv4SrcAddrOffset:]) }

// DestinationAddr returns the destination address.
func (ip IPv4) DestinationAddr() netip.Addr { return addr4(ip[IPv4DstAddrOffset:]) }

// addr4 returns the IPv4 address in b's first 4 bytes.
func addr4(b []byte) netip.Addr { return netip.AddrFrom4([IPv4AddressLen]byte(b[:IPv4AddressLen])) }

// Addresses returns the source and destination address bytes, in that
// order and adjacent (8 bytes), as the TCP/UDP pseudo-header sums them.
func (ip IPv4) Addresses() []byte { return ip[IPv4SrcAddrOffset : IPv4DstAddrOffset+IPv4AddressLen] }

// Payload returns the bytes between the header and the total length.
func (ip IPv4) Payload() []byte { return ip[ip.HeaderLen():ip.TotalLength()] }

// SetSource sets the source address.
func (ip IPv4) SetSource(a uint32) { binary.BigEndian.PutUint32(ip[IPv4SrcAddrOffset:], a) }

// SetDestination sets the destination address.
func (ip IPv4) SetDestination(a uint32) { binary.BigEndian.PutUint32(ip[IPv4DstAddrOffset:], a) }

// SetChecksum sets the header checksum field.
func (ip IPv4) SetChecksum(sum uint16) { binary.BigEndian.PutUint16(ip[IPv4ChecksumOffset:], sum) }

// SetHeaderLen sets version 4 and the IHL for a header of n bytes (a
// multiple of 4).
func (ip IPv4) SetHeaderLen(n int) { ip[IPv4VersionIHLOffset] = 4<<4 | byte(n/4) }

// SetTotalLength sets the total length field.
func (ip IPv4) SetTotalLength(n int) { binary.BigEndian.PutUint16(ip[IPv4TotalLenOffset:], uint16(n)) }

// SetID sets the identification field.
func (ip IPv4) SetID(id uint16) { binary.BigEndian.PutUint16(ip[IPv4IDOffset:], id) }

// SetFlagsFragment sets the flags and fragment offset word.
func (ip IPv4) SetFlagsFragment(f uint16) { binary.BigEndian.PutUint16(ip[IPv4FlagsFragOffset:], f) }

// SetTTL sets the time to live.
func (ip IPv4) SetTTL(ttl uint8) { ip[IPv4TTLOffset] = ttl }

// SetProtocol sets the payload's IP protocol number.
func (ip IPv4) SetProtocol(p uint8) { ip[IPv4ProtocolOffset] = p }

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

// Check validates the header against the segment's bytes.
func (t TCP) Check() Problem {
	if len(t) < TCPMinHeaderLen {
		return TCPTruncated
	}
	if off := t.DataOffset(); off < TCPMinHeaderLen || off > len(t) {
		return TCPBadDataOffset
	}
	return OK
}

// IsValid reports whether the header passes Check.
func (t TCP) IsValid() bool { return t.Check() == OK }

// SourcePort returns the source port.
func (t TCP) SourcePort() uint16 { return binary.BigEndian.Uint16(t[TCPSrcPortOffset:]) }

// DestinationPort returns the destination port.
func (t TCP) DestinationPort() uint16 { return binary.BigEndian.Uint16(t[TCPDstPortOffset:]) }

// Ports returns the source and destination port bytes (4, adjacent).
func (t TCP) Ports() []byte { return t[TCPSrcPortOffset : TCPDstPortOffset+2] }

// SequenceNumber returns the sequence number.
func (t TCP) SequenceNumber() uint32 { return binary.BigEndian.Uint32(t[TCPSeqNumOffset:]) }

// DataOffset returns the header length in bytes.
func (t TCP) DataOffset() int { return DataOffsetBytes(t[TCPDataOffsetOffset]) }

// DataOffsetBytes returns the header length in bytes that the data offset
// byte b (the field in its high nibble) gives.
func DataOffsetBytes(b uint8) int { return int(b>>4) * 4 }

// Flags returns the low eight flag bits (CWR … FIN).
func (t TCP) Flags() uint8 { return t[TCPFlagsOffset] }

// Checksum returns the checksum field.
func (t TCP) Checksum() uint16 { return binary.BigEndian.Uint16(t[TCPChecksumOffset:]) }

// SetChecksum sets the checksum field.
func (t TCP) SetChecksum(sum uint16) { binary.BigEndian.PutUint16(t[TCPChecksumOffset:], sum) }

// SetSourcePort sets the source port.
func (t TCP) SetSourcePort(p uint16) { binary.BigEndian.PutUint16(t[TCPSrcPortOffset:], p) }

// SetDestinationPort sets the destination port.
func (t TCP) SetDestinationPort(p uint16) { binary.BigEndian.PutUint16(t[TCPDstPortOffset:], p) }

// SetSequenceNumber sets the sequence number.
func (t TCP) SetSequenceNumber(n uint32) { binary.BigEndian.PutUint32(t[TCPSeqNumOffset:], n) }

// SetAckNumber sets the acknowledgement number.
func (t TCP) SetAckNumber(n uint32) { binary.BigEndian.PutUint32(t[TCPAckNumOffset:], n) }

// SetDataOffset sets the header length to n bytes (a multiple of 4),
// clearing the reserved bits that share its byte.
func (t TCP) SetDataOffset(n int) { t[TCPDataOffsetOffset] = byte(n/4) << 4 }

// SetFlags sets the low eight flag bits.
func (t TCP) SetFlags(f uint8) { t[TCPFlagsOffset] = f }

// SetWindow sets the window size.
func (t TCP) SetWindow(w uint16) { binary.BigEndian.PutUint16(t[TCPWindowOffset:], w) }

// UDP is a UDP header followed by its payload.
type UDP []byte

// Check validates the header against the datagram's bytes.
func (u UDP) Check() Problem {
	if len(u) < UDPHeaderLen {
		return UDPTruncated
	}
	if l := u.Length(); l < UDPHeaderLen || l > len(u) {
		return UDPBadLength
	}
	return OK
}

// IsValid reports whether the header passes Check.
func (u UDP) IsValid() bool { return u.Check() == OK }

// SourcePort returns the source port.
func (u UDP) SourcePort() uint16 { return binary.BigEndian.Uint16(u[UDPSrcPortOffset:]) }

// DestinationPort returns the destination port.
func (u UDP) DestinationPort() uint16 { return binary.BigEndian.Uint16(u[UDPDstPortOffset:]) }

// Length returns the length field (header plus payload).
func (u UDP) Length() int { return int(binary.BigEndian.Uint16(u[UDPLengthOffset:])) }

// Payload returns the bytes after the header, up to the length field.
func (u UDP) Payload() []byte { return u[UDPHeaderLen:u.Length()] }

// SetSourcePort sets the source port.
func (u UDP) SetSourcePort(p uint16) { binary.BigEndian.PutUint16(u[UDPSrcPortOffset:], p) }

// SetDestinationPort sets the destination port.
func (u UDP) SetDestinationPort(p uint16) { binary.BigEndian.PutUint16(u[UDPDstPortOffset:], p) }

// SetLength sets the length field (header plus payload).
func (u UDP) SetLength(n int) { binary.BigEndian.PutUint16(u[UDPLengthOffset:], uint16(n)) }

// Checksum returns the checksum field.
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[UDPChecksumOffset:]) }

// SetChecksum sets the checksum field.
func (u UDP) SetChecksum(sum uint16) { binary.BigEndian.PutUint16(u[UDPChecksumOffset:], sum) }

// ICMP message types the fastpath handles.
const (
	ICMPEchoReply       uint8 = 0
	ICMPDestUnreachable uint8 = 3
	ICMPEchoRequest     uint8 = 8
	ICMPTimeExceeded    uint8 = 11
)

// ICMPCodeFragNeeded is destination unreachable's "fragmentation needed
// and DF set" code (RFC 792); the next-hop MTU is in the rest of the
// header (RFC 1191).
const ICMPCodeFragNeeded uint8 = 4

// ICMP is an ICMPv4 message.
type ICMP []byte

// IsValid reports whether the fixed header is whole.
func (m ICMP) IsValid() bool { return len(m) >= ICMPHeaderLen }

// Type returns the message type.
func (m ICMP) Type() uint8 { return m[ICMPTypeOffset] }

// Code returns the message code.
func (m ICMP) Code() uint8 { return m[ICMPCodeOffset] }

// TypeCode returns type and code as the 16-bit word the checksum sums.
func (m ICMP) TypeCode() uint16 { return binary.BigEndian.Uint16(m[ICMPTypeOffset:]) }

// Checksum returns the checksum field.
func (m ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(m[ICMPChecksumOffset:]) }

// IsError reports whether the message is an error the fastpath forwards
// (destination unreachable, time exceeded), which quotes a datagram.
func (m ICMP) IsError() bool {
	t := m.Type()
	return t == ICMPDestUnreachable || t == ICMPTimeExceeded
}

// Payload returns the bytes after the fixed header: for an error, the
// quoted start of the datagram that caused it.
func (m ICMP) Payload() []byte { return m[ICMPHeaderLen:] }

// SetType sets the message type.
func (m ICMP) SetType(t uint8) { m[ICMPTypeOffset] = t }

// SetCode sets the message code.
func (m ICMP) SetCode(c uint8) { m[ICMPCodeOffset] = c }

// Rest returns the four type-specific bytes of the fixed header.
func (m ICMP) Rest() []byte { return m[ICMPRestOffset:ICMPHeaderLen] }

// SetNextHopMTU sets the next-hop MTU of a "fragmentation needed" error
// (RFC 1191).
func (m ICMP) SetNextHopMTU(mtu uint16) { binary.BigEndian.PutUint16(m[ICMPNextHopMTUOffset:], mtu) }

// SetChecksum sets the checksum field.
func (m ICMP) SetChecksum(sum uint16) { binary.BigEndian.PutUint16(m[ICMPChecksumOffset:], sum) }

// quotedPortsLen is how much of the quoted datagram's payload an ICMP error
// must hold: the first 8 bytes, which hold a TCP or UDP header's ports.
const quotedPortsLen = 8

// QuotedDatagram is the start of the datagram an ICMP error quotes: its
// IPv4 header (whose total length describes the whole original datagram,
// not the bytes quoted) and at least the first 8 bytes of its payload,
// which hold a TCP or UDP header's ports.
type QuotedDatagram []byte

// IsValid reports whether the quote holds an IPv4 header and 8 bytes after
// it.
func (q QuotedDatagram) IsValid() bool {
	if len(q) < IPv4MinHeaderLen || IPv4(q).Version() != 4 {
		return false
	}
	ihl := IPv4(q).HeaderLen()
	return ihl >= IPv4MinHeaderLen && len(q) >= ihl+quotedPortsLen
}

// Protocol returns the quoted datagram's protocol.
func (q QuotedDatagram) Protocol() uint8 { return IPv4(q).Protocol() }

// Source returns the quoted datagram's source address.
func (q QuotedDatagram) Source() uint32 { return IPv4(q).Source() }

// Destination returns the quoted datagram's destination address.
func (q QuotedDatagram) Destination() uint32 { return IPv4(q).Destination() }

// Ports returns the quoted TCP or UDP source and destination ports (both
// headers start with them).
func (q QuotedDatagram) Ports() (src, dst uint16) {
	l4 := UDP(q[IPv4(q).HeaderLen():])
	return l4.SourcePort(), l4.DestinationPort()
}

// IPv4HeaderChecksum returns the checksum of an IPv4 header without
// options (20 bytes) whose checksum field is zero.
func IPv4HeaderChecksum(h []byte) uint16 {
	return foldComplement(sumWords(0, h[:IPv4MinHeaderLen]))
}

// Checksum returns the Internet checksum of b (odd lengths padded with a
// zero byte), for messages built whole, such as an ICMP error.
func Checksum(b []byte) uint16 { return foldComplement(sumWords(0, b)) }

// sumWords adds the 16-bit big-endian words of b to s, an odd last byte
// padded with a zero byte.
func sumWords(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// foldComplement folds the carries of a sum of words into 16 bits and
// complements it: the Internet checksum of what was summed.
func foldComplement(s uint32) uint16 {
	s = (s & 0xffff) + s>>16
	s = (s & 0xffff) + s>>16
	return ^uint16(s)
}

// ChecksumAdjust returns an Internet checksum updated for one 16-bit word
// of the summed data changing from old to new (RFC 1624, eqn. 3).
func ChecksumAdjust(sum, old, new uint16) uint16 {
	return foldComplement(uint32(^sum) + uint32(^old) + uint32(new))
}
