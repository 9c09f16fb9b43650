package fastpath

import (
	"encoding/binary"

	"vec/fastpath/header"
)

// IPv6 multicast frames (33:33 and the group's last 32 bits, RFC 2464)
// reach classifyAny too: Neighbor Solicitations are sent to a
// solicited-node group.
const (
	ipv6MulticastMACShift  = 32
	ipv6MulticastMACPrefix = 0x3333
)

// serviceCache6 is Core.lastService for IPv6 services: the last lookup's
// key and its services index + 1 (0 = nothing cached).
type serviceCache6 struct {
	key   serviceKey6
	index int32
}

// classifyIPv6 parses an IPv6 packet: TCP and UDP to an IPv6 service go on
// to the second pass like IPv4 flows (with the flow's addresses in m),
// ICMPv6 to handleICMPv6; extension headers are not parsed and drop the
// packet (ipv6_extension).
func (c *Core) classifyIPv6(eth header.Ethernet, toUs bool, m *packetMeta, now int64) Verdict {
	ip := header.IPv6(eth.Payload())
	if pr := ip.Check(); pr != header.OK {
		return DropVerdict(problemReason[pr])
	}
	proto := ip.NextHeader()
	if proto == header.ICMPv6ProtocolNumber {
		return c.handleICMPv6(eth, ip, toUs, m, now)
	}
	if !toUs {
		return DropVerdict(DropNotOurMAC)
	}
	srcPort, dstPort, v := parsePorts(proto, ip.Payload(), m)
	if v != isFlow {
		return v
	}
	return c.flowPacket6(m, ip.Source(), ip.Destination(), srcPort, dstPort, proto)
}

// flowPacket6 is flowPacket for IPv6: it keeps the flow's addresses src
// and dst beside m (m.slot6), finds the service, and completes m for the
// second pass, or drops a packet no service owns. The caller has set
// m.tcpFlags. The key's fields stay in registers for the hash: building
// the key and reading it back whole stalled store-to-load forwarding.
func (c *Core) flowPacket6(m *packetMeta, src, dst []byte, srcPort, dstPort uint16, proto uint8) Verdict {
	t := c.table
	a := c.addrs(m)
	a.Src, a.Dst = [16]byte(src), [16]byte(dst)
	key := serviceKey6{vip: a.Dst, port: dstPort, proto: proto}
	svc := c.lastService6.index - 1
	if c.lastService6.index == 0 || c.lastService6.key != key {
		var ok bool
		if svc, ok = c.snap.services6[key]; !ok {
			return DropVerdict(DropNotForCluster)
		}
		c.lastService6 = serviceCache6{key: key, index: svc + 1}
	}
	srcFold, dstFold := t.fold6(&a.Src), t.fold6(&a.Dst)
	k := &m.key
	k.SrcIP, k.DstIP, k.SrcPort, k.DstPort, k.Proto, k.IPv6 = srcFold, dstFold, srcPort, dstPort, proto, true
	m.home = t.home(hashTuple(srcFold, dstFold, srcPort, dstPort, proto, t.seed))
	m.service = svc
	c.prefetch6(m.home)
	return isFlow
}

// Absolute offsets of the fields commonFlow6 reads: untagged Ethernet,
// then IPv6 without extension headers, then TCP or UDP.
const (
	common6IP         = header.UntaggedIPv6Offset
	common6L4         = header.UntaggedIPv6L4Offset
	common6PayloadLen = common6IP + header.IPv6PayloadLenOffset
	common6Next       = common6IP + header.IPv6NextHeaderOffset
	common6Src        = common6IP + header.IPv6SrcAddrOffset
	common6Dst        = common6IP + header.IPv6DstAddrOffset
	common6SrcPort    = common6L4 + header.TCPSrcPortOffset // UDP's too
	common6DstPort    = common6L4 + header.TCPDstPortOffset // UDP's too
	common6MinLen     = common6L4 + header.UDPHeaderLen
)

// commonFlow6 is commonFlow for IPv6: a frame addressed to the gateway,
// untagged IPv6 carrying a whole TCP or UDP header right after the fixed
// header. m.slot6 must be set. It accepts only what classifyAny would
// accept with the same result (FuzzCommonPathAgrees), and returns
// notCommon for anything else.
func (c *Core) commonFlow6(p []byte, m *packetMeta) Verdict {
	if len(p) < common6MinLen {
		return notCommon
	}
	if !c.snap.untaggedToGateway(p, header.EtherTypeIPv6) || p[common6IP]>>4 != 6 {
		return notCommon
	}
	be := binary.BigEndian
	payload := int(be.Uint16(p[common6PayloadLen:]))
	if payload > len(p)-common6L4 {
		return notCommon
	}
	proto := p[common6Next]
	flags, ok := checkCommonL4(p[common6L4:], payload, proto)
	if !ok {
		return notCommon
	}
	m.tcpFlags = flags
	return c.flowPacket6(m, p[common6Src:common6Dst], p[common6Dst:common6L4], be.Uint16(p[common6SrcPort:]), be.Uint16(p[common6DstPort:]), proto)
}

