package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// Frame offsets of the fields a template leaves to fill in (untagged
// Ethernet, 20-byte IPv4 header, 20-byte TCP header).
const (
	offIP          = header.UntaggedIPv4Offset
	offTCP         = header.UntaggedL4Offset
	offIPVerIHL    = offIP + header.IPv4VersionIHLOffset
	offIPProto     = offIP + header.IPv4ProtocolOffset
	offIPChecksum  = offIP + header.IPv4ChecksumOffset
	offSrcIP       = offIP + header.IPv4SrcAddrOffset
	offSrcPort     = offTCP + header.TCPSrcPortOffset
	offSeq         = offTCP + header.TCPSeqNumOffset
	offAck         = offTCP + header.TCPAckNumOffset
	offTCPFlags    = offTCP + header.TCPFlagsOffset
	offTCPChecksum = offTCP + header.TCPChecksumOffset
	headersLen     = offTCP + header.TCPMinHeaderLen // Ethernet + IPv4 + TCP
	// minFrame is the smallest frame sent (64 bytes, the usual minimum
	// counted without the FCS, as dpdk-testpmd counts it); maxFrame the
	// largest (a 1500-byte MTU).
	minFrame = 64
	maxFrame = 1514
)

// packetKind is one kind of segment a client sends.
type packetKind uint8

const (
	kindSYN     packetKind = iota // opens a connection
	kindACK                       // completes the handshake
	kindData                      // a data segment (ACK|PSH with payload)
	kindFIN                       // the client closes (FIN|ACK)
	kindLastACK                   // acknowledges the server's FIN
	kindRST                       // the client aborts (RST|ACK)
	kindStray                     // a data segment of a flow that never opened
	numKinds
)

var kindFlags = [numKinds]uint8{
	kindSYN:     pktbuild.SYN,
	kindACK:     pktbuild.ACK,
	kindData:    pktbuild.ACK | pktbuild.PSH,
	kindFIN:     pktbuild.FIN | pktbuild.ACK,
	kindLastACK: pktbuild.ACK,
	kindRST:     pktbuild.RST | pktbuild.ACK,
	kindStray:   pktbuild.ACK | pktbuild.PSH,
}

// carriesData reports whether a kind's frame size comes from the data sizes.
func (k packetKind) carriesData() bool { return k == kindData || k == kindStray }

// frameTemplate is one frame with the client's address, port, sequence and
// acknowledgment numbers left at zero, and the one's-complement sums of its
// IPv4 header and of its TCP segment (pseudo-header included) with the
// checksums zeroed, so that writing a packet is a copy, four stores and
// two checksum updates.
type frameTemplate struct {
	frame []byte
	kind  packetKind
	ipSum uint32
	l4Sum uint32
}

// newFrameTemplate builds the template of a frame of size bytes (padding
// included) from srcMAC to dstMAC, to vip:vport.
func newFrameTemplate(kind packetKind, size int, srcMAC, dstMAC pktbuild.MAC, vip netip.Addr, vport uint16) (frameTemplate, error) {
	if size < minFrame || size > maxFrame {
		return frameTemplate{}, fmt.Errorf("frame size %d is outside %d..%d", size, minFrame, maxFrame)
	}
	payload := 0
	if kind.carriesData() {
		payload = size - headersLen
	}
	f := pktbuild.Flow{SrcMAC: srcMAC, DstMAC: dstMAC, SrcIP: netip.IPv4Unspecified(), DstIP: vip, DstPort: vport}
	frame := pktbuild.TCP(f, kindFlags[kind], 0, 0, make([]byte, payload))
	frame = append(frame, make([]byte, size-len(frame))...) // Ethernet padding
	ip := header.IPv4(frame[offIP:offTCP])
	tcp := header.TCP(frame[offTCP : headersLen+payload])
	ip.SetChecksum(0)
	tcp.SetChecksum(0)
	vip4 := vip.As4()
	pseudo := sum16(vip4[:]) + uint32(header.TCPProtocolNumber) + uint32(len(tcp))
	return frameTemplate{frame: frame, kind: kind, ipSum: sum16(ip), l4Sum: pseudo + sum16(tcp)}, nil
}

// sum16 adds up b as big-endian 16-bit words (b has an even length).
func sum16(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	return s
}

// fold turns a 32-bit one's-complement sum into the 16-bit checksum.
func fold(s uint32) uint16 {
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return ^uint16(s)
}

// write fills p (len(p) == len(t.frame)) with the template and the given
// client address, port and sequence numbers, checksums included.
func (t *frameTemplate) write(p []byte, src uint32, sport uint16, seq, ack uint32) {
	copy(p, t.frame)
	binary.BigEndian.PutUint32(p[offSrcIP:], src)
	binary.BigEndian.PutUint16(p[offSrcPort:], sport)
	binary.BigEndian.PutUint32(p[offSeq:], seq)
	binary.BigEndian.PutUint32(p[offAck:], ack)
	srcSum := src>>16 + src&0xffff
	binary.BigEndian.PutUint16(p[offIPChecksum:], fold(t.ipSum+srcSum))
	l4 := t.l4Sum + srcSum + uint32(sport) + seq>>16 + seq&0xffff + ack>>16 + ack&0xffff
	binary.BigEndian.PutUint16(p[offTCPChecksum:], fold(l4))
}

// arpProbe is the frame sent until something comes back: an ARP request
// for the VIP, which a gateway answers and an io-forwarder returns.
func arpProbe(srcMAC pktbuild.MAC, client, vip netip.Addr) []byte {
	frame := pktbuild.ARP(1, pktbuild.Broadcast, srcMAC, client, vip, pktbuild.MAC{})
	return append(frame, make([]byte, minFrame-len(frame))...)
}
