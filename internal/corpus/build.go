package corpus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// Offsets in the untagged frames the cases build: the IPv4 header starts
// after Ethernet's, the TCP or UDP header after an IPv4 header without
// options, and an 802.1Q tag sits where the EtherType was.
const (
	ipAt   = header.UntaggedIPv4Offset
	l4At   = header.UntaggedL4Offset
	tagLen = 4
)

// ipv4Of returns the IPv4 header view of an untagged frame.
func ipv4Of(p []byte) header.IPv4 { return header.IPv4(p[ipAt:]) }

// Seed seeds the corpus's random frames.
const Seed = 13

// RandomFrames is how many frames each of the three random groups has.
const RandomFrames = 64

// Corpus is the input frames and, for each, what the gateway must do.
type Corpus struct {
	Frames [][]byte
	Expect []Expectation
	// NewConnections is how many connections each server must be given.
	NewConnections map[string]uint64
}

// want is the outcome a hand-made case declares; the model must agree.
type want struct {
	kind     Kind
	server   string // "" = whichever the model's round robin picks
	reason   string
	modelled bool // a random frame: only the model decides
}

func forwarded() want              { return want{kind: Forward} }
func forwardedTo(name string) want { return want{kind: Forward, server: name} }
func dropped(reason string) want   { return want{kind: Drop, reason: reason} }
func replied() want                { return want{kind: Reply} }
func learned() want                { return want{kind: Learned} }

var modelled = want{modelled: true}

type builder struct {
	m        *model
	c        Corpus
	err      error
	nextPort uint16
	// established is a flow flagCases opened long before the ICMP cases,
	// in an earlier burst whatever the burst size; establishedOn its server.
	established   pktbuild.Flow
	establishedOn string
}

func (b *builder) add(note string, p []byte, w want) Expectation {
	e := b.m.decide(p)
	e.Note = note
	agree := e.Kind == w.kind && (w.server == "" || e.Server == w.server) && (w.kind != Drop || e.Reason == w.reason)
	if !w.modelled && !agree && b.err == nil {
		b.err = fmt.Errorf("corpus frame %d (%s): the model says %s %s%s, the case says %s %s%s",
			len(b.c.Frames), note, e.Kind, e.Server, e.Reason, w.kind, w.server, w.reason)
	}
	b.c.Frames = append(b.c.Frames, p)
	b.c.Expect = append(b.c.Expect, e)
	return e
}

var (
	clientIP  = netip.MustParseAddr("192.0.2.7")
	routerIP  = netip.MustParseAddr("203.0.113.1")
	otherMAC  = pktbuild.MAC{0x02, 9, 9, 9, 9, 9}
	requester = netip.MustParseAddr("10.1.0.50")
)

// flow returns a client flow to vip:port from a source port no other case
// uses, so every case starts without a table entry.
func (b *builder) flow(vip netip.Addr, port uint16) pktbuild.Flow {
	b.nextPort++
	return pktbuild.Flow{SrcMAC: ClientMAC, DstMAC: GatewayMAC, SrcIP: clientIP, DstIP: vip,
		SrcPort: 20000 + b.nextPort, DstPort: port}
}

func (b *builder) syn(vip netip.Addr, port uint16) []byte {
	return pktbuild.TCP(b.flow(vip, port), pktbuild.SYN, 1, 0, nil)
}

// Build makes the corpus. It fails when a hand-made case and the model
// disagree, which means the case or the model is wrong.
func Build() (*Corpus, error) {
	b := &builder{m: newModel()}
	b.arpCases()
	b.unresolvedCases()
	b.truncationCases()
	b.lengthCases()
	b.ipHeaderCases()
	b.tcpHeaderCases()
	b.udpCases()
	b.flagCases()
	b.vlanCases()
	b.otherL2L3Cases()
	b.ipv6Cases()
	b.icmpCases()
	b.oversizeCases()
	b.addressCases()
	b.randomCases()
	// Last: s6's MAC is learned from these, after which the control plane
	// may give it connections at any moment.
	s6 := arpResolved
	b.add("ARP reply from s6 (resolved by ARP) to the gateway",
		pktbuild.ARP(2, GatewayMAC, s6.MAC, s6.IP, GatewayIP, GatewayMAC), learned())
	b.add("broadcast ARP reply from s6",
		pktbuild.ARP(2, pktbuild.Broadcast, s6.MAC, s6.IP, GatewayIP, pktbuild.MAC{}), learned())
	if b.err != nil {
		return nil, b.err
	}
	b.c.NewConnections = b.m.news
	return &b.c, nil
}

func (b *builder) arpCases() {
	request := func(dst pktbuild.MAC, target netip.Addr) []byte {
		return pktbuild.ARP(1, dst, ClientMAC, requester, target, pktbuild.MAC{})
	}
	for _, target := range []netip.Addr{VIPA, VIPB, GatewayIP} {
		b.add("ARP request for "+target.String(), request(pktbuild.Broadcast, target), replied())
	}
	b.add("ARP request for VIP A padded to 60 bytes", append(request(pktbuild.Broadcast, VIPA), make([]byte, 18)...), replied())
	b.add("unicast ARP request for VIP B", request(GatewayMAC, VIPB), replied())
	b.add("ARP request to another host's MAC", request(otherMAC, VIPA), dropped("not_our_mac"))
	b.add("ARP request for a server's address", request(pktbuild.Broadcast, server("s1").IP), dropped("arp_ignored"))
	b.add("ARP request for an unknown address", request(pktbuild.Broadcast, netip.MustParseAddr("10.1.0.99")), dropped("arp_ignored"))
	b.add("gratuitous ARP from a client", request(pktbuild.Broadcast, requester), dropped("arp_ignored"))
	b.add("ARP reply from a client", pktbuild.ARP(2, GatewayMAC, ClientMAC, requester, VIPA, GatewayMAC), dropped("arp_ignored"))
	b.add("gratuitous ARP from s6 (teaches nothing)",
		pktbuild.ARP(1, pktbuild.Broadcast, arpResolved.MAC, arpResolved.IP, arpResolved.IP, pktbuild.MAC{}), dropped("arp_ignored"))
	for _, op := range []uint16{0, 3, 4, 0xffff} {
		p := request(pktbuild.Broadcast, VIPA)
		header.ARP(p[ipAt:]).SetOp(op)
		b.add(fmt.Sprintf("ARP operation %d for VIP A", op), p, dropped("arp_ignored"))
	}
	for _, bad := range []struct {
		note string
		off  int
		val  []byte
	}{
		{"hardware type 6 (IEEE 802)", ipAt + header.ARPHardwareTypeOffset, []byte{0, 6}},
		{"protocol type IPv6", ipAt + header.ARPProtocolTypeOffset, []byte{0x86, 0xdd}},
		{"hardware length 8", ipAt + header.ARPHardwareLenOffset, []byte{8}},
		{"protocol length 16", ipAt + header.ARPProtocolLenOffset, []byte{16}},
	} {
		p := request(pktbuild.Broadcast, VIPA)
		copy(p[bad.off:], bad.val)
		b.add("ARP with "+bad.note, p, dropped("malformed_arp"))
	}
	req := request(pktbuild.Broadcast, VIPA)
	for n := header.EthernetHeaderLen; n < len(req); n++ {
		b.add(fmt.Sprintf("ARP request cut to %d bytes", n), bytes.Clone(req[:n]), dropped("malformed_arp"))
	}
}

