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
	var srcPort, dstPort uint16
	switch proto {
	case ProtoTCP:
		t := header.TCP(ip.Payload())
		if pr := t.Check(); pr != header.OK {
			return DropVerdict(problemReason[pr])
		}
		srcPort, dstPort, m.tcpFlags = t.SourcePort(), t.DestinationPort(), t.Flags()
	case ProtoUDP:
		u := header.UDP(ip.Payload())
		if pr := u.Check(); pr != header.OK {
			return DropVerdict(problemReason[pr])
		}
		srcPort, dstPort, m.tcpFlags = u.SourcePort(), u.DestinationPort(), 0
	default:
		return DropVerdict(DropNotForCluster)
	}
	m.addrs = Addrs6{Src: [16]byte(ip.Source()), Dst: [16]byte(ip.Destination())}
	m.key = c.table.key6(&m.addrs, srcPort, dstPort, proto)
	key := serviceKey6{vip: m.addrs.Dst, port: dstPort, proto: proto}
	svc := c.lastService6.index - 1
	if c.lastService6.index == 0 || c.lastService6.key != key {
		var ok bool
		if svc, ok = c.snap.services6[key]; !ok {
			return DropVerdict(DropNotForCluster)
		}
		c.lastService6 = serviceCache6{key: key, index: svc + 1}
	}
	m.home = c.table.home(m.key.Hash(c.table.seed))
	m.service = svc
	return isFlow
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
	m.addrs = Addrs6{Src: [16]byte(quoted.Destination()), Dst: [16]byte(quoted.Source())}
	m.key = c.table.key6(&m.addrs, clientPort, vipPort, proto)
	m.home = c.table.home(m.key.Hash(c.table.seed))
	m.service = quotedFlow
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
	header.Ethernet(f).SetDestination(header.Ethernet(f).Source())
	header.Ethernet(f).SetSourceUint64(s.gatewayMAC64)
	reply := header.IPv6(f[header.EthernetHeaderLen:])
	reply.SetVersionClassFlow()
	reply.SetPayloadLength(header.NDPMessageLen)
	reply.SetNextHeader(header.ICMPv6ProtocolNumber)
	reply.SetHopLimit(header.NDPHopLimit)
	copy(reply.Destination(), src[:])
	copy(reply.Source(), target[:])
	na := header.NDP(reply[header.IPv6HeaderLen:])
	msg := header.ICMP(na)
	msg.SetType(header.ICMPv6NeighborAdvertisement)
	msg.SetCode(0)
	msg.SetChecksum(0)
	binary.BigEndian.PutUint32(na[header.ICMPRestOffset:], header.NDPFlagSolicited|header.NDPFlagOverride)
	copy(na.Target(), target[:])
	na.PutLinkLayerOption(header.NDPTargetLinkLayer, s.gatewayMAC[:])
	msg.SetChecksum(header.ICMPv6Checksum(reply.Source(), reply.Destination(), na))
	if len(eth) != ndpFrameLen {
		c.resized = f
	}
	return VerdictReply
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
