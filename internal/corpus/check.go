package corpus

import (
	"bytes"
	"fmt"
	"net/netip"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// Checker judges, frame by frame, what the gateway sent, without looking
// at what went in: every frame must be a valid frame of a valid flow (an
// untagged IPv4 packet without options or fragmentation, a whole TCP or UDP
// header, a configured service, the MAC of one of its servers as the
// destination, the gateway's as the source, and the same server for every
// frame of a flow), an ICMP error about such a flow sent to that flow's
// server, or an ARP reply for a VIP or the gateway's address.
type Checker struct {
	flows map[flowKey]string
}

// NewChecker returns a checker that has seen no flow yet.
func NewChecker() *Checker { return &Checker{flows: map[flowKey]string{}} }

// IsProbe reports whether p is one of the gateway's own ARP requests for
// the server it resolves by ARP (s6), which it sends once a second on its
// own, not in answer to any frame of the corpus.
func IsProbe(p []byte) bool {
	eth := header.Ethernet(p)
	if !eth.IsValid() || !bytes.Equal(eth.Source(), GatewayMAC[:]) || eth.Type() != header.EtherTypeARP {
		return false
	}
	a := header.ARP(eth.Payload())
	return a.IsValid() && a.Op() == header.ARPRequest && bytes.Equal(a.SenderMAC(), GatewayMAC[:]) &&
		a.TargetAddr() == arpResolved.IP
}

// Check returns why p is not a frame the gateway may send, or nil.
func (c *Checker) Check(p []byte) error {
	eth := header.Ethernet(p)
	if !eth.IsValid() || len(p) > MaxFrameLen {
		return fmt.Errorf("%d bytes: not a frame the port takes", len(p))
	}
	if !bytes.Equal(eth.Source(), GatewayMAC[:]) {
		return fmt.Errorf("source MAC %x is not the gateway's", eth.Source())
	}
	switch et := eth.Type(); et {
	case header.EtherTypeARP:
		return checkARPReply(eth)
	case header.EtherTypeIPv4:
	default:
		return fmt.Errorf("EtherType %#04x", et)
	}
	ip := header.IPv4(eth.Payload())
	if len(ip) < header.IPv4MinHeaderLen || ip[header.IPv4VersionIHLOffset] != header.IPv4VersionIHLNoOptions {
		return fmt.Errorf("not an IPv4 header without options")
	}
	total := ip.TotalLength()
	if total < header.IPv4MinHeaderLen || total > len(ip) {
		return fmt.Errorf("IPv4 total length %d with %d bytes", total, len(ip))
	}
	if ip.Fragmented() {
		return fmt.Errorf("a fragment")
	}
	if pktbuild.Checksum(ip[:header.IPv4MinHeaderLen]) != 0 {
		return fmt.Errorf("bad IPv4 header checksum")
	}
	key := flowKey{src: ip.SourceAddr().As4(), dst: ip.DestinationAddr().As4(), proto: ip.Protocol()}
	l4 := ip.Payload()
	switch key.proto {
	case protoTCP:
		t := header.TCP(l4)
		if !t.IsValid() {
			return fmt.Errorf("not a whole TCP header")
		}
		key.sport, key.dport = t.SourcePort(), t.DestinationPort()
	case protoUDP:
		u := header.UDP(l4)
		if !u.IsValid() {
			return fmt.Errorf("not a whole UDP datagram")
		}
		key.sport, key.dport = u.SourcePort(), u.DestinationPort()
	case protoICMP:
		return c.checkICMP(eth, key.dst, l4)
	default:
		return fmt.Errorf("IP protocol %d", key.proto)
	}
	svc := findService(key.dst, key.dport, key.proto)
	if svc < 0 {
		return fmt.Errorf("%v:%d protocol %d is no service", netip.AddrFrom4(key.dst), key.dport, key.proto)
	}
	name, err := serviceServerByMAC(svc, eth.Destination())
	if err != nil {
		return err
	}
	if prev, ok := c.flows[key]; ok && prev != name {
		return fmt.Errorf("flow %v:%d → %v:%d went to %s before, now to %s",
			netip.AddrFrom4(key.src), key.sport, netip.AddrFrom4(key.dst), key.dport, prev, name)
	}
	c.flows[key] = name
	return nil
}

func serviceServerByMAC(svc int, mac []byte) (string, error) {
	for _, name := range services[svc].order {
		if m := server(name).MAC; bytes.Equal(mac, m[:]) {
			return name, nil
		}
	}
	return "", fmt.Errorf("destination MAC %x is no server of the service", mac)
}

func (c *Checker) checkICMP(eth header.Ethernet, dst [4]byte, l4 []byte) error {
	icmp := header.ICMP(l4)
	if !isVIP(dst) || !icmp.IsValid() || !icmp.IsError() {
		return fmt.Errorf("ICMP that is not an error about a flow of a VIP")
	}
	q := header.QuotedDatagram(icmp.Payload())
	if !q.IsValid() {
		return fmt.Errorf("ICMP error without a whole embedded header")
	}
	// The quoted datagram went from the VIP to the client: the flow reversed.
	vipPort, clientPort := q.Ports()
	quoted := header.IPv4(q)
	key := flowKey{src: quoted.DestinationAddr().As4(), dst: quoted.SourceAddr().As4(),
		sport: clientPort, dport: vipPort, proto: q.Protocol()}
	name, ok := c.flows[key]
	if !ok {
		return fmt.Errorf("ICMP error about a flow never forwarded")
	}
	if m := server(name).MAC; !bytes.Equal(eth.Destination(), m[:]) {
		return fmt.Errorf("ICMP error about a flow of %s sent to %x", name, eth.Destination())
	}
	return nil
}

func checkARPReply(eth header.Ethernet) error {
	a := header.ARP(eth.Payload())
	if len(a) < header.ARPIPv4Len {
		return fmt.Errorf("truncated ARP")
	}
	if !a.IsValid() || a.Op() != header.ARPReply {
		return fmt.Errorf("ARP that is not an Ethernet/IPv4 reply")
	}
	if !bytes.Equal(a.SenderMAC(), GatewayMAC[:]) || !bytes.Equal(a.TargetMAC(), eth.Destination()) {
		return fmt.Errorf("ARP reply not from the gateway's MAC to the frame's destination")
	}
	if s := a.SenderAddr(); s != VIPA && s != VIPB && s != GatewayIP {
		return fmt.Errorf("ARP reply for %v, which the gateway does not own", s)
	}
	return nil
}