func (b *builder) unresolvedCases() {
	b.add("SYN to VIP B:8443, whose only server has not answered ARP", b.syn(VIPB, 8443), dropped("server_unresolved"))
	b.add("ACK to VIP B:8443 without an entry", pktbuild.TCP(b.flow(VIPB, 8443), pktbuild.ACK, 2, 1, nil), dropped("non_syn_miss"))
}

// setTotalLength sets the IPv4 total length of an untagged frame and fixes
// the header checksum.
func setTotalLength(p []byte, total int) []byte {
	ipv4Of(p).SetTotalLength(total)
	fixIPv4Checksum(ipv4Of(p))
	return p
}

// fixIPv4Checksum recomputes the checksum of the IPv4 header at ip (as many
// bytes of it as there are).
func fixIPv4Checksum(ip header.IPv4) {
	n := min(ip.HeaderLen(), len(ip))
	if n < header.IPv4ChecksumOffset+2 {
		return
	}
	ip.SetChecksum(0)
	ip.SetChecksum(pktbuild.Checksum(ip[:n]))
}

func pad(p []byte, to int, fill byte) []byte {
	for len(p) < to {
		p = append(p, fill)
	}
	return p
}

func (b *builder) truncationCases() {
	syn := b.syn(VIPA, 80)
	for n := 0; n < header.EthernetHeaderLen; n++ {
		b.add(fmt.Sprintf("TCP SYN cut to %d bytes (inside Ethernet)", n), bytes.Clone(syn[:n]), dropped("malformed_ethernet"))
	}
	tagged := tag(b.syn(VIPB, 443), 0x8100, 10)
	for n := header.EthernetHeaderLen; n < header.EthernetHeaderLen+tagLen; n++ {
		b.add(fmt.Sprintf("802.1Q-tagged SYN cut to %d bytes (inside the tag)", n), bytes.Clone(tagged[:n]), dropped("vlan_tagged"))
	}
	for n := ipAt; n < l4At; n++ {
		b.add(fmt.Sprintf("TCP SYN cut to %d bytes (inside IPv4)", n), bytes.Clone(syn[:n]), dropped("ipv4_truncated"))
	}
	for n := l4At; n < len(syn); n++ {
		b.add(fmt.Sprintf("TCP SYN cut to %d bytes (inside TCP, total length 40)", n), bytes.Clone(syn[:n]), dropped("ipv4_bad_total_length"))
	}
	udp := pktbuild.UDP(b.flow(VIPA, 53), []byte("query"))
	for n := l4At; n < len(udp); n++ {
		b.add(fmt.Sprintf("UDP datagram cut to %d bytes (total length %d)", n, len(udp)-ipAt), bytes.Clone(udp[:n]), dropped("ipv4_bad_total_length"))
	}
	// Cut with a total length that says so: the TCP or UDP header is short.
	const ipLen = header.IPv4MinHeaderLen
	for k := 0; k < header.TCPMinHeaderLen; k++ {
		b.add(fmt.Sprintf("TCP header cut to %d bytes, total length agreeing", k), setTotalLength(bytes.Clone(syn[:l4At+k]), ipLen+k), dropped("tcp_truncated"))
	}
	for k := 0; k < header.UDPHeaderLen; k++ {
		b.add(fmt.Sprintf("UDP header cut to %d bytes, total length agreeing", k), setTotalLength(bytes.Clone(udp[:l4At+k]), ipLen+k), dropped("udp_truncated"))
	}
	// Ethernet padding after a short IPv4 packet is not its header.
	b.add("10 bytes of TCP header padded to 60 bytes", pad(setTotalLength(bytes.Clone(syn[:l4At+10]), ipLen+10), 60, 0), dropped("tcp_truncated"))
	b.add("4 bytes of UDP header padded to 60 bytes", pad(setTotalLength(bytes.Clone(udp[:l4At+4]), ipLen+4), 60, 0), dropped("udp_truncated"))
}

func (b *builder) lengthCases() {
	withData := func() []byte { return pktbuild.TCP(b.flow(VIPA, 80), pktbuild.SYN, 1, 0, []byte("0123456789")) }
	for _, total := range []int{51, 1500, 65535, 0, 19} {
		b.add(fmt.Sprintf("SYN with 50 bytes of IPv4, total length %d", total), setTotalLength(withData(), total), dropped("ipv4_bad_total_length"))
	}
	for _, total := range []int{20, 39} {
		b.add(fmt.Sprintf("SYN with 50 bytes of IPv4, total length %d (inside TCP)", total), setTotalLength(withData(), total), dropped("tcp_truncated"))
	}
	// A total length shorter than the frame: the rest is padding, the
	// packet is valid and goes out unchanged.
	for _, total := range []int{40, 45} {
		b.add(fmt.Sprintf("SYN with 50 bytes of IPv4, total length %d (the rest padding)", total), setTotalLength(withData(), total), forwarded())
	}
	b.add("SYN padded to 60 bytes with zeros", pad(b.syn(VIPA, 80), 60, 0), forwarded())
	b.add("SYN padded to 60 bytes with garbage", pad(b.syn(VIPA, 80), 60, 0xee), forwarded())
	b.add("UDP datagram padded to 60 bytes", pad(pktbuild.UDP(b.flow(VIPA, 53), []byte("q")), 60, 0), forwarded())
}

// withIPOptions inserts IPv4 options into an untagged frame with a 20-byte
// IPv4 header, with the IHL, total length and checksum to match.
func withIPOptions(p, opts []byte) []byte {
	out := append(append(bytes.Clone(p[:l4At]), opts...), p[l4At:]...)
	ipv4Of(out).SetHeaderLen(header.IPv4MinHeaderLen + len(opts))
	return setTotalLength(out, len(out)-ipAt)
}

