package fastpath

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

var (
	routerIP  = netip.MustParseAddr("198.51.100.1")
	routerMAC = pktbuild.MAC{0x02, 0, 0, 0, 0, 0xe1}
)

// serverSegment is a datagram a server sends to the client of flow
// (client port srcPort) from the VIP, as direct server return has it: its
// IPv4 header onwards.
func serverSegment(srcPort uint16, payload []byte) []byte {
	f := pktbuild.Flow{SrcMAC: serverMAC(1), DstMAC: clientMA, SrcIP: vip, DstIP: client, SrcPort: 80, DstPort: srcPort}
	return pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 1000, 2, payload)[header.EthernetHeaderLen:]
}

// A router on the way back to the client cannot pass a server's large
// segment: its "fragmentation needed" comes to the VIP and must reach the
// server that sent the segment, unchanged but for the MACs, without
// touching the connection's entry.
func TestFragNeededReachesTheConnectionsServer(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	for port := uint16(1000); port < 1010; port++ {
		srv := h.open(port)
		before := *h.entry(port)
		h.clock.Advance(time.Second)
		p := pktbuild.FragNeeded(routerMAC, gwMAC, routerIP, serverSegment(port, make([]byte, 1400)), 1280)
		orig := bytes.Clone(p)
		if v := h.send(p); v != VerdictForward {
			t.Fatalf("frag-needed for connection %d: %v", port, v)
		}
		if got := dstServer(t, p); got != srv {
			t.Fatalf("frag-needed for connection %d went to server %d, its server is %d", port, got, srv)
		}
		if !bytes.Equal(header.Ethernet(p).Source(), gwMAC[:]) || !bytes.Equal(p[header.EthernetTypeOffset:], orig[header.EthernetTypeOffset:]) {
			t.Fatal("frag-needed changed beyond its MACs")
		}
		if e := h.entry(port); *e != before {
			t.Fatalf("entry changed by an ICMP error: %+v, was %+v", *e, before)
		}
	}
	// Time exceeded and the other unreachable codes go the same way.
	srv := h.open(2000)
	p := pktbuild.ICMP(pktbuild.Flow{SrcMAC: routerMAC, DstMAC: gwMAC, SrcIP: routerIP, DstIP: vip},
		pktbuild.ICMPTimeExceeded, 0, [4]byte{}, serverSegment(2000, nil)[:header.IPv4MinHeaderLen+8])
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("time exceeded: %v", v)
	}
	if c := h.core.Counters; c.ICMPErrors != 11 {
		t.Fatalf("ICMP errors forwarded %d, want 11", c.ICMPErrors)
	}
}

// UDP flows are found the same way.
func TestICMPErrorForUDPFlow(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	q := pktbuild.UDP(udpFlow(5353), []byte("q"))
	if v := h.send(q); v != VerdictForward {
		t.Fatalf("datagram: %v", v)
	}
	srv := dstServer(t, q)
	reply := pktbuild.UDP(pktbuild.Flow{SrcMAC: serverMAC(3), DstMAC: clientMA, SrcIP: vip, DstIP: client, SrcPort: 53, DstPort: 5353}, []byte("answer"))
	p := pktbuild.ICMP(pktbuild.Flow{SrcMAC: routerMAC, DstMAC: gwMAC, SrcIP: routerIP, DstIP: vip},
		pktbuild.ICMPDestUnreachable, 3, [4]byte{}, reply[header.EthernetHeaderLen:])
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("port unreachable for a UDP flow: %v", v)
	}
}

// quotedLen is what an ICMP error quotes of a datagram: its IPv4 header
// and the first 8 bytes after it.
const quotedLen = header.IPv4MinHeaderLen + 8

func TestICMPDrops(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.open(1000)
	router := pktbuild.Flow{SrcMAC: routerMAC, DstMAC: gwMAC, SrcIP: routerIP, DstIP: vip}
	quote := serverSegment(1000, nil)
	otherSource := bytes.Clone(quote)
	header.IPv4(otherSource).SetSource(0x0a00000b) // 10.0.0.11, a server's own address, not the VIP
	icmpOfProto := bytes.Clone(quote)
	header.IPv4(icmpOfProto).SetProtocol(ProtoICMP)
	toOther := router
	toOther.DstIP = vip2
	cases := []struct {
		name string
		p    []byte
		want DropReason
	}{
		{"unknown connection", pktbuild.FragNeeded(routerMAC, gwMAC, routerIP, serverSegment(1001, nil), 1280), DropICMPNoFlow},
		{"quote not from the VIP", pktbuild.ICMP(router, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, otherSource[:quotedLen]), DropICMPNoFlow},
		{"quote of an ICMP datagram", pktbuild.ICMP(router, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, icmpOfProto[:quotedLen]), DropICMPNoFlow},
		{"quote shorter than header + 8", pktbuild.ICMP(router, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, quote[:quotedLen-1]), DropICMPMalformed},
		{"quote not IPv4", pktbuild.ICMP(router, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, append([]byte{0x65}, quote[1:quotedLen]...)), DropICMPMalformed},
		{"ICMP header cut", pktbuild.ICMP(router, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, nil)[:header.EthernetHeaderLen+header.IPv4MinHeaderLen+7], DropIPv4BadTotalLength},
		{"ICMP shorter than its header", shortICMP(router), DropICMPMalformed},
		{"redirect", pktbuild.ICMP(router, 5, 1, [4]byte{}, quote[:quotedLen]), DropICMPUnhandled},
		{"echo to a VIP that does not answer", pktbuild.ICMP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip}, pktbuild.ICMPEchoRequest, 0, [4]byte{0, 1, 0, 1}, []byte("ping")), DropICMPUnhandled},
		{"ICMP to no VIP", pktbuild.ICMP(toOther, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, quote[:quotedLen]), DropNotForCluster},
	}
	for _, tc := range cases {
		before := h.core.Counters.Drops[tc.want]
		if v := h.send(tc.p); v != DropVerdict(tc.want) {
			t.Errorf("%s: %v, want drop:%v", tc.name, v, tc.want)
		} else if h.core.Counters.Drops[tc.want] != before+1 {
			t.Errorf("%s: not counted", tc.name)
		}
	}
}

