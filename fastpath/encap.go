package fastpath

import (
	"encoding/binary"

	"vec/fastpath/header"
)

// Encapsulating services (ForwardIPIP, ForwardGUE) send the client's IPv4
// packet, unchanged, inside an outer IPv4 header to the server's own
// address, through the next hop (docs/encapsulation.md). The outer headers
// are written in front of the frame, in the buffer's headroom: the frame
// grows to the front by the overhead and its Ethernet header moves with
// it, so not a byte of the client's packet is copied.
const (
	// IPIPOverhead is what IPIP adds to a packet: the outer IPv4 header.
	IPIPOverhead = header.IPv4MinHeaderLen
	// GUEOverhead is what GUE adds: outer IPv4, UDP and the GUE header.
	GUEOverhead = header.IPv4MinHeaderLen + header.UDPHeaderLen + header.GUEHeaderLen
	// EncapHeadroom is the room an encapsulating service needs before
	// each frame (SetHeadroom); DPDK's mbufs have 128 bytes.
	EncapHeadroom = GUEOverhead
)

// A server's Forwarding is kept above its MAC in Snapshot.serverMAC.
const (
	forwardingShift = 8 * header.MACLen
	macMask         = 1<<forwardingShift - 1
)

// outerTTL is the outer header's time to live, Linux's default.
const outerTTL = 64

// minEncapMTU is the least Encapsulation.MTU: every IPv4 link carries 576
// bytes (RFC 791), and the client's packet must still fit one.
const minEncapMTU = 576

// gueSourcePortBase and gueSourcePortMask place a GUE packet's UDP source
// port, which carries the flow's hash, in the dynamic range 49152..65535,
// as Linux's udp_flow_src_port does.
const (
	gueSourcePortBase = 0xc000
	gueSourcePortMask = 0x3fff
)

// fragNeededLen is the ICMP "fragmentation needed" frame encapsulate sends
// back: Ethernet, IPv4, the ICMP header, and the quoted IPv4 header with
// the first 8 bytes of its payload (RFC 792).
const (
	fragNeededQuoteLen = header.IPv4MinHeaderLen + 8
	fragNeededLen      = header.EthernetHeaderLen + header.IPv4MinHeaderLen + header.ICMPHeaderLen + fragNeededQuoteLen
)

// SetHeadroom tells the core how many writable bytes lie before the first
// byte of every frame of the bursts it is given from now on (DPDK's mbuf
// headroom; the least of a burst's). A frame of an encapsulating service
// is dropped as encap_no_headroom when there are fewer than EncapHeadroom:
// the core never writes before a frame unless told it may. A core starts
// with none.
func (c *Core) SetHeadroom(n int) { c.headroom = n }

// overhead is what forwarding mode f adds to a packet.
func overhead(f Forwarding) int {
	if f == ForwardGUE {
		return GUEOverhead
	}
	return IPIPOverhead
}

// encapsulate sends frame p, an untagged IPv4 packet the core has parsed,
// to server, an encapsulating service's server, in mode, through the
// link-layer address mac (the next hop's, or the server's own). The new
// frame replaces p in the burst (c.resized).
func (c *Core) encapsulate(p []byte, server ServerID, mode Forwarding, mac uint64) Verdict {
	s := c.snap
	extra := overhead(mode)
	inner := header.IPv4(p[header.EthernetHeaderLen:])
	innerLen := inner.TotalLength()
	if innerLen+extra > s.encapMTU {
		return c.fragmentationNeeded(p, extra)
	}
	if c.headroom < extra {
		return DropVerdict(DropEncapNoHeadroom)
	}
	// The frame may carry Ethernet padding after the IPv4 packet: the
	// outer packet ends where the inner one does.
	f := growFront(p, extra)[:header.EthernetHeaderLen+extra+innerLen]
	eth := header.Ethernet(f)
	eth.SetDestinationUint64(mac)
	eth.SetSourceUint64(s.gatewayMAC64)
	eth.SetType(header.EtherTypeIPv4)
	outer := f[header.EthernetHeaderLen:]
	if mode == ForwardGUE {
		writeGUE(outer[header.IPv4MinHeaderLen:extra], inner, innerLen, s.serverGUEPort[server])
	}
	c.writeOuterIPv4(outer, inner, innerLen+extra, mode, server)
	c.resized = f
	c.Counters.Encapsulated++
	sc := &c.Servers[server]
	sc.Packets++
	sc.Bytes += uint64(len(f))
	return VerdictForward
}