func (b *builder) ipHeaderCases() {
	for ihl := range 5 {
		p := b.syn(VIPA, 80)
		ipv4Of(p).SetHeaderLen(ihl * 4)
		fixIPv4Checksum(ipv4Of(p))
		b.add(fmt.Sprintf("IHL %d", ihl), p, dropped("ipv4_bad_ihl"))
	}
	p := b.syn(VIPA, 80)
	ipv4Of(p).SetHeaderLen(15 * 4)
	fixIPv4Checksum(ipv4Of(p))
	b.add("IHL 15 (60 bytes) in a 40-byte packet", p, dropped("ipv4_bad_ihl"))
	for _, v := range []byte{0, 6, 15} {
		p := b.syn(VIPA, 80)
		ipv4Of(p)[header.IPv4VersionIHLOffset] = v<<4 | header.IPv4MinHeaderLen/4
		fixIPv4Checksum(ipv4Of(p))
		b.add(fmt.Sprintf("IP version %d in an IPv4 frame", v), p, dropped("ipv4_bad_version"))
	}
	b.add("IPv4 router alert option", withIPOptions(b.syn(VIPA, 80), []byte{0x94, 0x04, 0, 0}), dropped("ipv4_options"))
	recordRoute := append([]byte{7, 19, 4}, make([]byte, 17)...) // 16 bytes of route, then end of options
	b.add("IPv4 record route option", withIPOptions(b.syn(VIPA, 80), recordRoute), dropped("ipv4_options"))
	for ihl := 7; ihl <= 15; ihl++ {
		opts := bytes.Repeat([]byte{1}, (ihl-5)*4) // no-operation …
		opts[len(opts)-1] = 0                      // … end of options
		b.add(fmt.Sprintf("IHL %d of no-op options", ihl), withIPOptions(b.syn(VIPA, 80), opts), dropped("ipv4_options"))
	}
	frag := func(p []byte, field uint16) []byte {
		ipv4Of(p).SetFlagsFragment(field)
		fixIPv4Checksum(ipv4Of(p))
		return p
	}
	b.add("first fragment (MF, offset 0)", frag(b.syn(VIPA, 80), 0x2000), dropped("ipv4_fragment"))
	b.add("middle fragment (MF, offset 1480)", frag(b.syn(VIPA, 80), 0x2000|185), dropped("ipv4_fragment"))
	b.add("last fragment (offset 2960)", frag(b.syn(VIPA, 80), 370), dropped("ipv4_fragment"))
	b.add("fragment with DF and MF", frag(b.syn(VIPA, 80), 0x6000), dropped("ipv4_fragment"))
	b.add("fragment at offset 8", frag(b.syn(VIPA, 80), 1), dropped("ipv4_fragment"))
	b.add("first fragment of a UDP datagram", frag(pktbuild.UDP(b.flow(VIPA, 53), []byte("query")), 0x2000), dropped("ipv4_fragment"))
}

// tcpWithOptions builds a TCP segment whose header carries opts (a multiple
// of 4 bytes), with a correct TCP checksum.
func (b *builder) tcpWithOptions(vip netip.Addr, port uint16, flags uint8, opts []byte) []byte {
	p := pktbuild.TCP(b.flow(vip, port), flags, 1, 0, opts)
	header.TCP(p[l4At:]).SetDataOffset(header.TCPMinHeaderLen + len(opts))
	fixL4Checksum(p)
	return p
}

// fixL4Checksum recomputes the TCP or UDP checksum of an untagged IPv4
// frame with a 20-byte header.
func fixL4Checksum(p []byte) {
	ip := ipv4Of(p)
	seg := ip.Payload()
	at := header.TCPChecksumOffset
	if ip.Protocol() == protoUDP {
		at = header.UDPChecksumOffset
	}
	binary.BigEndian.PutUint16(seg[at:], 0)
	pseudo := append(append(bytes.Clone(ip.Addresses()), 0, ip.Protocol()), byte(len(seg)>>8), byte(len(seg)))
	binary.BigEndian.PutUint16(seg[at:], pktbuild.Checksum(append(pseudo, seg...)))
}

func (b *builder) tcpHeaderCases() {
	for off := range 5 {
		p := b.syn(VIPA, 80)
		header.TCP(p[l4At:]).SetDataOffset(off * 4)
		b.add(fmt.Sprintf("TCP data offset %d", off), p, dropped("tcp_bad_data_offset"))
	}
	for off := 6; off <= 15; off++ {
		p := b.syn(VIPA, 80)
		header.TCP(p[l4At:]).SetDataOffset(off * 4)
		b.add(fmt.Sprintf("TCP data offset %d in a 20-byte segment", off), p, dropped("tcp_bad_data_offset"))
	}
	p := pad(b.syn(VIPA, 80), 60, 0)
	header.TCP(p[l4At:]).SetDataOffset(6 * 4)
	b.add("TCP data offset 6 reaching into Ethernet padding", p, dropped("tcp_bad_data_offset"))
	// SYNs as clients send them: with options.
	linux := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7} // MSS, SACK permitted, timestamps, NOP, window scale
	b.add("SYN with MSS, SACK, timestamps and window scale", b.tcpWithOptions(VIPA, 80, pktbuild.SYN, linux), forwarded())
	full := append([]byte{2, 4, 0x05, 0xb4}, bytes.Repeat([]byte{1}, 36)...)
	full[len(full)-1] = 0
	b.add("SYN with 40 bytes of options (data offset 15)", b.tcpWithOptions(VIPA, 80, pktbuild.SYN, full), forwarded())
	b.add("SYN with an MSS option to VIP B", b.tcpWithOptions(VIPB, 443, pktbuild.SYN, []byte{2, 4, 0x05, 0xb4}), forwardedTo("s5"))
}

func (b *builder) udpCases() {
	datagram := func(ulen int) []byte {
		p := pktbuild.UDP(b.flow(VIPA, 53), []byte("query 12"))
		header.UDP(p[l4At:]).SetLength(ulen)
		fixL4Checksum(p)
		return p
	}
	for _, ul := range []int{0, 1, 7, 17, 1000, 65535} {
		b.add(fmt.Sprintf("UDP length %d in a 16-byte datagram", ul), datagram(ul), dropped("udp_bad_length"))
	}
	// Shorter than the datagram: the rest is not part of it, as for IP.
	for _, ul := range []int{8, 15} {
		b.add(fmt.Sprintf("UDP length %d in a 16-byte datagram", ul), datagram(ul), forwarded())
	}
	b.add("UDP length 16 beyond an IPv4 total length of 30", setTotalLength(datagram(16), 30), dropped("udp_bad_length"))
}

// flagCases sends every value of the TCP flags byte to a flow without an
// entry, then to a flow a SYN has just opened.
func (b *builder) flagCases() {
	for flags := range 256 {
		f := uint8(flags)
		w := dropped("non_syn_miss")
		switch {
		case f&pktbuild.SYN != 0 && f&(pktbuild.ACK|pktbuild.RST|pktbuild.FIN) != 0:
			w = dropped("bad_syn")
		case f&pktbuild.SYN != 0:
			w = forwardedTo("s5")
		}
		b.add(fmt.Sprintf("TCP flags %#02x without an entry", f), pktbuild.TCP(b.flow(VIPB, 443), f, 1, 0, nil), w)
	}
	for flags := range 256 {
		fl := b.flow(VIPA, 80)
		opened := b.add("SYN opening a flow", pktbuild.TCP(fl, pktbuild.SYN, 1, 0, nil), forwarded())
		b.add(fmt.Sprintf("TCP flags %#02x on an open flow", flags), pktbuild.TCP(fl, uint8(flags), 2, 1, nil), forwardedTo(opened.Server))
		if flags == pktbuild.ACK {
			b.established, b.establishedOn = fl, opened.Server
		}
	}
}

