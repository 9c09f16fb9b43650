package header

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 header layout (RFC 8200): a fixed 40-byte header, no options in it;
// anything optional comes as extension headers, which the fastpath does not
// parse (IPv6Extension).
const (
	IPv6HeaderLen         = 40
	IPv6AddressLen        = 16
	IPv6VersionOffset     = 0 // version (4 bits), traffic class (8), flow label (20)
	IPv6PayloadLenOffset  = 4
	IPv6NextHeaderOffset  = 6
	IPv6HopLimitOffset    = 7
	IPv6SrcAddrOffset     = 8
	IPv6DstAddrOffset     = 24
	UntaggedIPv6Offset    = EthernetHeaderLen
	UntaggedIPv6L4Offset  = UntaggedIPv6Offset + IPv6HeaderLen
	ICMPv6ProtocolNumber  = 58
	IPv6NoNextHeader      = 59
	ipv6VersionShift      = 4
	ipv6HopByHopOptions   = 0
	ipv6Routing           = 43
	ipv6Fragment          = 44
	ipv6EncapsulatingSec  = 50
	ipv6Authentication    = 51
	ipv6DestinationOption = 60
	ipv6Mobility          = 135
	ipv6HostIdentity      = 139
	ipv6Shim6             = 140
)

// IPv6 is an IPv6 header followed by its payload.
type IPv6 []byte

// Check validates the fixed header against the bytes present (trailing
// Ethernet padding allowed) and refuses extension headers.
func (ip IPv6) Check() Problem {
	if len(ip) < IPv6HeaderLen {
		return IPv6Truncated
	}
	if ip.Version() != 6 {
		return IPv6BadVersion
	}
	if IPv6HeaderLen+ip.PayloadLength() > len(ip) {
		return IPv6BadLength
	}
	if IsIPv6Extension(ip.NextHeader()) {
		return IPv6Extension
	}
	return OK
}

// IsIPv6Extension reports whether next header value h names an extension
// header (RFC 8200 §4, RFC 7045's list), not an upper-layer protocol.
func IsIPv6Extension(h uint8) bool {
	switch h {
	case ipv6HopByHopOptions, ipv6Routing, ipv6Fragment, ipv6EncapsulatingSec, ipv6Authentication,
		ipv6DestinationOption, ipv6Mobility, ipv6HostIdentity, ipv6Shim6:
		return true
	}
	return false
}

// Version returns the version field.
func (ip IPv6) Version() uint8 { return ip[IPv6VersionOffset] >> ipv6VersionShift }

// PayloadLength returns the payload length field (what follows the fixed
// header).
func (ip IPv6) PayloadLength() int { return int(binary.BigEndian.Uint16(ip[IPv6PayloadLenOffset:])) }

// NextHeader returns the protocol of what follows the fixed header.
func (ip IPv6) NextHeader() uint8 { return ip[IPv6NextHeaderOffset] }

// HopLimit returns the hop limit.
func (ip IPv6) HopLimit() uint8 { return ip[IPv6HopLimitOffset] }

// Source returns the source address's bytes (in place).
func (ip IPv6) Source() []byte { return ip[IPv6SrcAddrOffset:IPv6DstAddrOffset] }

// Destination returns the destination address's bytes (in place).
func (ip IPv6) Destination() []byte { return ip[IPv6DstAddrOffset:IPv6HeaderLen] }

// SourceAddr returns the source address.
func (ip IPv6) SourceAddr() netip.Addr { return netip.AddrFrom16([16]byte(ip.Source())) }

// DestinationAddr returns the destination address.
func (ip IPv6) DestinationAddr() netip.Addr { return netip.AddrFrom16([16]byte(ip.Destination())) }

// Payload returns what follows the fixed header, up to the payload length.
func (ip IPv6) Payload() []byte { return ip[IPv6HeaderLen : IPv6HeaderLen+ip.PayloadLength()] }

// SetPayloadLength sets the payload length field.
func (ip IPv6) SetPayloadLength(n int) {
	binary.BigEndian.PutUint16(ip[IPv6PayloadLenOffset:], uint16(n))
}

// SetHopLimit sets the hop limit.
func (ip IPv6) SetHopLimit(h uint8) { ip[IPv6HopLimitOffset] = h }

// SetVersionClassFlow sets version 6, traffic class 0 and flow label 0.
func (ip IPv6) SetVersionClassFlow() {
	binary.BigEndian.PutUint32(ip[IPv6VersionOffset:], 6<<28)
}

// SetNextHeader sets the next header field.
func (ip IPv6) SetNextHeader(h uint8) { ip[IPv6NextHeaderOffset] = h }

// ICMPv6 message types the fastpath handles (RFC 4443, RFC 4861).
const (
	ICMPv6DestUnreachable       uint8 = 1
	ICMPv6PacketTooBig          uint8 = 2
	ICMPv6TimeExceeded          uint8 = 3
	ICMPv6ParameterProblem      uint8 = 4
	ICMPv6EchoRequest           uint8 = 128
	ICMPv6EchoReply             uint8 = 129
	ICMPv6NeighborSolicitation  uint8 = 135
	ICMPv6NeighborAdvertisement uint8 = 136
)