// handleFlow6 is handleFlow for an IPv6 flow packet: the same short way
// for a segment of a live ACTIVE connection, decideFlow for the rest.
func (c *Core) handleFlow6(p []byte, m *packetMeta, now int64) Verdict {
	t := c.table
	found, free := t.find6(m.key, c.addrs(m), m.home)
	if found >= 0 {
		e := &t.slots[found]
		if e.State == StateActive && m.tcpFlags&(TCPFlagSYN|TCPFlagFIN|TCPFlagRST) == 0 &&
			now-e.LastSeen <= c.snap.services[m.service].staleTimeout {
			e.LastSeen = now
			return c.forward(p, e.Server)
		}
	}
	return c.decideFlow(p, m, now, found, free)
}

// prefetch6 records home, an IPv6 flow's home slot, for processChunk to
// prefetch its addresses with the slots. A chunk has at most MaxBurst
// packets; the bound only matters to a caller outside processChunk.
func (c *Core) prefetch6(home int) {
	if c.n6 < len(c.homes6) {
		c.homes6[c.n6] = int32(home)
		c.n6++
	}
}

// handleICMPv6 answers Neighbor Solicitations for the gateway's IPv6
// addresses, learns servers' MACs from their advertisements, and treats
// echo requests and errors to an IPv6 VIP as handleICMP does IPv4's.
func (c *Core) handleICMPv6(eth header.Ethernet, ip header.IPv6, toUs bool, m *packetMeta, now int64) Verdict {
	msg := header.ICMP(ip.Payload())
	if !msg.IsValid() {
		return DropVerdict(DropICMPMalformed)
	}
	switch t := msg.Type(); t {
	case header.ICMPv6NeighborSolicitation:
		return c.handleNS(eth, ip, now)
	case header.ICMPv6NeighborAdvertisement:
		return c.handleNA(eth, ip, now)
	}
	if !toUs {
		return DropVerdict(DropNotOurMAC)
	}
	if _, ok := c.snap.vips6[[16]byte(ip.Destination())]; !ok {
		return DropVerdict(DropNotForCluster)
	}
	switch t := msg.Type(); {
	case t == header.ICMPv6EchoRequest:
		return c.answerEcho6(eth, ip, msg)
	case !header.IsICMPv6Error(t):
		return DropVerdict(DropICMPUnhandled)
	}
	// An error about a packet a server sent from the VIP (direct server
	// return): VIP:port → client:port, the connection's key reversed.
	q := header.QuotedIPv6(msg[header.ICMPHeaderLen:])
	if !q.IsValid() {
		return DropVerdict(DropICMPMalformed)
	}
	quoted := header.IPv6(q)
	proto := quoted.NextHeader()
	if [16]byte(quoted.Source()) != [16]byte(ip.Destination()) || (proto != ProtoTCP && proto != ProtoUDP) {
		return DropVerdict(DropICMPNoFlow)
	}
	vipPort, clientPort := q.Ports()
	a := c.addrs(m)
	*a = Addrs6{Src: [16]byte(quoted.Destination()), Dst: [16]byte(quoted.Source())}
	m.key = c.table.key6(a, clientPort, vipPort, proto)
	m.home = c.table.home(m.key.Hash(c.table.seed))
	m.service = quotedFlow
	c.prefetch6(m.home)
	return isFlow
}

// ndpFrameLen is the frame of a Neighbor Solicitation or Advertisement
// with one link-layer address option.
const ndpFrameLen = header.EthernetHeaderLen + header.IPv6HeaderLen + header.NDPMessageLen