// tag inserts an 802.1Q (tpid 0x8100) or 802.1ad (0x88a8) tag.
func tag(p []byte, tpid, vid uint16) []byte {
	out := append(bytes.Clone(p[:header.EthernetTypeOffset]), byte(tpid>>8), byte(tpid), byte(vid>>8), byte(vid))
	return append(out, p[header.EthernetTypeOffset:]...)
}

func (b *builder) vlanCases() {
	b.add("802.1Q-tagged SYN (VLAN 10)", tag(b.syn(VIPB, 443), 0x8100, 10), dropped("vlan_tagged"))
	b.add("priority-tagged SYN (VLAN 0)", tag(b.syn(VIPB, 443), 0x8100, 0), dropped("vlan_tagged"))
	b.add("QinQ SYN (802.1ad 100, 802.1Q 10)", tag(tag(b.syn(VIPB, 443), 0x8100, 10), 0x88a8, 100), dropped("vlan_tagged"))
	b.add("pre-standard QinQ (0x9100) SYN", tag(tag(b.syn(VIPB, 443), 0x8100, 10), 0x9100, 100), dropped("vlan_tagged"))
	b.add("double 802.1Q-tagged SYN", tag(tag(b.syn(VIPB, 443), 0x8100, 10), 0x8100, 100), dropped("vlan_tagged"))
	b.add("802.1Q-tagged ARP request for VIP A",
		tag(pktbuild.ARP(1, pktbuild.Broadcast, ClientMAC, requester, VIPA, pktbuild.MAC{}), 0x8100, 10), dropped("vlan_tagged"))
	fl := b.flow(VIPA, 80)
	opened := b.add("SYN opening a flow", pktbuild.TCP(fl, pktbuild.SYN, 1, 0, nil), forwarded())
	b.add("802.1Q-tagged ACK of that flow", tag(pktbuild.TCP(fl, pktbuild.ACK, 2, 1, nil), 0x8100, 10), dropped("vlan_tagged"))
	b.add("untagged ACK of that flow", pktbuild.TCP(fl, pktbuild.ACK, 2, 1, nil), forwardedTo(opened.Server))
	uf := b.flow(VIPA, 53)
	first := b.add("UDP datagram opening a flow", pktbuild.UDP(uf, []byte("one")), forwarded())
	b.add("802.1Q-tagged datagram of that flow", tag(pktbuild.UDP(uf, []byte("two")), 0x8100, 10), dropped("vlan_tagged"))
	b.add("untagged datagram of that flow", pktbuild.UDP(uf, []byte("three")), forwardedTo(first.Server))
}

func ethernetFrame(dst pktbuild.MAC, etherType uint16, payload []byte) []byte {
	p := append(append(append([]byte{}, dst[:]...), ClientMAC[:]...), byte(etherType>>8), byte(etherType))
	return append(p, payload...)
}

func (b *builder) otherL2L3Cases() {
	ipv6 := make([]byte, 60) // an IPv6 header and a TCP SYN header
	ipv6[0] = 0x60
	ipv6[5], ipv6[6], ipv6[7] = 20, protoTCP, 64
	ipv6[53] = pktbuild.SYN
	ipv6[52] = 5 << 4
	b.add("IPv6 TCP SYN (no IPv6 service)", ethernetFrame(GatewayMAC, 0x86dd, ipv6), dropped("not_for_cluster"))
	b.add("IPv6 TCP SYN to the all-nodes multicast MAC", ethernetFrame(allNodesMAC, 0x86dd, ipv6), dropped("not_our_mac"))
	b.add("IPv6 TCP SYN to the broadcast MAC", ethernetFrame(pktbuild.Broadcast, 0x86dd, ipv6), dropped("not_our_mac"))
	stp := append([]byte{0x42, 0x42, 0x03}, make([]byte, 35)...)
	b.add("802.3 LLC frame (spanning tree) to the gateway", ethernetFrame(GatewayMAC, uint16(len(stp)), stp), dropped("unsupported_l3"))
	b.add("spanning tree BPDU", ethernetFrame(pktbuild.MAC{0x01, 0x80, 0xc2, 0, 0, 0}, uint16(len(stp)), stp), dropped("not_our_mac"))
	b.add("LLDP", ethernetFrame(pktbuild.MAC{0x01, 0x80, 0xc2, 0, 0, 0x0e}, 0x88cc, make([]byte, 46)), dropped("not_our_mac"))
	mpls := append([]byte{0, 0x01, 0x01, 0x40}, header.Ethernet(b.syn(VIPA, 80)).Payload()...)
	b.add("MPLS-labelled IPv4 SYN", ethernetFrame(GatewayMAC, 0x8847, mpls), dropped("unsupported_l3"))
	for _, et := range []uint16{0x0000, 0x05dc, 0x0600, 0x0801, 0x88e5, 0xffff} {
		b.add(fmt.Sprintf("EtherType %#04x", et), ethernetFrame(GatewayMAC, et, make([]byte, 46)), dropped("unsupported_l3"))
	}
}

// IPv6 addresses and MACs of the IPv6 cases. The configuration has no
// IPv6 VIP, server or gateway address: vip6 and gateway6 are what a client
// might try, not what the gateway owns.
var (
	client6     = netip.MustParseAddr("2001:db8::7")
	vip6        = netip.MustParseAddr("2001:db8::100")
	gateway6    = netip.MustParseAddr("fe80::1")
	allNodesMAC = pktbuild.MAC{0x33, 0x33, 0, 0, 0, 1}
)

// Offsets in the untagged IPv6 frames the IPv6 cases build.
const (
	ip6At = header.UntaggedIPv6Offset
	l6At  = header.UntaggedIPv6L4Offset
)

// ipv6Of returns the IPv6 header view of an untagged frame.
func ipv6Of(p []byte) header.IPv6 { return header.IPv6(p[ip6At:]) }

// cut6 keeps the first n bytes of an untagged IPv6 frame's payload and sets
// the payload length to match.
func cut6(p []byte, n int) []byte {
	out := bytes.Clone(p[:l6At+n])
	ipv6Of(out).SetPayloadLength(n)
	return out
}

// withPayloadLength6 sets the payload length of an untagged IPv6 frame.
func withPayloadLength6(p []byte, n int) []byte { ipv6Of(p).SetPayloadLength(n); return p }

func toMAC(mac pktbuild.MAC, p []byte) []byte { header.Ethernet(p).SetDestination(mac[:]); return p }

func flow6(dst pktbuild.MAC, port uint16) pktbuild.Flow {
	return pktbuild.Flow{SrcMAC: ClientMAC, DstMAC: dst, SrcIP: client6, DstIP: vip6, SrcPort: 40000, DstPort: port}
}

