package corpus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

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
	if len(p) < 42 || !bytes.Equal(p[6:12], GatewayMAC[:]) || binary.BigEndian.Uint16(p[12:14]) != 0x0806 {
		return false
	}
	a := p[14:]
	return binary.BigEndian.Uint16(a[6:8]) == 1 && bytes.Equal(a[8:14], GatewayMAC[:]) &&
		netip.AddrFrom4([4]byte(a[24:28])) == arpResolved.IP
}

// Check returns why p is not a frame the gateway may send, or nil.
func (c *Checker) Check(p []byte) error {
	be := binary.BigEndian
	if len(p) < 14 || len(p) > MaxFrameLen {
		return fmt.Errorf("%d bytes: not a frame the port takes", len(p))
	}
	if !bytes.Equal(p[6:12], GatewayMAC[:]) {
		return fmt.Errorf("source MAC %x is not the gateway's", p[6:12])
	}
	switch et := be.Uint16(p[12:14]); et {
	case 0x0806:
		return checkARPReply(p)
	case 0x0800:
	default:
		return fmt.Errorf("EtherType %#04x", et)
	}
	ip := p[14:]
	if len(ip) < 20 || ip[0] != 0x45 {
		return fmt.Errorf("not an IPv4 header without options")
	}
	total := int(be.Uint16(ip[2:4]))
	if total < 20 || total > len(ip) {
		return fmt.Errorf("IPv4 total length %d with %d bytes", total, len(ip))
	}
	if be.Uint16(ip[6:8])&0x3fff != 0 {
		return fmt.Errorf("a fragment")
	}
	if pktbuild.Checksum(ip[:20]) != 0 {
		return fmt.Errorf("bad IPv4 header checksum")
	}
	var key flowKey
	copy(key.src[:], ip[12:16])
	copy(key.dst[:], ip[16:20])
	key.proto = ip[9]
	l4 := ip[20:total]
	switch key.proto {
	case protoTCP:
		if len(l4) < 20 || int(l4[12]>>4)*4 < 20 || int(l4[12]>>4)*4 > len(l4) {
			return fmt.Errorf("not a whole TCP header")
		}
	case protoUDP:
		if len(l4) < 8 || int(be.Uint16(l4[4:6])) < 8 || int(be.Uint16(l4[4:6])) > len(l4) {
			return fmt.Errorf("not a whole UDP datagram")
		}
	case protoICMP:
		return c.checkICMP(p, key.dst, l4)
	default:
		return fmt.Errorf("IP protocol %d", key.proto)
	}
	key.sport, key.dport = be.Uint16(l4[0:2]), be.Uint16(l4[2:4])
	svc := findService(key.dst, key.dport, key.proto)
	if svc < 0 {
		return fmt.Errorf("%v:%d protocol %d is no service", netip.AddrFrom4(key.dst), key.dport, key.proto)
	}
	name, err := serviceServerByMAC(svc, p[0:6])
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

func (c *Checker) checkICMP(p []byte, dst [4]byte, icmp []byte) error {
	if !isVIP(dst) || len(icmp) < 36 || (icmp[0] != 3 && icmp[0] != 11) {
		return fmt.Errorf("ICMP that is not an error about a flow of a VIP")
	}
	emb := icmp[8:]
	ihl := int(emb[0]&0x0f) * 4
	if emb[0]>>4 != 4 || ihl < 20 || len(emb) < ihl+8 {
		return fmt.Errorf("ICMP error without a whole embedded header")
	}
	var key flowKey
	copy(key.src[:], emb[16:20])
	copy(key.dst[:], emb[12:16])
	key.proto = emb[9]
	key.sport = binary.BigEndian.Uint16(emb[ihl+2:])
	key.dport = binary.BigEndian.Uint16(emb[ihl:])
	name, ok := c.flows[key]
	if !ok {
		return fmt.Errorf("ICMP error about a flow never forwarded")
	}
	if m := server(name).MAC; !bytes.Equal(p[0:6], m[:]) {
		return fmt.Errorf("ICMP error about a flow of %s sent to %x", name, p[0:6])
	}
	return nil
}

func checkARPReply(p []byte) error {
	if len(p) < 42 {
		return fmt.Errorf("truncated ARP")
	}
	a := p[14:]
	be := binary.BigEndian
	if be.Uint16(a[0:2]) != 1 || be.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 || be.Uint16(a[6:8]) != 2 {
		return fmt.Errorf("ARP that is not an Ethernet/IPv4 reply")
	}
	if !bytes.Equal(a[8:14], GatewayMAC[:]) || !bytes.Equal(a[18:24], p[0:6]) {
		return fmt.Errorf("ARP reply not from the gateway's MAC to the frame's destination")
	}
	if s := netip.AddrFrom4([4]byte(a[14:18])); s != VIPA && s != VIPB && s != GatewayIP {
		return fmt.Errorf("ARP reply for %v, which the gateway does not own", s)
	}
	return nil
}