// handleNS learns the MAC of a server resolved by Neighbor Discovery from
// any solicitation it sends, and turns a solicitation for a claimed IPv6
// VIP or the gateway's IPv6 address into the advertisement, in place
// (RFC 4861 §7.2.4): solicited, override, with the gateway's MAC as target
// link-layer address.
func (c *Core) handleNS(eth header.Ethernet, ip header.IPv6, now int64) Verdict {
	n := header.NDP(ip.Payload())
	if !n.IsValid() || ip.HopLimit() != header.NDPHopLimit {
		return DropVerdict(DropMalformedNDP)
	}
	s := c.snap
	src, target := [16]byte(ip.Source()), [16]byte(n.Target())
	if slot, ok := s.neighborByIP6[src]; ok {
		if mac, ok := n.LinkLayerOption(header.NDPSourceLinkLayer); ok {
			s.neighbors.learn(slot, mac, now)
		}
	}
	if _, ours := s.ndpTargets[target]; !ours || src == ([16]byte{}) {
		// Another host's address, or duplicate address detection (from
		// the unspecified address): nothing to answer.
		return DropVerdict(DropNDPIgnored)
	}
	if c.mode == ModeStandby && !(s.hasGatewayIP6 && target == s.gatewayIP6) {
		return DropVerdict(DropStandby) // a backup claims no VIP
	}
	if len(eth) < ndpFrameLen {
		return DropVerdict(DropMalformedNDP) // no room for the answer's option
	}
	f := eth[:ndpFrameLen]
	writeNDP(f, s.gatewayMAC, [6]byte(eth.Source()), &target, &src, &target,
		header.ICMPv6NeighborAdvertisement, header.NDPFlagSolicited|header.NDPFlagOverride, header.NDPTargetLinkLayer)
	if len(eth) != ndpFrameLen {
		c.resized = f
	}
	return VerdictReply
}

// writeNDP writes into f (ndpFrameLen bytes) a Neighbor Discovery message
// of type typ with flags about target, carrying srcMAC in a link-layer
// address option of type opt, from src (srcMAC) to dst (dstMAC), with hop
// limit 255 (RFC 4861 §4.3, §4.4). The addresses are copied before
// anything is written: f may be the frame they were read from.
func writeNDP(f []byte, srcMAC, dstMAC [6]byte, src, dst, target *[16]byte, typ uint8, flags uint32, opt uint8) {
	from, to, about := *src, *dst, *target
	eth := header.Ethernet(f)
	eth.SetDestination(dstMAC[:])
	eth.SetSource(srcMAC[:])
	eth.SetType(header.EtherTypeIPv6)
	ip := header.IPv6(eth.Payload())
	ip.SetVersionClassFlow()
	ip.SetPayloadLength(header.NDPMessageLen)
	ip.SetNextHeader(header.ICMPv6ProtocolNumber)
	ip.SetHopLimit(header.NDPHopLimit)
	copy(ip.Source(), from[:])
	copy(ip.Destination(), to[:])
	n := header.NDP(ip[header.IPv6HeaderLen:])
	msg := header.ICMP(n)
	msg.SetType(typ)
	msg.SetCode(0)
	msg.SetChecksum(0)
	binary.BigEndian.PutUint32(n[header.ICMPRestOffset:], flags)
	copy(n.Target(), about[:])
	n.PutLinkLayerOption(opt, srcMAC[:])
	msg.SetChecksum(header.ICMPv6Checksum(ip.Source(), ip.Destination(), n))
}

// handleNA learns a server's MAC from its Neighbor Advertisement: the
// target link-layer address option's, or the frame's source.
func (c *Core) handleNA(eth header.Ethernet, ip header.IPv6, now int64) Verdict {
	n := header.NDP(ip.Payload())
	if !n.IsValid() || ip.HopLimit() != header.NDPHopLimit {
		return DropVerdict(DropMalformedNDP)
	}
	slot, ok := c.snap.neighborByIP6[[16]byte(n.Target())]
	if !ok {
		return DropVerdict(DropNDPIgnored)
	}
	mac, ok := n.LinkLayerOption(header.NDPTargetLinkLayer)
	if !ok {
		mac = eth.Source()
	}
	c.snap.neighbors.learn(slot, mac, now)
	return VerdictConsumed
}

// answerEcho6 turns an echo request to an answering IPv6 VIP into the echo
// reply, in place. Swapping the addresses leaves the pseudo-header's sum as
// it was, so the checksum changes for the type alone.
func (c *Core) answerEcho6(eth header.Ethernet, ip header.IPv6, msg header.ICMP) Verdict {
	vip := [16]byte(ip.Destination())
	if _, ok := c.snap.echoVIPs6[vip]; !ok {
		return DropVerdict(DropICMPUnhandled)
	}
	if _, claimed := c.snap.ndpTargets[vip]; !claimed {
		return DropVerdict(DropICMPUnhandled) // not servable yet: not ours to answer
	}
	eth.SetDestination(eth.Source())
	eth.SetSourceUint64(c.snap.gatewayMAC64)
	client := [16]byte(ip.Source())
	copy(ip.Source(), vip[:])
	copy(ip.Destination(), client[:])
	old := msg.TypeCode()
	msg.SetType(header.ICMPv6EchoReply)
	msg.SetChecksum(header.ChecksumAdjust(msg.Checksum(), old, msg.TypeCode()))
	c.Counters.EchoReplies++
	return VerdictReply
}