// ipv6Cases: the IPv6 header checks, each header's checks over IPv6, the
// destination MACs IPv6 may use, ICMPv6 and Neighbor Discovery. Nothing of
// IPv6 is configured, so every frame is dropped; what matters is the
// reason.
func (b *builder) ipv6Cases() {
	syn := func() []byte { return pktbuild.TCP(flow6(GatewayMAC, 80), pktbuild.SYN, 1, 0, nil) }
	udp := func() []byte { return pktbuild.UDP(flow6(GatewayMAC, 53), []byte("query 12")) }
	b.add("IPv6 SYN to port 80", syn(), dropped("not_for_cluster"))
	b.add("IPv6 UDP datagram to port 53", udp(), dropped("not_for_cluster"))
	b.add("IPv6 SYN to another host's MAC", toMAC(otherMAC, syn()), dropped("not_our_mac"))
	b.add("IPv6 SYN to an IPv4 multicast MAC", toMAC(pktbuild.MAC{0x01, 0, 0x5e, 0, 0, 1}, syn()), dropped("not_our_mac"))
	b.add("IPv6 UDP datagram to the all-nodes multicast MAC", toMAC(allNodesMAC, udp()), dropped("not_our_mac"))
	b.add("802.1Q-tagged IPv6 SYN", tag(syn(), 0x8100, 10), dropped("vlan_tagged"))
	b.add("802.1Q-tagged IPv6 SYN to the all-nodes multicast MAC", tag(toMAC(allNodesMAC, syn()), 0x8100, 10), dropped("vlan_tagged"))

	// The fixed header.
	s := syn()
	for n := ip6At; n < l6At; n++ {
		b.add(fmt.Sprintf("IPv6 SYN cut to %d bytes (inside IPv6)", n), bytes.Clone(s[:n]), dropped("ipv6_truncated"))
	}
	b.add("IPv6 SYN cut to 30 bytes, to the all-nodes multicast MAC", toMAC(allNodesMAC, bytes.Clone(s[:30])), dropped("ipv6_truncated"))
	for n := l6At; n < len(s); n++ {
		b.add(fmt.Sprintf("IPv6 SYN cut to %d bytes (inside TCP, payload length 20)", n), bytes.Clone(s[:n]), dropped("ipv6_bad_length"))
	}
	for _, pl := range []int{21, 1500, 65535} {
		b.add(fmt.Sprintf("IPv6 SYN with 20 bytes of payload, payload length %d", pl), withPayloadLength6(syn(), pl), dropped("ipv6_bad_length"))
	}
	b.add("IPv6 SYN with payload length 21 to the broadcast MAC", toMAC(pktbuild.Broadcast, withPayloadLength6(syn(), 21)), dropped("ipv6_bad_length"))
	for _, v := range []byte{0, 4, 5, 15} {
		p := syn()
		ipv6Of(p)[header.IPv6VersionOffset] = v<<4 | ipv6Of(p)[header.IPv6VersionOffset]&0x0f
		b.add(fmt.Sprintf("IP version %d in an IPv6 frame", v), p, dropped("ipv6_bad_version"))
	}
	v4 := b.syn(VIPA, 80)
	header.Ethernet(v4).SetType(header.EtherTypeIPv6)
	b.add("IPv4 SYN to VIP A with EtherType IPv6", v4, dropped("ipv6_bad_version"))
	p := syn()
	ipv6Of(p)[header.IPv6VersionOffset] = 4 << 4
	b.add("IP version 4 in an IPv6 frame to the all-nodes multicast MAC", toMAC(allNodesMAC, p), dropped("ipv6_bad_version"))

	// Extension headers are refused, whatever follows and whoever the
	// frame is for; other next headers are simply not the cluster's.
	for _, h := range []uint8{0, 43, 44, 50, 51, 60, 135, 139, 140} {
		p := syn()
		ipv6Of(p).SetNextHeader(h)
		b.add(fmt.Sprintf("IPv6 next header %d (an extension header)", h), p, dropped("ipv6_extension"))
	}
	mldHopByHop := []byte{protoICMPv6, 0, 5, 2, 0, 0, 1, 0} // router alert (MLD), then a PadN
	mld := pktbuild.ICMPv6(pktbuild.Flow{SrcMAC: ClientMAC, DstMAC: pktbuild.MAC{0x33, 0x33, 0, 0, 0, 0x16}, SrcIP: netip.MustParseAddr("fe80::7"),
		DstIP: netip.MustParseAddr("ff02::16")}, 1, 143, 0, [4]byte{0, 0, 0, 1}, make([]byte, 20))
	mld = append(append(bytes.Clone(mld[:l6At]), mldHopByHop...), mld[l6At:]...)
	ipv6Of(mld).SetNextHeader(0)
	ipv6Of(mld).SetPayloadLength(len(mld) - l6At)
	b.add("MLDv2 report with a hop-by-hop header, to its multicast MAC", mld, dropped("ipv6_extension"))
	for _, h := range []uint8{1, 4, 59, 132} {
		p := syn()
		ipv6Of(p).SetNextHeader(h)
		b.add(fmt.Sprintf("IPv6 next header %d", h), p, dropped("not_for_cluster"))
	}
	p = syn()
	ipv6Of(p).SetNextHeader(59)
	b.add("IPv6 next header 59 to the all-nodes multicast MAC", toMAC(allNodesMAC, p), dropped("not_our_mac"))

	// TCP and UDP over IPv6: the payload length bounds them; bytes past it
	// are padding.
	for _, k := range []int{0, 8, 19} {
		b.add(fmt.Sprintf("IPv6 TCP header cut to %d bytes, payload length agreeing", k), cut6(syn(), k), dropped("tcp_truncated"))
	}
	b.add("IPv6 SYN with payload length 10 (the rest padding)", withPayloadLength6(syn(), 10), dropped("tcp_truncated"))
	b.add("IPv6 SYN cut to 10 bytes of TCP, to another host's MAC", toMAC(otherMAC, cut6(syn(), 10)), dropped("not_our_mac"))
	for _, off := range []int{0, 4, 6, 15} {
		p := syn()
		header.TCP(p[l6At:]).SetDataOffset(off * 4)
		b.add(fmt.Sprintf("IPv6 TCP data offset %d in a 20-byte segment", off), p, dropped("tcp_bad_data_offset"))
	}
	for _, k := range []int{0, 4, 7} {
		b.add(fmt.Sprintf("IPv6 UDP header cut to %d bytes, payload length agreeing", k), cut6(udp(), k), dropped("udp_truncated"))
	}
	for _, ul := range []int{0, 7, 17, 1000} {
		p := udp()
		header.UDP(p[l6At:]).SetLength(ul)
		b.add(fmt.Sprintf("IPv6 UDP length %d in a 16-byte datagram", ul), p, dropped("udp_bad_length"))
	}
	b.add("IPv6 UDP length 16 beyond a payload length of 12", withPayloadLength6(udp(), 12), dropped("udp_bad_length"))
	p = udp()
	header.UDP(p[l6At:]).SetLength(9)
	b.add("IPv6 UDP length 9 in a 16-byte datagram (the rest not part of it)", p, dropped("not_for_cluster"))

	// ICMPv6 other than Neighbor Discovery: for no IPv6 VIP.
	icmp := func(dst pktbuild.MAC, hopLimit, typ uint8, body []byte) []byte {
		return pktbuild.ICMPv6(pktbuild.Flow{SrcMAC: ClientMAC, DstMAC: dst, SrcIP: client6, DstIP: vip6}, hopLimit, typ, 0, [4]byte{0, 1, 0, 1}, body)
	}
	b.add("ICMPv6 echo request", icmp(GatewayMAC, 64, 128, []byte("ping")), dropped("not_for_cluster"))
	b.add("ICMPv6 echo reply", icmp(GatewayMAC, 64, 129, []byte("pong")), dropped("not_for_cluster"))
	b.add("ICMPv6 echo request to the all-nodes multicast MAC", icmp(allNodesMAC, 64, 128, []byte("ping")), dropped("not_our_mac"))
	b.add("ICMPv6 echo request to the broadcast MAC", icmp(pktbuild.Broadcast, 64, 128, []byte("ping")), dropped("not_our_mac"))
	b.add("ICMPv6 router solicitation to the all-routers multicast MAC",
		icmp(pktbuild.MAC{0x33, 0x33, 0, 0, 0, 2}, 255, 133, nil), dropped("not_our_mac"))
	b.add("ICMPv6 router advertisement to the gateway", icmp(GatewayMAC, 255, 134, make([]byte, 8)), dropped("not_for_cluster"))
	b.add("ICMPv6 packet too big about an IPv6 flow", pktbuild.PacketTooBig(ClientMAC, GatewayMAC, netip.MustParseAddr("2001:db8::1"),
		header.Ethernet(pktbuild.TCP(pktbuild.Flow{SrcIP: vip6, DstIP: client6, SrcPort: 80, DstPort: 40000}, pktbuild.ACK, 1, 1, make([]byte, 1400))).Payload(), 1280),
		dropped("not_for_cluster"))
	for _, k := range []int{0, 4, 7} {
		b.add(fmt.Sprintf("ICMPv6 echo request cut to %d bytes, payload length agreeing", k), cut6(icmp(GatewayMAC, 64, 128, []byte("ping")), k), dropped("icmp_malformed"))
	}
	b.add("ICMPv6 echo request with payload length 4 (the rest padding)", withPayloadLength6(icmp(GatewayMAC, 64, 128, []byte("ping")), 4), dropped("icmp_malformed"))
	b.add("ICMPv6 echo request cut to 4 bytes, to the all-nodes multicast MAC", cut6(icmp(allNodesMAC, 64, 128, nil), 4), dropped("icmp_malformed"))

	// Neighbor Discovery: nothing to answer or learn here, whoever asks.
	ns := func(target netip.Addr) []byte { return pktbuild.NeighborSolicitation(ClientMAC, client6, target) }
	b.add("neighbor solicitation for "+vip6.String(), ns(vip6), dropped("ndp_ignored"))
	b.add("neighbor solicitation for "+gateway6.String(), ns(gateway6), dropped("ndp_ignored"))
	b.add("duplicate address detection for "+client6.String(), pktbuild.NeighborSolicitation(ClientMAC, netip.IPv6Unspecified(), client6), dropped("ndp_ignored"))
	b.add("neighbor solicitation for "+vip6.String()+" to the gateway's MAC", toMAC(GatewayMAC, ns(vip6)), dropped("ndp_ignored"))
	b.add("neighbor solicitation for "+vip6.String()+" to the broadcast MAC", toMAC(pktbuild.Broadcast, ns(vip6)), dropped("ndp_ignored"))
	b.add("neighbor solicitation for "+vip6.String()+" to another host's MAC", toMAC(otherMAC, ns(vip6)), dropped("not_our_mac"))
	for _, hop := range []uint8{64, 254} {
		p := ns(vip6)
		ipv6Of(p).SetHopLimit(hop)
		b.add(fmt.Sprintf("neighbor solicitation with hop limit %d", hop), p, dropped("malformed_ndp"))
	}
	b.add("neighbor solicitation without options (24 bytes)", cut6(ns(vip6), 24), dropped("ndp_ignored"))
	for _, k := range []int{8, 23} {
		b.add(fmt.Sprintf("neighbor solicitation cut to %d bytes, payload length agreeing", k), cut6(ns(vip6), k), dropped("malformed_ndp"))
	}
	b.add("neighbor solicitation with payload length 20 (the rest padding)", withPayloadLength6(ns(vip6), 20), dropped("malformed_ndp"))
	b.add("neighbor solicitation cut to 4 bytes", cut6(ns(vip6), 4), dropped("icmp_malformed"))
	na := func(dst pktbuild.MAC) []byte {
		return pktbuild.NeighborAdvertisement(ClientMAC, dst, client6, netip.MustParseAddr("2001:db8::1"))
	}
	b.add("neighbor advertisement to the gateway's MAC", na(GatewayMAC), dropped("ndp_ignored"))
	b.add("unsolicited neighbor advertisement to the all-nodes multicast MAC", na(allNodesMAC), dropped("ndp_ignored"))
	p = na(GatewayMAC)
	ipv6Of(p).SetHopLimit(64)
	b.add("neighbor advertisement with hop limit 64", p, dropped("malformed_ndp"))
	b.add("neighbor advertisement cut to 20 bytes", cut6(na(GatewayMAC), 20), dropped("malformed_ndp"))

	// Other EtherTypes to an IPv6 multicast MAC get past the MAC check as
	// broadcast ones do.
	arp := func(target netip.Addr) []byte {
		return pktbuild.ARP(1, allNodesMAC, ClientMAC, requester, target, pktbuild.MAC{})
	}
	b.add("ARP request for VIP A to an IPv6 multicast MAC", arp(VIPA), replied())
	b.add("ARP request for a server's address to an IPv6 multicast MAC", arp(server("s1").IP), dropped("arp_ignored"))
	b.add("IPv4 SYN to VIP A to an IPv6 multicast MAC", toMAC(allNodesMAC, b.syn(VIPA, 80)), dropped("not_our_mac"))
	b.add("EtherType 0x88e5 to an IPv6 multicast MAC", ethernetFrame(allNodesMAC, 0x88e5, make([]byte, 46)), dropped("unsupported_l3"))
}