// shortICMP is an IPv4 datagram of protocol ICMP with 4 bytes of payload.
func shortICMP(f pktbuild.Flow) []byte {
	p := pktbuild.ICMP(f, pktbuild.ICMPDestUnreachable, 4, [4]byte{}, nil)[:header.EthernetHeaderLen+header.IPv4MinHeaderLen+4]
	ip := header.IPv4(p[header.EthernetHeaderLen:])
	ip.SetTotalLength(header.IPv4MinHeaderLen + 4)
	ip.SetChecksum(0)
	ip.SetChecksum(pktbuild.Checksum(ip[:header.IPv4MinHeaderLen]))
	return p
}

// A VIP configured to answer ping replies in place, with valid checksums.
func TestEchoRequestToAnsweringVIP(t *testing.T) {
	cfg := testConfig()
	cfg.EchoVIPs = []netip.Addr{vip}
	h := newHarness(t, cfg, 16)
	p := pktbuild.ICMP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip},
		pktbuild.ICMPEchoRequest, 0, [4]byte{0x12, 0x34, 0, 7}, []byte("ping payload"))
	if v := h.send(p); v != VerdictReply {
		t.Fatalf("echo request: %v", v)
	}
	want := pktbuild.ICMP(pktbuild.Flow{SrcMAC: gwMAC, DstMAC: clientMA, SrcIP: vip, DstIP: client},
		pktbuild.ICMPEchoReply, 0, [4]byte{0x12, 0x34, 0, 7}, []byte("ping payload"))
	if !bytes.Equal(p, want) {
		t.Fatalf("echo reply\n got %x\nwant %x", p, want)
	}
	if c := h.core.Counters; c.EchoReplies != 1 || c.Replies != 1 {
		t.Fatalf("echo replies %d, replies %d", c.EchoReplies, c.Replies)
	}
	cfg.EchoVIPs = []netip.Addr{netip.MustParseAddr("10.0.0.201")}
	if _, err := NewSnapshot(cfg); err == nil {
		t.Fatal("an echo VIP no service has was accepted")
	}
}

// The checksum adjustment agrees with a full recomputation for every
// change of the first word.
func TestChecksumAdjust(t *testing.T) {
	msg := header.ICMP{8, 0, 0, 0, 0x12, 0x34, 0, 7, 'a', 'b', 'c'}
	msg.SetChecksum(pktbuild.Checksum(msg))
	for w := range 1 << 16 {
		m := header.ICMP(bytes.Clone(msg))
		old := m.TypeCode()
		binary.BigEndian.PutUint16(m[header.ICMPTypeOffset:], uint16(w)) // type and code
		m.SetChecksum(header.ChecksumAdjust(m.Checksum(), old, uint16(w)))
		if sum := pktbuild.Checksum(m); sum != 0 && sum != 0xffff {
			t.Fatalf("word %#04x: checksum does not verify (%#04x)", w, sum)
		}
	}
}

// An ICMP error is decided in arrival order: one about a connection opened
// earlier in the same burst finds it.
func TestICMPErrorAfterSYNInOneBurst(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	burst := [][]byte{
		pktbuild.TCP(tcpFlow(3000), pktbuild.SYN, 1, 0, nil),
		pktbuild.FragNeeded(routerMAC, gwMAC, routerIP, serverSegment(3000, nil), 1280),
	}
	verdicts := make([]Verdict, len(burst))
	h.core.ProcessBurst(burst, verdicts)
	if verdicts[0] != VerdictForward || verdicts[1] != VerdictForward || dstServer(t, burst[1]) != dstServer(t, burst[0]) {
		t.Fatalf("SYN then frag-needed in one burst: %v %v", verdicts[0], verdicts[1])
	}
	h.checkBalance()
}