// writeOuterIPv4 writes the outer IPv4 header of an encapsulated packet of
// total bytes to server, in five word stores. It copies the inner packet's
// DSCP and ECN (RFC 6040's normal mode) and its Don't Fragment bit: a
// packet the client let routers fragment may be fragmented outside too.
// The checksum adds the words that vary per packet to the server's
// precomputed sum of the others (Snapshot.serverOuterSum). Both headers
// are taken as arrays, so that one length check each covers every field.
func (c *Core) writeOuterIPv4(outer, inner header.IPv4, total int, mode Forwarding, server ServerID) {
	be := binary.BigEndian
	s := c.snap
	o, in := (*[header.IPv4MinHeaderLen]byte)(outer), (*[header.IPv4MinHeaderLen]byte)(inner)
	versionTOS := uint32(header.IPv4VersionIHLNoOptions)<<8 | uint32(in[header.IPv4TOSOffset])
	df := uint32(be.Uint16(in[header.IPv4FlagsFragOffset:]) & header.DontFragment)
	sum := s.serverOuterSum[server] + versionTOS + uint32(total) + df
	sum = (sum & 0xffff) + sum>>16
	sum = (sum & 0xffff) + sum>>16
	be.PutUint32(o[header.IPv4VersionIHLOffset:], versionTOS<<16|uint32(total))
	be.PutUint32(o[header.IPv4IDOffset:], df) // identification 0, then flags
	be.PutUint32(o[header.IPv4TTLOffset:], outerTTLProto(mode)<<16|uint32(^uint16(sum)))
	be.PutUint32(o[header.IPv4SrcAddrOffset:], s.encapSource)
	be.PutUint32(o[header.IPv4DstAddrOffset:], s.serverAddr[server])
}

// outerTTLProto is the outer header's TTL and protocol word for mode f.
func outerTTLProto(f Forwarding) uint32 {
	proto := header.IPIPProtocolNumber
	if f == ForwardGUE {
		proto = header.UDPProtocolNumber
	}
	return outerTTL<<8 | uint32(proto)
}

// outerSum is the one's-complement sum of the outer header's words that
// are the same for every packet to a server: TTL and protocol, and the
// addresses.
func outerSum(f Forwarding, src, dst uint32) uint32 {
	return outerTTLProto(f) + src>>16 + src&0xffff + dst>>16 + dst&0xffff
}

// writeGUE writes the UDP and GUE headers (b, 12 bytes) in front of an
// inner packet of innerLen bytes. The UDP checksum is zero, which IPv4
// allows: the inner packet carries its own.
func writeGUE(b []byte, inner header.IPv4, innerLen int, port uint16) {
	be := binary.BigEndian
	h := (*[header.UDPHeaderLen + header.GUEHeaderLen]byte)(b)
	be.PutUint32(h[header.UDPSrcPortOffset:], uint32(GUESourcePort(inner))<<16|uint32(port))
	be.PutUint32(h[header.UDPLengthOffset:], uint32(header.UDPHeaderLen+header.GUEHeaderLen+innerLen)<<16) // checksum 0
	// Version 0, no control flag, no extension words; IPv4 inside; no flags.
	be.PutUint32(h[header.UDPHeaderLen:], uint32(header.IPIPProtocolNumber)<<16)
}