// icmpFrame builds an ICMP message from src to dst with a correct checksum.
func icmpFrame(src, dst netip.Addr, typ, code uint8, body []byte) []byte {
	msg := header.ICMP(append(make([]byte, header.ICMPHeaderLen), body...))
	msg.SetType(typ)
	msg.SetCode(code)
	if typ == header.ICMPDestUnreachable && code == pktbuild.ICMPFragNeeded {
		msg.SetNextHopMTU(1400)
	}
	msg.SetChecksum(pktbuild.Checksum(msg))
	eth := header.Ethernet(make([]byte, l4At+len(msg)))
	eth.SetDestination(GatewayMAC[:])
	eth.SetSource(ClientMAC[:])
	eth.SetType(header.EtherTypeIPv4)
	pktbuild.IPv4Header(eth[ipAt:l4At], src, dst, protoICMP, header.IPv4MinHeaderLen+len(msg))
	copy(eth[l4At:], msg)
	return eth
}

// sentByServer is the IPv4 packet a server sends to the client of fl
// (direct server return: from the VIP), as an ICMP error embeds it: the IP
// header and the first l4Bytes bytes of the TCP or UDP header.
func sentByServer(fl pktbuild.Flow, udp bool, l4Bytes int) []byte {
	reply := pktbuild.Flow{SrcMAC: GatewayMAC, DstMAC: ClientMAC, SrcIP: fl.DstIP, DstIP: fl.SrcIP, SrcPort: fl.DstPort, DstPort: fl.SrcPort}
	var p []byte
	if udp {
		p = pktbuild.UDP(reply, []byte("answer"))
	} else {
		p = pktbuild.TCP(reply, pktbuild.SYN|pktbuild.ACK, 9, 2, nil)
	}
	return p[ipAt : l4At+l4Bytes]
}

