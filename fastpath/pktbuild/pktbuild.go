// Package pktbuild builds Ethernet frames for tests, golden captures and
// traffic generators. It allocates freely and is never used on the fastpath.
package pktbuild

import (
	"encoding/binary"
	"net/netip"

	"vec/fastpath/header"
)

// MAC is an Ethernet address.
type MAC = [6]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Flow names one direction of a TCP or UDP conversation at L2–L4.
type Flow struct {
	SrcMAC, DstMAC   MAC
	SrcIP, DstIP     netip.Addr
	SrcPort, DstPort uint16
	VLAN             uint16 // 0 = untagged
}

// TCP flag bits, as in the TCP header.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

func ethernet(f *Flow, etherType uint16, payloadLen int) []byte {
	hl := header.EthernetHeaderLen
	if f.VLAN != 0 {
		hl = header.VLANTaggedHeaderLen
	}
	b := header.Ethernet(make([]byte, hl+payloadLen))
	b.SetDestination(f.DstMAC[:])
	b.SetSource(f.SrcMAC[:])
	if f.VLAN != 0 {
		b.SetType(header.EtherTypeVLAN)
		binary.BigEndian.PutUint16(b[header.VLANTCIOffset:], header.VLANID(f.VLAN))
		binary.BigEndian.PutUint16(b[header.VLANInnerTypeOffset:], etherType)
	} else {
		b.SetType(etherType)
	}
	return b
}

// addrUint32 returns an IPv4 address as a big-endian integer.
func addrUint32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// IPv4Header writes a 20-byte IPv4 header with a correct checksum into b.
func IPv4Header(b []byte, src, dst netip.Addr, proto uint8, totalLen int) {
	ip := header.IPv4(b)
	ip.SetHeaderLen(header.IPv4MinHeaderLen)
	ip.SetTotalLength(totalLen)
	ip.SetID(0x1234)
	ip.SetFlagsFragment(0x4000) // DF
	ip.SetTTL(64)
	ip.SetProtocol(proto)
	ip.SetSource(addrUint32(src))
	ip.SetDestination(addrUint32(dst))
	ip.SetChecksum(0)
	ip.SetChecksum(^checksum(b[:header.IPv4MinHeaderLen], 0))
}