// gueHashedLen is how much of the inner packet GUESourcePort reads: an
// IPv4 header without options and the four bytes of ports after it.
const gueHashedLen = header.IPv4MinHeaderLen + 4

// GUESourcePort returns the UDP source port of the GUE packet that carries
// the IPv4 packet inner: a hash of its flow (addresses, protocol, and the
// ports of TCP and UDP) in 49152..65535, so that every packet of a
// connection takes the same path through the routers' ECMP and different
// connections spread over the paths. inner has no IPv4 options, as every
// packet the core forwards (it drops those with options); the fields are
// read at fixed offsets, with one length check, because a parse through
// the header views cost a sixth of a GUE packet's time. A packet shorter
// than gueHashedLen gets the lowest port.
func GUESourcePort(inner []byte) uint16 {
	if len(inner) < gueHashedLen {
		return gueSourcePortBase
	}
	be := binary.BigEndian
	addrs := be.Uint64(inner[header.IPv4SrcAddrOffset:]) // source, then destination
	proto := inner[header.IPv4ProtocolOffset]
	var ports uint32 // TCP's and UDP's both start with them
	if proto == ProtoTCP || proto == ProtoUDP {
		ports = be.Uint32(inner[header.IPv4MinHeaderLen:])
	}
	h := hashTuple(uint32(addrs>>32), uint32(addrs), uint16(ports>>16), uint16(ports), proto, 0)
	return gueSourcePortBase | uint16(h^h>>32)&gueSourcePortMask
}

// fragmentationNeeded answers a packet that would exceed the path MTU once
// encapsulated, as a router on a narrower path would: an ICMP
// "fragmentation needed" from the VIP to the client, with the MTU the
// client's packets may have (Encapsulation.MTU minus the overhead), written
// over the frame in place. A packet that may be fragmented, or is itself
// an ICMP message, gets no answer and is dropped.
func (c *Core) fragmentationNeeded(p []byte, extra int) Verdict {
	be := binary.BigEndian
	inner := header.IPv4(p[header.EthernetHeaderLen:])
	if be.Uint16(inner[header.IPv4FlagsFragOffset:])&header.DontFragment == 0 || inner.Protocol() == ProtoICMP ||
		len(p) < fragNeededLen {
		return DropVerdict(DropEncapTooBig)
	}
	client, vip := inner.Source(), inner.Destination()
	f := p[:fragNeededLen]
	msgAt := header.EthernetHeaderLen + header.IPv4MinHeaderLen
	copy(f[msgAt+header.ICMPHeaderLen:], inner[:fragNeededQuoteLen])
	eth := header.Ethernet(f)
	eth.SetDestination(eth.Source())
	eth.SetSourceUint64(c.snap.gatewayMAC64)
	ip := header.IPv4(f[header.EthernetHeaderLen:])
	ip[header.IPv4VersionIHLOffset] = header.IPv4VersionIHLNoOptions
	ip[header.IPv4TOSOffset] = 0
	ip.SetTotalLength(fragNeededLen - header.EthernetHeaderLen)
	ip.SetID(0)
	ip.SetFlagsFragment(0)
	ip.SetTTL(outerTTL)
	ip.SetProtocol(ProtoICMP)
	ip.SetChecksum(0)
	ip.SetSource(vip)
	ip.SetDestination(client)
	ip.SetChecksum(header.IPv4HeaderChecksum(ip))
	msg := header.ICMP(f[msgAt:])
	msg.SetType(header.ICMPDestUnreachable)
	msg.SetCode(header.ICMPCodeFragNeeded)
	msg.SetChecksum(0)
	be.PutUint16(msg[header.ICMPRestOffset:], 0)
	msg.SetNextHopMTU(uint16(c.snap.encapMTU - extra))
	msg.SetChecksum(header.Checksum(msg))
	c.resized = f
	c.Counters.TooBig++
	return VerdictReply
}