// IsICMPv6Error reports whether type t is an error that quotes the packet
// that caused it (RFC 4443 §2.1: types below 128).
func IsICMPv6Error(t uint8) bool {
	return t == ICMPv6DestUnreachable || t == ICMPv6PacketTooBig || t == ICMPv6TimeExceeded || t == ICMPv6ParameterProblem
}

// Neighbor Discovery (RFC 4861 §4.3, §4.4): after the ICMPv6 header's four
// bytes come four reserved (NS) or flag (NA) bytes, the target address,
// then options; the one option the fastpath reads and writes is the
// source (NS) or target (NA) link-layer address, type 1 or 2, length 1
// (eight bytes: type, length, the MAC).
const (
	NDPTargetOffset         = ICMPHeaderLen
	NDPOptionsOffset        = NDPTargetOffset + IPv6AddressLen
	NDPLinkLayerOptionLen   = 8
	NDPSourceLinkLayer      = 1
	NDPTargetLinkLayer      = 2
	NDPMessageLen           = NDPOptionsOffset + NDPLinkLayerOptionLen // with one link-layer option
	NDPHopLimit             = 255                                      // every NDP message's, checked by the receiver
	NDPFlagSolicited        = 0x40000000
	NDPFlagOverride         = 0x20000000
	ndpOptionUnitLen        = 8
	ndpOptionLengthOffset   = 1
	ndpLinkLayerValueOffset = 2
)

// NDP is a Neighbor Solicitation or Advertisement (the ICMPv6 message).
type NDP []byte

// IsValid reports whether the message holds the fixed part and its target.
func (n NDP) IsValid() bool { return len(n) >= NDPOptionsOffset }

// Target returns the target address's bytes (in place).
func (n NDP) Target() []byte { return n[NDPTargetOffset:NDPOptionsOffset] }

// LinkLayerOption returns the MAC of the first link-layer address option
// of type want, and whether the options hold one. A malformed option list
// (a zero length, or one past the message) ends the search.
func (n NDP) LinkLayerOption(want uint8) ([]byte, bool) {
	opts := n[NDPOptionsOffset:]
	for len(opts) >= 2 {
		size := int(opts[ndpOptionLengthOffset]) * ndpOptionUnitLen
		if size == 0 || size > len(opts) {
			return nil, false
		}
		if opts[0] == want && size >= ndpLinkLayerValueOffset+MACLen {
			return opts[ndpLinkLayerValueOffset : ndpLinkLayerValueOffset+MACLen], true
		}
		opts = opts[size:]
	}
	return nil, false
}

// PutLinkLayerOption writes a link-layer address option of type typ with
// mac at the start of the options (NDPLinkLayerOptionLen bytes).
func (n NDP) PutLinkLayerOption(typ uint8, mac []byte) {
	o := n[NDPOptionsOffset : NDPOptionsOffset+NDPLinkLayerOptionLen]
	o[0], o[ndpOptionLengthOffset] = typ, 1
	copy(o[ndpLinkLayerValueOffset:], mac)
}

// ICMPv6Checksum returns the checksum of an ICMPv6 message msg (its
// checksum field zero) from src to dst: the IPv6 pseudo-header (RFC 8200
// §8.1) and the message.
func ICMPv6Checksum(src, dst, msg []byte) uint16 {
	return upperLayerChecksum(src, dst, ICMPv6ProtocolNumber, msg)
}

// upperLayerChecksum is the Internet checksum over the IPv6 pseudo-header
// of an upper-layer message of protocol proto and the message.
func upperLayerChecksum(src, dst []byte, proto uint8, msg []byte) uint16 {
	s := uint32(len(msg)>>16) + uint32(len(msg)&0xffff) + uint32(proto)
	s = sumWords(sumWords(s, src[:IPv6AddressLen]), dst[:IPv6AddressLen])
	return foldComplement(sumWords(s, msg))
}

// QuotedIPv6 is the start of the packet an ICMPv6 error quotes: its fixed
// header and at least the 8 bytes that hold a TCP or UDP header's ports.
type QuotedIPv6 []byte

// IsValid reports whether the quote holds a fixed IPv6 header followed by
// 8 bytes of TCP or UDP.
func (q QuotedIPv6) IsValid() bool {
	return len(q) >= IPv6HeaderLen+quotedPortsLen && IPv6(q).Version() == 6
}

// Ports returns the quoted TCP or UDP source and destination ports.
func (q QuotedIPv6) Ports() (src, dst uint16) {
	l4 := UDP(q[IPv6HeaderLen:])
	return l4.SourcePort(), l4.DestinationPort()
}

// SolicitedNodeMAC returns the Ethernet multicast address of target's
// solicited-node group (33:33:ff and the address's last three bytes).
func SolicitedNodeMAC(target []byte) [MACLen]byte {
	return [MACLen]byte{0x33, 0x33, 0xff, target[13], target[14], target[15]}
}

// SolicitedNodeAddr returns target's solicited-node multicast address
// ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
func SolicitedNodeAddr(target []byte) [IPv6AddressLen]byte {
	return [IPv6AddressLen]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: target[13], 14: target[14], 15: target[15]}
}
