// Package pktbuild builds Ethernet frames for tests, golden captures and
// traffic generators. It allocates freely and is never used on the fastpath.
package pktbuild

import (
	"encoding/binary"
	"net/netip"
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
	hl := 14
	if f.VLAN != 0 {
		hl = 18
	}
	b := make([]byte, hl+payloadLen)
	copy(b[0:6], f.DstMAC[:])
	copy(b[6:12], f.SrcMAC[:])
	if f.VLAN != 0 {
		binary.BigEndian.PutUint16(b[12:14], 0x8100)
		binary.BigEndian.PutUint16(b[14:16], f.VLAN&0x0fff)
		binary.BigEndian.PutUint16(b[16:18], etherType)
	} else {
		binary.BigEndian.PutUint16(b[12:14], etherType)
	}
	return b
}

// IPv4Header writes a 20-byte IPv4 header with a correct checksum into b.
func IPv4Header(b []byte, src, dst netip.Addr, proto uint8, totalLen int) {
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(totalLen))
	binary.BigEndian.PutUint16(b[4:6], 0x1234)
	binary.BigEndian.PutUint16(b[6:8], 0x4000) // DF
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], 0)
	binary.BigEndian.PutUint16(b[10:12], ^checksum(b[:20], 0))
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
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(binary.BigEndian.Uint16(s[0:2])) + uint32(binary.BigEndian.Uint16(s[2:4]))
	sum += uint32(binary.BigEndian.Uint16(d[0:2])) + uint32(binary.BigEndian.Uint16(d[2:4]))
	sum += uint32(proto) + uint32(l4Len)
	return sum
}

// TCP builds a TCP segment with the given flags, sequence numbers and payload.
func TCP(f Flow, flags uint8, seq, ack uint32, payload []byte) []byte {
	l4 := 20 + len(payload)
	b := ethernet(&f, 0x0800, 20+l4)
	ip := b[len(b)-20-l4:]
	IPv4Header(ip, f.SrcIP, f.DstIP, 6, 20+l4)
	t := ip[20:]
	binary.BigEndian.PutUint16(t[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(t[2:4], f.DstPort)
	binary.BigEndian.PutUint32(t[4:8], seq)
	binary.BigEndian.PutUint32(t[8:12], ack)
	t[12] = 5 << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:16], 65535)
	copy(t[20:], payload)
	binary.BigEndian.PutUint16(t[16:18], ^checksum(t, pseudoHeaderSum(f.SrcIP, f.DstIP, 6, l4)))
	return b
}

// UDP builds a UDP datagram.
func UDP(f Flow, payload []byte) []byte {
	l4 := 8 + len(payload)
	b := ethernet(&f, 0x0800, 20+l4)
	ip := b[len(b)-20-l4:]
	IPv4Header(ip, f.SrcIP, f.DstIP, 17, 20+l4)
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(u[2:4], f.DstPort)
	binary.BigEndian.PutUint16(u[4:6], uint16(l4))
	copy(u[8:], payload)
	binary.BigEndian.PutUint16(u[6:8], ^checksum(u, pseudoHeaderSum(f.SrcIP, f.DstIP, 17, l4)))
	return b
}

// ARP builds an Ethernet/IPv4 ARP packet (op 1 = request, 2 = reply) from
// senderMAC/senderIP about targetIP; the frame goes to dst.
func ARP(op uint16, dst, senderMAC MAC, senderIP, targetIP netip.Addr, targetMAC MAC) []byte {
	f := Flow{SrcMAC: senderMAC, DstMAC: dst}
	b := ethernet(&f, 0x0806, 28)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)
	binary.BigEndian.PutUint16(a[2:4], 0x0800)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], op)
	sip, tip := senderIP.As4(), targetIP.As4()
	copy(a[8:14], senderMAC[:])
	copy(a[14:18], sip[:])
	copy(a[18:24], targetMAC[:])
	copy(a[24:28], tip[:])
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
	l4 := 8 + len(body)
	b := ethernet(&f, 0x0800, 20+l4)
	ip := b[len(b)-20-l4:]
	IPv4Header(ip, f.SrcIP, f.DstIP, 1, 20+l4)
	m := ip[20:]
	m[0], m[1] = typ, code
	copy(m[4:8], rest[:])
	copy(m[8:], body)
	binary.BigEndian.PutUint16(m[2:4], ^checksum(m, 0))
	return b
}

// FragNeeded builds the "fragmentation needed" error a router at from
// (MAC fromMAC) sends to the source of the IPv4 datagram starting at
// quoted, reporting next-hop MTU mtu; it quotes the datagram's header and
// the first 8 bytes after it, as RFC 792 asks. dst and dstMAC address the
// frame (the datagram's source and the next hop towards it).
func FragNeeded(fromMAC, dstMAC MAC, from netip.Addr, quoted []byte, mtu uint16) []byte {
	ihl := int(quoted[0]&0x0f) * 4
	q := quoted[:min(len(quoted), ihl+8)]
	src := netip.AddrFrom4([4]byte(quoted[12:16]))
	var rest [4]byte
	binary.BigEndian.PutUint16(rest[2:4], mtu)
	return ICMP(Flow{SrcMAC: fromMAC, DstMAC: dstMAC, SrcIP: from, DstIP: src}, ICMPDestUnreachable, ICMPFragNeeded, rest, q)
}

// Checksum returns the Internet checksum of b (as it is stored in a
// header: the complement of the ones' complement sum); over a header or
// message that holds its own correct checksum it returns 0.
func Checksum(b []byte) uint16 { return ^checksum(b, 0) }