func (b *builder) icmpCases() {
	// About a connection opened long before, then about connections opened
	// a few frames before (in the same burst, most likely: the gateway
	// must decide in arrival order all the same).
	b.add("ICMP fragmentation needed about a connection opened long before",
		icmpFrame(routerIP, VIPA, 3, 4, sentByServer(b.established, false, 8)), forwardedTo(b.establishedOn))
	tf := b.flow(VIPA, 80)
	tcpSrv := b.add("SYN opening a flow", pktbuild.TCP(tf, pktbuild.SYN, 1, 0, nil), forwarded()).Server
	b.add("ACK of that flow", pktbuild.TCP(tf, pktbuild.ACK, 2, 1, nil), forwardedTo(tcpSrv))
	uf := b.flow(VIPA, 53)
	udpSrv := b.add("UDP datagram opening a flow", pktbuild.UDP(uf, []byte("q")), forwarded()).Server

	b.add("ICMP fragmentation needed about the TCP flow", icmpFrame(routerIP, VIPA, 3, 4, sentByServer(tf, false, 8)), forwardedTo(tcpSrv))
	b.add("ICMP time exceeded about the TCP flow", icmpFrame(routerIP, VIPA, 11, 0, sentByServer(tf, false, 8)), forwardedTo(tcpSrv))
	b.add("ICMP host unreachable about the TCP flow, whole TCP header embedded", icmpFrame(routerIP, VIPA, 3, 1, sentByServer(tf, false, 20)), forwardedTo(tcpSrv))
	b.add("ICMP port unreachable from the client about the UDP flow", icmpFrame(clientIP, VIPA, 3, 3, sentByServer(uf, true, 8)), forwardedTo(udpSrv))

	withOptions := sentByServer(tf, false, 8)
	withOptions = append(append(bytes.Clone(withOptions[:header.IPv4MinHeaderLen]), 0x94, 0x04, 0, 0), withOptions[header.IPv4MinHeaderLen:]...)
	header.IPv4(withOptions).SetHeaderLen(header.IPv4MinHeaderLen + 4)
	b.add("ICMP fragmentation needed quoting a header with options", icmpFrame(routerIP, VIPA, 3, 4, withOptions), forwardedTo(tcpSrv))

	b.add("ICMP fragmentation needed about an unknown flow", icmpFrame(routerIP, VIPA, 3, 4, sentByServer(b.flow(VIPA, 80), false, 8)), dropped("icmp_no_flow"))
	backwards := pktbuild.TCP(tf, pktbuild.ACK, 2, 1, nil)[ipAt : l4At+8] // the client's packet, not the server's
	b.add("ICMP error quoting the client's direction of the flow", icmpFrame(routerIP, VIPA, 3, 4, backwards), dropped("icmp_no_flow"))
	b.add("ICMP error about the flow sent to VIP B", icmpFrame(routerIP, VIPB, 3, 4, sentByServer(tf, false, 8)), dropped("icmp_no_flow"))
	ping := header.Ethernet(icmpFrame(VIPA, clientIP, 8, 0, []byte("ping"))).Payload()
	b.add("ICMP error quoting an echo request from VIP A", icmpFrame(routerIP, VIPA, 3, 1, ping), dropped("icmp_no_flow"))
	b.add("ICMP error about the flow sent to the gateway's address", icmpFrame(routerIP, GatewayIP, 3, 4, sentByServer(tf, false, 8)), dropped("not_for_cluster"))
	b.add("ICMP error quoting 4 bytes of the TCP header", icmpFrame(routerIP, VIPA, 3, 4, sentByServer(tf, false, 4)), dropped("icmp_malformed"))
	b.add("ICMP error quoting 12 bytes of IPv4 header", icmpFrame(routerIP, VIPA, 11, 0, sentByServer(tf, false, 8)[:12]), dropped("icmp_malformed"))
	v6 := sentByServer(tf, false, 8)
	v6[header.IPv4VersionIHLOffset] = 6<<4 | header.IPv4MinHeaderLen/4
	b.add("ICMP error quoting a version-6 header", icmpFrame(routerIP, VIPA, 3, 4, v6), dropped("icmp_malformed"))
	b.add("ICMP redirect about the flow", icmpFrame(routerIP, VIPA, 5, 1, sentByServer(tf, false, 8)), dropped("icmp_unhandled"))
	b.add("ICMP echo request to VIP A (no VIP answers pings here)", icmpFrame(clientIP, VIPA, 8, 0, []byte("ping")), dropped("icmp_unhandled"))
	b.add("ICMP echo request to VIP B", icmpFrame(clientIP, VIPB, 8, 0, []byte("ping")), dropped("icmp_unhandled"))
	b.add("ICMP echo reply to VIP A", icmpFrame(clientIP, VIPA, 0, 0, []byte("pong")), dropped("icmp_unhandled"))
	b.add("ICMP echo request to the gateway's address", icmpFrame(clientIP, GatewayIP, 8, 0, []byte("ping")), dropped("not_for_cluster"))
	b.add("ICMP echo request to an unknown address", icmpFrame(clientIP, netip.MustParseAddr("10.1.0.99"), 8, 0, []byte("ping")), dropped("not_for_cluster"))
	short := icmpFrame(routerIP, VIPA, 3, 4, nil)[:l4At+4]
	b.add("ICMP header cut to 4 bytes", setTotalLength(short, header.IPv4MinHeaderLen+4), dropped("icmp_malformed"))
}