// ipv4Frame builds the frame of an IPv4 packet from f carrying l4Len bytes
// of protocol proto, and returns it and those bytes (zero) to fill in.
func ipv4Frame(f *Flow, proto uint8, l4Len int) (frame, l4 []byte) {
	ipLen := header.IPv4MinHeaderLen + l4Len
	b := ethernet(f, header.EtherTypeIPv4, ipLen)
	ip := b[len(b)-ipLen:]
	IPv4Header(ip, f.SrcIP, f.DstIP, proto, ipLen)
	return b, ip[header.IPv4MinHeaderLen:]
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func pseudoHeaderSum(src, dst netip.Addr, proto uint8, l4Len int) uint32 {
	if src.Is6() {
		var sum uint32
		for _, a := range [][]byte{src.AsSlice(), dst.AsSlice()} {
			for i := 0; i < len(a); i += 2 {
				sum += uint32(binary.BigEndian.Uint16(a[i:]))
			}
		}
		return sum + uint32(proto) + uint32(l4Len)
	}
	s, d := addrUint32(src), addrUint32(dst)
	return s>>16 + s&0xffff + d>>16 + d&0xffff + uint32(proto) + uint32(l4Len)
}

// ipFrame is ipv4Frame, or ipv6Frame when f's addresses are IPv6.
func ipFrame(f *Flow, proto uint8, l4Len int) (frame, l4 []byte) {
	if f.SrcIP.Is6() {
		return ipv6Frame(f, proto, l4Len)
	}
	return ipv4Frame(f, proto, l4Len)
}

// ipv6Frame builds the frame of an IPv6 packet from f (hop limit 64)
// carrying l4Len bytes of protocol proto, and returns it and those bytes.
func ipv6Frame(f *Flow, proto uint8, l4Len int) (frame, l4 []byte) {
	b := ethernet(f, header.EtherTypeIPv6, header.IPv6HeaderLen+l4Len)
	ip := header.IPv6(b[len(b)-header.IPv6HeaderLen-l4Len:])
	ip.SetVersionClassFlow()
	ip.SetPayloadLength(l4Len)
	ip.SetNextHeader(proto)
	ip.SetHopLimit(64)
	copy(ip.Source(), f.SrcIP.AsSlice())
	copy(ip.Destination(), f.DstIP.AsSlice())
	return b, ip[header.IPv6HeaderLen:]
}

// TCP builds a TCP segment with the given flags, sequence numbers and
// payload, over IPv4 or IPv6 as f's addresses are.
func TCP(f Flow, flags uint8, seq, ack uint32, payload []byte) []byte {
	b, seg := ipFrame(&f, header.TCPProtocolNumber, header.TCPMinHeaderLen+len(payload))
	writeTCP(header.TCP(seg), &f, flags, seq, ack, payload)
	return b
}

// TCPSegment is the segment TCP would frame, alone: for a raw socket, where
// the kernel writes the IP header.
func TCPSegment(f Flow, flags uint8, seq, ack uint32, payload []byte) []byte {
	seg := header.TCP(make([]byte, header.TCPMinHeaderLen+len(payload)))
	writeTCP(seg, &f, flags, seq, ack, payload)
	return seg
}

// writeTCP fills t, a TCP header without options followed by room for
// payload, checksum included.
func writeTCP(t header.TCP, f *Flow, flags uint8, seq, ack uint32, payload []byte) {
	t.SetSourcePort(f.SrcPort)
	t.SetDestinationPort(f.DstPort)
	t.SetSequenceNumber(seq)
	t.SetAckNumber(ack)
	t.SetDataOffset(header.TCPMinHeaderLen)
	t.SetFlags(flags)
	t.SetWindow(65535)
	copy(t[header.TCPMinHeaderLen:], payload)
	t.SetChecksum(^checksum(t, pseudoHeaderSum(f.SrcIP, f.DstIP, header.TCPProtocolNumber, len(t))))
}

// UDP builds a UDP datagram, over IPv4 or IPv6 as f's addresses are.
func UDP(f Flow, payload []byte) []byte {
	l4 := header.UDPHeaderLen + len(payload)
	b, datagram := ipFrame(&f, header.UDPProtocolNumber, l4)
	u := header.UDP(datagram)
	u.SetSourcePort(f.SrcPort)
	u.SetDestinationPort(f.DstPort)
	u.SetLength(l4)
	copy(u[header.UDPHeaderLen:], payload)
	u.SetChecksum(^checksum(u, pseudoHeaderSum(f.SrcIP, f.DstIP, header.UDPProtocolNumber, l4)))
	return b
}

// ARP builds an Ethernet/IPv4 ARP packet (op 1 = request, 2 = reply) from
// senderMAC/senderIP about targetIP; the frame goes to dst.
func ARP(op uint16, dst, senderMAC MAC, senderIP, targetIP netip.Addr, targetMAC MAC) []byte {
	f := Flow{SrcMAC: senderMAC, DstMAC: dst}
	b := ethernet(&f, header.EtherTypeARP, header.ARPIPv4Len)
	a := header.ARP(header.Ethernet(b).Payload())
	a.SetIPv4OverEthernet()
	a.SetOp(op)
	a.SetSenderMAC(senderMAC[:])
	a.SetSenderIP(addrUint32(senderIP))
	a.SetTargetMAC(targetMAC[:])
	a.SetTargetIP(addrUint32(targetIP))
	return b
}

// ICMP types and codes the builders below are used with.
const (
	ICMPEchoReply       = 0
	ICMPDestUnreachable = 3
	ICMPEchoRequest     = 8
	ICMPTimeExceeded    = 11
	// ICMPFragNeeded is destination unreachable's "fragmentation needed
	// and DF set" code; the next-hop MTU is in bytes 6..7.
	ICMPFragNeeded = 4
)

// ICMP builds an ICMPv4 message from src to dst (f's ports are unused):
// type, code, the four type-specific bytes rest, then body.
func ICMP(f Flow, typ, code uint8, rest [4]byte, body []byte) []byte {
	b, msg := ipv4Frame(&f, header.ICMPProtocolNumber, header.ICMPHeaderLen+len(body))
	m := header.ICMP(msg)
	m.SetType(typ)
	m.SetCode(code)
	copy(m.Rest(), rest[:])
	copy(m.Payload(), body)
	m.SetChecksum(^checksum(m, 0))
	return b
}

// FragNeeded builds the "fragmentation needed" error a router at from
// (MAC fromMAC) sends to the source of the IPv4 datagram starting at
// quoted, reporting next-hop MTU mtu; it quotes the datagram's header and
// the first 8 bytes after it, as RFC 792 asks. dst and dstMAC address the
// frame (the datagram's source and the next hop towards it).
func FragNeeded(fromMAC, dstMAC MAC, from netip.Addr, quoted []byte, mtu uint16) []byte {
	ip := header.IPv4(quoted)
	q := quoted[:min(len(quoted), ip.HeaderLen()+8)]
	src := ip.SourceAddr()
	var rest [4]byte
	binary.BigEndian.PutUint16(rest[header.ICMPNextHopMTUOffset-header.ICMPRestOffset:], mtu)
	return ICMP(Flow{SrcMAC: fromMAC, DstMAC: dstMAC, SrcIP: from, DstIP: src}, ICMPDestUnreachable, ICMPFragNeeded, rest, q)
}

// Checksum returns the Internet checksum of b (as it is stored in a
// header: the complement of the ones' complement sum); over a header or
// message that holds its own correct checksum it returns 0.
func Checksum(b []byte) uint16 { return ^checksum(b, 0) }

// ICMPv6 builds an ICMPv6 message from f.SrcIP to f.DstIP with hop limit
// hopLimit: type, code, the four type-specific bytes rest, then body.
func ICMPv6(f Flow, hopLimit uint8, typ, code uint8, rest [4]byte, body []byte) []byte {
	n := header.ICMPHeaderLen + len(body)
	b, msg := ipv6Frame(&f, header.ICMPv6ProtocolNumber, n)
	header.IPv6(b[len(b)-header.IPv6HeaderLen-n:]).SetHopLimit(hopLimit)
	m := header.ICMP(msg)
	m.SetType(typ)
	m.SetCode(code)
	copy(m.Rest(), rest[:])
	copy(m.Payload(), body)
	m.SetChecksum(^checksum(m, pseudoHeaderSum(f.SrcIP, f.DstIP, header.ICMPv6ProtocolNumber, n)))
	return b
}

// NeighborSolicitation builds a Neighbor Solicitation from src (MAC
// srcMAC) for target, to target's solicited-node group, with the source
// link-layer address option (none when src is the unspecified address, as
// in duplicate address detection).
func NeighborSolicitation(srcMAC MAC, src, target netip.Addr) []byte {
	t := target.As16()
	group := netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	f := Flow{SrcMAC: srcMAC, DstMAC: MAC{0x33, 0x33, 0xff, t[13], t[14], t[15]}, SrcIP: src, DstIP: group}
	body := t[:]
	if !src.IsUnspecified() {
		body = append(body, 1, 1)
		body = append(body, srcMAC[:]...)
	}
	return ICMPv6(f, 255, 135, 0, [4]byte{}, body)
}

// NeighborAdvertisement builds a solicited Neighbor Advertisement from
// target (MAC targetMAC) to dst (MAC dstMAC), with the target link-layer
// address option and the solicited and override flags.
func NeighborAdvertisement(targetMAC, dstMAC MAC, target, dst netip.Addr) []byte {
	t := target.As16()
	body := append(t[:], 2, 1)
	body = append(body, targetMAC[:]...)
	return ICMPv6(Flow{SrcMAC: targetMAC, DstMAC: dstMAC, SrcIP: target, DstIP: dst}, 255, 136, 0, [4]byte{0x60}, body)
}

// PacketTooBig builds the ICMPv6 "packet too big" a router at from (MAC
// fromMAC) sends to the source of the IPv6 packet starting at quoted,
// reporting MTU mtu; it quotes the first 48 bytes of the packet (enough
// for the ports). dstMAC addresses the frame.
func PacketTooBig(fromMAC, dstMAC MAC, from netip.Addr, quoted []byte, mtu uint32) []byte {
	ip := header.IPv6(quoted)
	var rest [4]byte
	binary.BigEndian.PutUint32(rest[:], mtu)
	q := quoted[:min(len(quoted), header.IPv6HeaderLen+8)]
	return ICMPv6(Flow{SrcMAC: fromMAC, DstMAC: dstMAC, SrcIP: from, DstIP: ip.SourceAddr()}, 64, 2, 0, rest, q)
}