func (b *builder) oversizeCases() {
	fl := b.flow(VIPA, 80)
	srv := b.add("SYN opening a flow", pktbuild.TCP(fl, pktbuild.SYN, 1, 0, nil), forwarded()).Server
	data := func(n int) []byte { return bytes.Repeat([]byte{'d'}, n) }
	b.add("1514-byte segment of that flow (a full 1500-byte MTU)", pktbuild.TCP(fl, pktbuild.ACK, 2, 1, data(1460)), forwardedTo(srv))
	b.add("1515-byte segment of that flow", pktbuild.TCP(fl, pktbuild.ACK, 1462, 1, data(1461)), dropped("oversize"))
	b.add("1514-byte segment of that flow plus one byte after the IPv4 packet",
		pad(pktbuild.TCP(fl, pktbuild.ACK, 1462, 1, data(1460)), 1515, 0), dropped("oversize"))
	b.add("1515-byte SYN to VIP B", pktbuild.TCP(b.flow(VIPB, 443), pktbuild.SYN, 1, 0, data(1461)), dropped("oversize"))
	b.add("1515-byte SYN to another host's MAC", pktbuild.TCP(pktbuild.Flow{SrcMAC: ClientMAC, DstMAC: otherMAC, SrcIP: clientIP,
		DstIP: VIPA, SrcPort: 1, DstPort: 80}, pktbuild.SYN, 1, 0, data(1461)), dropped("oversize"))
	b.add("9014-byte jumbo SYN to VIP B", pktbuild.TCP(b.flow(VIPB, 443), pktbuild.SYN, 1, 0, data(8960)), dropped("oversize"))
	uf := b.flow(VIPA, 53)
	usrv := b.add("UDP datagram opening a flow", pktbuild.UDP(uf, []byte("q")), forwarded()).Server
	b.add("1515-byte datagram of that flow", pktbuild.UDP(uf, data(1473)), dropped("oversize"))
	b.add("1514-byte datagram of that flow", pktbuild.UDP(uf, data(1472)), forwardedTo(usrv))
}

func (b *builder) addressCases() {
	to := func(mac pktbuild.MAC, p []byte) []byte { header.Ethernet(p).SetDestination(mac[:]); return p }
	b.add("SYN to another host's MAC", to(otherMAC, b.syn(VIPA, 80)), dropped("not_our_mac"))
	b.add("SYN to an IPv4 multicast MAC", to(pktbuild.MAC{0x01, 0, 0x5e, 0, 0, 1}, b.syn(VIPA, 80)), dropped("not_our_mac"))
	b.add("SYN to the broadcast MAC", to(pktbuild.Broadcast, b.syn(VIPA, 80)), dropped("not_our_mac"))
	b.add("UDP datagram to the broadcast MAC", to(pktbuild.Broadcast, pktbuild.UDP(b.flow(VIPA, 53), []byte("q"))), dropped("not_our_mac"))
	b.add("SYN to an unknown VIP", b.syn(netip.MustParseAddr("10.1.0.99"), 80), dropped("not_for_cluster"))
	b.add("SYN to the gateway's address", b.syn(GatewayIP, 80), dropped("not_for_cluster"))
	b.add("SYN to VIP A:8080", b.syn(VIPA, 8080), dropped("not_for_cluster"))
	b.add("TCP SYN to VIP A:53 (a UDP service)", b.syn(VIPA, 53), dropped("not_for_cluster"))
	b.add("UDP to VIP B:443 (a TCP service)", pktbuild.UDP(b.flow(VIPB, 443), []byte("q")), dropped("not_for_cluster"))
	for _, proto := range []uint8{0, 47, 50, 132, 255} {
		p := b.syn(VIPA, 80)
		ipv4Of(p).SetProtocol(proto)
		fixIPv4Checksum(ipv4Of(p))
		b.add(fmt.Sprintf("IP protocol %d to VIP A", proto), p, dropped("not_for_cluster"))
	}
}

// randomCases: seeded random frames, judged by the model alone: anything
// at all; anything addressed to the gateway; and IPv4 headers with random
// lengths, protocols, addresses, ports and flags.
func (b *builder) randomCases() {
	rng := rand.New(rand.NewPCG(Seed, Seed))
	fill := func(p []byte) {
		for i := range p {
			p[i] = byte(rng.Uint64())
		}
	}
	between := func(lo, hi int) int { return lo + int(rng.Uint64()%uint64(hi-lo+1)) }
	for i := range RandomFrames {
		p := make([]byte, between(1, MaxFrameLen))
		fill(p)
		b.add(fmt.Sprintf("random bytes #%d", i), p, modelled)
	}
	etherTypes := []uint16{header.EtherTypeIPv4, header.EtherTypeARP, 0x86dd, header.EtherTypeVLAN}
	for i := range RandomFrames {
		p := header.Ethernet(make([]byte, between(header.EthernetHeaderLen, MaxFrameLen)))
		fill(p)
		p.SetDestination(GatewayMAC[:])
		if k := rng.Uint64() % 5; k < 4 {
			p.SetType(etherTypes[k])
		}
		b.add(fmt.Sprintf("random bytes to the gateway #%d", i), p, modelled)
	}
	for i := range RandomFrames {
		p := header.Ethernet(make([]byte, between(l4At+header.UDPHeaderLen, 200)))
		fill(p)
		p.SetDestination(GatewayMAC[:])
		p.SetSource(ClientMAC[:])
		p.SetType(header.EtherTypeIPv4)
		ip := header.IPv4(p.Payload())
		ip.SetHeaderLen(header.IPv4MinHeaderLen)
		if rng.Uint64()%4 != 0 {
			ip.SetTotalLength(len(ip))
		}
		if rng.Uint64()%8 != 0 {
			ip.SetFlagsFragment(uint16(rng.Uint64()%2) << 14) // DF or not, no fragment
		}
		// Mostly a configured service's address, protocol and port; the
		// destination port is where TCP and UDP both have it.
		l4 := header.TCP(ip[header.IPv4MinHeaderLen:])
		if k := int(rng.Uint64() % uint64(len(services)+1)); k < len(services) {
			svc := services[k]
			ip.SetDestination(binary.BigEndian.Uint32(svc.vip.AsSlice()))
			ip.SetProtocol(svc.proto)
			l4.SetDestinationPort(svc.port)
		}
		switch total := ip.TotalLength(); {
		case ip.Protocol() == protoTCP && len(l4) > header.TCPFlagsOffset && rng.Uint64()%2 == 0:
			l4.SetDataOffset(header.TCPMinHeaderLen)
			if rng.Uint64()%2 == 0 {
				l4.SetFlags(pktbuild.SYN)
			}
		case ip.Protocol() == protoUDP && total <= len(ip) && total >= header.IPv4MinHeaderLen+header.UDPHeaderLen && rng.Uint64()%2 == 0:
			header.UDP(l4).SetLength(total - header.IPv4MinHeaderLen)
		}
		fixIPv4Checksum(ip)
		b.add(fmt.Sprintf("random IPv4 to the gateway #%d", i), p, modelled)
	}
}
