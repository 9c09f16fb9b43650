package fastpath

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// syn sends a SYN for srcPort and returns the server it went to.
func (h *harness) syn(srcPort uint16) ServerID {
	h.t.Helper()
	p := pktbuild.TCP(tcpFlow(srcPort), pktbuild.SYN, 1, 0, nil)
	if v := h.send(p); v != VerdictForward {
		h.t.Fatalf("SYN: verdict %v", v)
	}
	return dstServer(h.t, p)
}

// open establishes a connection from srcPort: the client's SYN, then its ACK
// of the server's SYN+ACK (which takes the direct way back). It returns the
// server both went to.
func (h *harness) open(srcPort uint16) ServerID {
	h.t.Helper()
	srv := h.syn(srcPort)
	p := pktbuild.TCP(tcpFlow(srcPort), pktbuild.ACK, 2, 1, nil)
	if v := h.send(p); v != VerdictForward || dstServer(h.t, p) != srv {
		h.t.Fatalf("handshake ACK: verdict %v", v)
	}
	return srv
}

func (h *harness) entry(srcPort uint16) *Entry { return h.core.table.Lookup(tcpKey(srcPort)) }

// Fig. 7B: no entry, SYN → pick a server, insert an embryonic entry,
// forward; the client's ACK of the handshake makes it ACTIVE.
func TestMissSYNInsertsEmbryonicEntry(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.clock.Advance(time.Second)
	srv := h.syn(1000)
	e := h.entry(1000)
	if e == nil || e.State != StateSYN || e.Server != srv || e.LastSeen != int64(time.Second) {
		t.Fatalf("entry = %+v, want SYN to server %d at 1s", e, srv)
	}
	if c := h.core.Servers[srv]; c.New != 1 || c.Active != 1 || c.Packets != 1 {
		t.Fatalf("server counters %+v", c)
	}
	h.clock.Advance(time.Second)
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("handshake ACK: %v", v)
	}
	if e := h.entry(1000); e.State != StateActive || e.LastSeen != int64(2*time.Second) {
		t.Fatalf("after the ACK: %+v, want ACTIVE at 2s", e)
	}
	if c := h.core.Servers[srv]; c.New != 1 || c.Active != 1 || c.FIN != 0 {
		t.Fatalf("server counters after the ACK %+v", c)
	}
}

// Fig. 7B: no entry, not SYN → dropped, counted, never given a server.
func TestMissNonSYNDropped(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	for _, flags := range []uint8{pktbuild.ACK, pktbuild.ACK | pktbuild.PSH, pktbuild.FIN | pktbuild.ACK, pktbuild.RST} {
		p := pktbuild.TCP(tcpFlow(1000), flags, 1, 1, []byte("data"))
		orig := bytes.Clone(p)
		if v := h.send(p); v != DropVerdict(DropNonSYNMiss) {
			t.Fatalf("flags %#x: verdict %v", flags, v)
		}
		if !bytes.Equal(p, orig) {
			t.Fatalf("dropped frame was modified")
		}
	}
	if h.core.table.Len() != 0 || h.core.Counters.Drops[DropNonSYNMiss] != 4 {
		t.Fatalf("table %d entries, non-SYN drops %d", h.core.table.Len(), h.core.Counters.Drops[DropNonSYNMiss])
	}
	for id := range 5 {
		if h.core.Servers[id].New != 0 {
			t.Fatalf("server %d was given a connection", id)
		}
	}
}

// Fig. 7A: entry exists, plain packet → forwarded to its server, time refreshed.
func TestHitForwardsToEntryServerAndRefreshes(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	h.open(1001) // moves the WRR on; the first flow must stay put
	h.clock.Advance(5 * time.Second)
	for range 10 {
		p := pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, []byte("payload"))
		if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
			t.Fatalf("verdict %v to %d, want forward to %d", v, dstServer(t, p), srv)
		}
	}
	if e := h.entry(1000); e.LastSeen != int64(5*time.Second) || e.State != StateActive {
		t.Fatalf("entry %+v", e)
	}
}

// Fig. 7A: FIN marks the entry FIN; packets keep flowing to the same server.
func TestHitFINMarksFIN(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	if e := h.entry(1000); e.State != StateFIN {
		t.Fatalf("state %v", e.State)
	}
	if c := h.core.Servers[srv]; c.Active != 0 || c.FIN != 1 {
		t.Fatalf("counters %+v", c)
	}
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 3, 2, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("packet after FIN: %v", v)
	}
	if e := h.entry(1000); e.State != StateFIN {
		t.Fatalf("a plain ACK changed the FIN state to %v", e.State)
	}
}

// Fig. 7A: SYN on an existing entry marks it ACTIVE again, same server.
func TestHitSYNOnFINEntryIsANewConnection(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	first := h.open(1000)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	// The round robin's next pick for weights 3:2 after server 1 is 1 again,
	// then 2: open another connection so the reuse lands on a known pick.
	h.open(2000)
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 100, 0, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != 2 {
		t.Fatalf("SYN on a FIN entry: %v to %d, want the round robin's next server 2", v, dstServer(t, p))
	}
	if e := h.entry(1000); e.State != StateSYN || e.Server != 2 {
		t.Fatalf("entry %+v", e)
	}
	c := h.core
	if c.Counters.ReusedFIN != 1 || c.Servers[first].Completed != 1 || c.Servers[first].FIN != 0 ||
		c.Servers[1].New+c.Servers[2].New != 3 || c.Servers[2].New != 1 {
		t.Fatalf("counters: reused %d, server 1 %+v, server 2 %+v (every connection counted as new)", c.Counters.ReusedFIN, c.Servers[1], c.Servers[2])
	}
}

// Fig. 7A: a retransmitted SYN on an ACTIVE entry keeps it where it is.
func TestHitSYNOnActiveEntryKeepsServer(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("retransmitted SYN: %v", v)
	}
	if h.core.table.Len() != 1 || h.core.Servers[srv].Active != 1 {
		t.Fatal("retransmitted SYN created a second connection")
	}
}

func TestNoServerWhenAllWeightsZero(t *testing.T) {
	cfg := testConfig()
	cfg.Services[0].Servers[0].Weight = 0
	cfg.Services[0].Servers[1].Weight = 0
	h := newHarness(t, cfg, 16)
	if v := h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropNoServer) {
		t.Fatalf("verdict %v", v)
	}
	if h.core.table.Len() != 0 {
		t.Fatal("entry inserted without a server")
	}
}

func TestDirectServerReturnRewritesOnlyMACs(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, []byte("hello"))
	orig := bytes.Clone(p)
	if v := h.send(p); v != VerdictForward {
		t.Fatalf("verdict %v", v)
	}
	srv := dstServer(t, p)
	want := serverMAC(srv)
	eth := header.Ethernet(p)
	if !bytes.Equal(eth.Destination(), want[:]) || !bytes.Equal(eth.Source(), gwMAC[:]) {
		t.Fatalf("MACs %x %x", eth.Destination(), eth.Source())
	}
	if !bytes.Equal(p[header.EthernetTypeOffset:], orig[header.EthernetTypeOffset:]) {
		t.Fatal("bytes after the MAC addresses changed")
	}
}

func TestUDPEntryPerFlowSticksAndExpires(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	first := make(map[uint16]ServerID)
	for port := uint16(2000); port < 2010; port++ {
		p := pktbuild.UDP(udpFlow(port), []byte("q"))
		if v := h.send(p); v != VerdictForward {
			t.Fatalf("verdict %v", v)
		}
		first[port] = dstServer(t, p)
	}
	if h.core.Servers[3].New != 5 || h.core.Servers[4].New != 5 {
		t.Fatalf("1:1 split broken: %d / %d", h.core.Servers[3].New, h.core.Servers[4].New)
	}
	h.clock.Advance(20 * time.Second)
	for port, srv := range first {
		p := pktbuild.UDP(udpFlow(port), []byte("q2"))
		if h.send(p); dstServer(t, p) != srv {
			t.Fatalf("flow %d moved from %d to %d", port, srv, dstServer(t, p))
		}
	}
	// 30 s stale timeout after the last datagram: 29 s keeps, 31 s expires.
	h.clock.Advance(29 * time.Second)
	if reapAll(h); h.core.table.Len() != 10 {
		t.Fatalf("entries expired early: %d left", h.core.table.Len())
	}
	h.clock.Advance(2 * time.Second)
	reapAll(h)
	if h.core.table.Len() != 0 || h.core.Counters.ExpiredStale != 10 {
		t.Fatalf("after stale timeout: %d entries, %d expired", h.core.table.Len(), h.core.Counters.ExpiredStale)
	}
	if c := h.core.Servers[3]; c.Active != 0 || c.Completed != 5 {
		t.Fatalf("server counters %+v", c)
	}
}

// reapAll lets the reaper visit every slot once at the current time.
func reapAll(h *harness) {
	for h.core.reapSlots(h.clock.Now(), len(h.core.table.slots)) > 0 {
	}
}

// expiresAfter advances the clock by timeout and reaps: the entry of
// srcPort is still there, in state, at exactly its timeout, and gone a
// millisecond later.
func (h *harness) expiresAfter(srcPort uint16, state ConnState, timeout time.Duration) {
	h.t.Helper()
	h.clock.Advance(timeout)
	reapAll(h)
	if e := h.entry(srcPort); e == nil || e.State != state {
		h.t.Fatalf("entry of port %d at its timeout %v: %+v, want state %v", srcPort, timeout, e, state)
	}
	h.clock.Advance(time.Millisecond)
	reapAll(h)
	if h.entry(srcPort) != nil {
		h.t.Fatalf("entry of port %d (state %v) not removed after its timeout %v", srcPort, state, timeout)
	}
}

func TestFINTimeout(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	h.clock.Advance(10 * time.Second) // exactly the FIN timeout: not yet
	reapAll(h)
	if h.entry(1000) == nil {
		t.Fatal("FIN entry removed at the timeout, not after it")
	}
	h.clock.Advance(time.Nanosecond)
	reapAll(h)
	if h.entry(1000) != nil || h.core.Counters.ExpiredFIN != 1 {
		t.Fatal("FIN entry not removed after the FIN timeout")
	}
	if c := h.core.Servers[srv]; c.FIN != 0 || c.Completed != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestStaleTimeout(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.open(1000)
	h.clock.Advance(59 * time.Second)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, nil)) // refreshes
	h.clock.Advance(59 * time.Second)
	reapAll(h)
	if h.entry(1000) == nil {
		t.Fatal("refreshed entry expired")
	}
	h.clock.Advance(2 * time.Second)
	reapAll(h)
	if h.entry(1000) != nil || h.core.Counters.ExpiredStale != 1 {
		t.Fatal("idle ACTIVE entry survived the stale timeout")
	}
}

// An expired entry the reaper has not reached yet is treated as gone: a
// late non-SYN is dropped, not sent to the old server.
func TestExpiredEntryNotYetReapedIsAMiss(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.open(1000)
	h.clock.Advance(61 * time.Second)
	if v := h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("verdict %v", v)
	}
	if h.core.table.Len() != 0 || h.core.Counters.ExpiredStale != 1 {
		t.Fatal("expired entry not removed on lookup")
	}
}

// A SYN reusing the tuple of a FIN entry before the FIN timer runs out
// re-activates the entry on the same server (Fig. 7A), and after the timer
// runs out gets a fresh pick.
func TestSYNOnFINEntryBeforeTimeoutStartsAfresh(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.open(1000)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	h.clock.Advance(9 * time.Second)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 500, 0, nil))
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 501, 1, nil))
	h.clock.Advance(30 * time.Second) // a new ACTIVE entry: the stale timer (60 s) rules now
	reapAll(h)
	if e := h.entry(1000); e == nil || e.State != StateActive || e.LastSeen != int64(9*time.Second) {
		t.Fatalf("the new connection's entry %+v", e)
	}
}

func TestTableFullEvictsOldestFINNeverActive(t *testing.T) {
	h := newHarness(t, testConfig(), 4) // 8 slots, capacity 4: all in one eviction window
	for port := uint16(1); port <= 4; port++ {
		h.clock.Advance(time.Second)
		h.open(port)
	}
	// No FIN entry yet: a new SYN is dropped, the ACTIVE entries stay.
	if v := h.send(pktbuild.TCP(tcpFlow(99), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropTableFull) {
		t.Fatalf("verdict %v", v)
	}
	for port := uint16(1); port <= 4; port++ {
		if h.entry(port) == nil {
			t.Fatalf("ACTIVE entry %d thrown out for a SYN", port)
		}
	}
	// Ports 3 then 2 send FIN: 3 is the older FIN, so it goes first.
	h.clock.Advance(time.Second)
	h.send(pktbuild.TCP(tcpFlow(3), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	h.clock.Advance(time.Second)
	h.send(pktbuild.TCP(tcpFlow(2), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	if v := h.send(pktbuild.TCP(tcpFlow(100), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
		t.Fatalf("SYN with a FIN entry to evict: %v", v)
	}
	if h.entry(3) != nil || h.entry(2) == nil || h.entry(100) == nil {
		t.Fatal("wrong entry evicted")
	}
	if h.core.Counters.EvictedFIN != 1 || h.core.Counters.Drops[DropTableFull] != 1 {
		t.Fatalf("evicted %d, table-full drops %d", h.core.Counters.EvictedFIN, h.core.Counters.Drops[DropTableFull])
	}
}

func TestARPRepliesForVIPAndGateway(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	for _, target := range []struct {
		ip   string
		want Verdict
	}{{"10.0.0.100", VerdictReply}, {"10.0.0.1", VerdictReply}, {"10.0.0.11", DropVerdict(DropARPIgnored)}} {
		p := pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, mustAddr(target.ip), [6]byte{})
		if v := h.send(p); v != target.want {
			t.Fatalf("ARP for %s: %v, want %v", target.ip, v, target.want)
		}
		if target.want != VerdictReply {
			continue
		}
		want := pktbuild.ARP(2, clientMA, gwMAC, mustAddr(target.ip), client, clientMA)
		if !bytes.Equal(p, want) {
			t.Fatalf("ARP reply for %s:\n got %x\nwant %x", target.ip, p, want)
		}
	}
	// Gratuitous ARP and ARP replies need no answer.
	if v := h.send(pktbuild.ARP(1, pktbuild.Broadcast, clientMA, vip, vip, [6]byte{})); v != DropVerdict(DropARPIgnored) {
		t.Fatalf("gratuitous ARP: %v", v)
	}
	if v := h.send(pktbuild.ARP(2, gwMAC, clientMA, client, vip, gwMAC)); v != DropVerdict(DropARPIgnored) {
		t.Fatalf("ARP reply: %v", v)
	}
}

func TestDropReasons(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	syn := func(mut func(f *pktbuild.Flow)) []byte {
		f := tcpFlow(1000)
		mut(&f)
		return pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)
	}
	good := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, []byte("0123456789"))
	edit := func(mut func(p []byte) []byte) []byte { return mut(bytes.Clone(good)) }
	eth := func(p []byte) header.Ethernet { return header.Ethernet(p) }
	ip := func(p []byte) header.IPv4 { return header.IPv4(p[header.UntaggedIPv4Offset:]) }
	tcp := func(p []byte) header.TCP { return header.TCP(p[header.UntaggedL4Offset:]) }
	cases := []struct {
		name string
		p    []byte
		want DropReason
	}{
		{"other MAC", syn(func(f *pktbuild.Flow) { f.DstMAC = [6]byte{2, 9, 9, 9, 9, 9} }), DropNotOurMAC},
		{"IPv4 to broadcast MAC", syn(func(f *pktbuild.Flow) { f.DstMAC = pktbuild.Broadcast }), DropNotOurMAC},
		{"unknown VIP", syn(func(f *pktbuild.Flow) { f.DstIP = vip2 }), DropNotForCluster},
		{"unknown port", syn(func(f *pktbuild.Flow) { f.DstPort = 81 }), DropNotForCluster},
		{"UDP to a TCP service", pktbuild.UDP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip, SrcPort: 1, DstPort: 80}, nil), DropNotForCluster},
		{"ICMP error too short to quote a datagram", edit(func(p []byte) []byte { ip(p).SetProtocol(ProtoICMP); return p }), DropICMPMalformed},
		{"IPv6 EtherType, IPv4 inside", edit(func(p []byte) []byte { eth(p).SetType(0x86dd); return p }), DropIPv6BadVersion},
		{"IPX", edit(func(p []byte) []byte { eth(p).SetType(0x8137); return p }), DropUnsupportedL3},
		{"short frame", good[:header.EthernetHeaderLen-1], DropMalformedEthernet},
		{"truncated VLAN tag", edit(func(p []byte) []byte { eth(p).SetType(header.EtherTypeVLAN); return p[:header.VLANTaggedHeaderLen-2] }), DropVLANTagged},
		{"802.1Q-tagged SYN", syn(func(f *pktbuild.Flow) { f.VLAN = 7 }), DropVLANTagged},
		{"802.1ad (QinQ) outer tag", edit(func(p []byte) []byte { eth(p).SetType(header.EtherTypeQinQ); return p }), DropVLANTagged},
		{"tagged ARP request for the VIP", func() []byte {
			a := pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{})
			tagged := append(bytes.Clone(a[:header.EthernetTypeOffset]), 0x81, 0x00, 0x00, 0x07)
			return append(tagged, a[header.EthernetTypeOffset:]...)
		}(), DropVLANTagged},
		{"truncated IPv4", good[:header.UntaggedL4Offset-1], DropIPv4Truncated},
		{"IP version 6 in an IPv4 frame", edit(func(p []byte) []byte { ip(p)[header.IPv4VersionIHLOffset] = 0x65; return p }), DropIPv4BadVersion},
		{"IHL 4", edit(func(p []byte) []byte { ip(p).SetHeaderLen(16); return p }), DropIPv4BadIHL},
		{"IHL past the frame", edit(func(p []byte) []byte { ip(p).SetHeaderLen(60); return p[:header.UntaggedIPv4Offset+40] }), DropIPv4BadIHL},
		{"total length past the frame", edit(func(p []byte) []byte { ip(p).SetTotalLength(1500); return p }), DropIPv4BadTotalLength},
		{"total length below header", edit(func(p []byte) []byte { ip(p).SetTotalLength(19); return p }), DropIPv4BadTotalLength},
		{"fragment (MF)", edit(func(p []byte) []byte { ip(p).SetFlagsFragment(0x2000); return p }), DropIPv4Fragment},
		{"fragment (offset)", edit(func(p []byte) []byte { ip(p).SetFlagsFragment(8); return p }), DropIPv4Fragment},
		{"IP options", edit(func(p []byte) []byte { ip(p).SetHeaderLen(24); return p }), DropIPv4Options},
		{"truncated TCP", edit(func(p []byte) []byte { ip(p).SetTotalLength(20 + 19); return p[:header.UntaggedL4Offset+19] }), DropTCPTruncated},
		{"TCP data offset 4", edit(func(p []byte) []byte { tcp(p).SetDataOffset(16); return p }), DropTCPBadDataOffset},
		{"TCP data offset past segment", edit(func(p []byte) []byte { tcp(p).SetDataOffset(60); return p }), DropTCPBadDataOffset},
		{"truncated UDP", pktbuild.UDP(udpFlow(5), nil)[:header.UntaggedL4Offset+7], DropIPv4BadTotalLength},
		{"UDP length past datagram", func() []byte {
			p := pktbuild.UDP(udpFlow(5), []byte("abc"))
			header.UDP(p[header.UntaggedL4Offset:]).SetLength(200)
			return p
		}(), DropUDPBadLength},
		{"ARP truncated", pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{})[:header.EthernetHeaderLen+header.ARPIPv4Len-1], DropMalformedARP},
	}
	for _, tc := range cases {
		before := h.core.Counters.Drops[tc.want]
		p := bytes.Clone(tc.p)
		if v := h.send(p); v != DropVerdict(tc.want) {
			t.Errorf("%s: verdict %v, want drop:%v", tc.name, v, tc.want)
			continue
		}
		if h.core.Counters.Drops[tc.want] != before+1 {
			t.Errorf("%s: not counted under %v", tc.name, tc.want)
		}
		if !bytes.Equal(p, tc.p) {
			t.Errorf("%s: dropped frame was modified", tc.name)
		}
	}
	if h.core.table.Len() != 0 {
		t.Fatalf("drops created %d entries", h.core.table.Len())
	}
}

func TestTruncatedUDPHeader(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	p := pktbuild.UDP(udpFlow(5), nil)
	header.IPv4(p[header.UntaggedIPv4Offset:]).SetTotalLength(27) // a 7-byte UDP header
	if v := h.send(p[:header.UntaggedIPv4Offset+27]); v != DropVerdict(DropUDPTruncated) {
		t.Fatalf("verdict %v", v)
	}
}

// Frames padded to the Ethernet minimum carry bytes past the IP total length.
func TestEthernetPaddingAccepted(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	p := append(pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, nil), make([]byte, 6)...)
	if v := h.send(p); v != VerdictForward {
		t.Fatalf("padded SYN: %v", v)
	}
}

func TestSnapshotSwapKeepsConnections(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	cfg := testConfig()
	for i := range cfg.Services[0].Servers {
		cfg.Services[0].Servers[i].Weight = 0 // quiesce everything
	}
	snap, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snap)
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("existing connection after quiesce: %v", v)
	}
	if v := h.send(pktbuild.TCP(tcpFlow(1001), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropNoServer) {
		t.Fatalf("new connection after quiesce: %v", v)
	}
}

func TestBurstMixedVerdictsBalance(t *testing.T) {
	h := newHarness(t, testConfig(), 64)
	var pkts [][]byte
	for port := uint16(1); port <= 20; port++ {
		pkts = append(pkts, pktbuild.TCP(tcpFlow(port), pktbuild.SYN, 1, 0, nil))
		pkts = append(pkts, pktbuild.TCP(tcpFlow(port), pktbuild.ACK, 2, 1, []byte("x")))
		pkts = append(pkts, pktbuild.TCP(tcpFlow(port+1000), pktbuild.ACK, 2, 1, nil))
	}
	pkts = append(pkts, pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{}))
	v := make([]Verdict, len(pkts))
	h.core.ProcessBurst(pkts, v)
	h.checkBalance()
	c := h.core.Counters
	if c.TX != 40 || c.Replies != 1 || c.Drops[DropNonSYNMiss] != 20 {
		t.Fatalf("tx %d replies %d non-SYN %d", c.TX, c.Replies, c.Drops[DropNonSYNMiss])
	}
	// Same-burst SYN then data: the data follows the SYN's server.
	for i := 0; i < len(pkts)-1; i += 3 {
		if dstServer(t, pkts[i]) != dstServer(t, pkts[i+1]) {
			t.Fatalf("flow %d split within a burst", i/3)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Reap spreads one sweep of the table over the sweep period: a quarter of
// the period visits a quarter of the slots.
func TestReapPacesBySweepPeriod(t *testing.T) {
	h := newHarness(t, testConfig(), 256) // 512 slots, 1 s sweep
	for port := uint16(1); port <= 200; port++ {
		h.open(port)
	}
	h.clock.Advance(250 * time.Millisecond)
	h.core.Reap()
	if h.core.table.cursor != 128 {
		t.Fatalf("cursor at %d after a quarter sweep, want 128", h.core.table.cursor)
	}
	h.clock.Advance(61 * time.Second) // every entry stale; a long pause is capped at one sweep
	if removed := h.core.Reap(); removed != 200 || h.core.table.Len() != 0 {
		t.Fatalf("removed %d, %d left", removed, h.core.table.Len())
	}
}

// A SYN reusing the ports of a closing connection whose server no longer
// takes new connections is a new connection: it goes to an eligible server,
// not back to the quiesced one.
func TestSYNOnFINEntryOfQuiescedServerPicksAgain(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	old := h.open(1000) // server 1, the first pick
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.FIN|pktbuild.ACK, 2, 1, nil))
	cfg := testConfig()
	cfg.Services[0].Servers[0].Weight = 0 // quiesce server 1
	h.core.SetSnapshot(mustSnapshot(t, cfg))
	if old != 1 {
		t.Fatalf("first connection went to %d, want 1", old)
	}
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 900, 0, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != 2 {
		t.Fatalf("SYN reusing the ports: %v to %d, want server 2", v, dstServer(t, p))
	}
	if e := h.entry(1000); e.Server != 2 || e.State != StateSYN {
		t.Fatalf("entry %+v", e)
	}
	c := h.core
	if c.Counters.ReusedFIN != 1 || c.Servers[1].FIN != 0 || c.Servers[1].Completed != 1 || c.Servers[2].New != 1 {
		t.Fatalf("counters: reused %d, server 1 %+v, server 2 %+v", c.Counters.ReusedFIN, c.Servers[1], c.Servers[2])
	}
}

// A SYN on an ACTIVE entry whose server no longer takes new connections
// (here quiesced; down or draining alike) is scheduled anew: with direct
// server return the server's refusal never passes the gateway, so the
// entry of a refused attempt lives on and a client reusing its ports would
// otherwise be sent back to the server that refused it.
func TestSYNOnActiveEntryOfServerTakingNoNewOnesPicksAgain(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	if srv := h.open(1000); srv != 1 {
		t.Fatalf("first connection went to %d, want 1", srv)
	}
	cfg := testConfig()
	cfg.Services[0].Servers[0].Weight = 0
	h.core.SetSnapshot(mustSnapshot(t, cfg))
	p := pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 900, 0, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != 2 {
		t.Fatalf("SYN on the refused attempt's entry: %v to %d, want server 2", v, dstServer(t, p))
	}
	c := h.core
	if c.Counters.RescheduledSYN != 1 || c.Servers[1].Active != 0 || c.Servers[1].Completed != 1 || c.Servers[2].New != 1 {
		t.Fatalf("counters: rescheduled %d, server 1 %+v, server 2 %+v", c.Counters.RescheduledSYN, c.Servers[1], c.Servers[2])
	}
	// Data on an ACTIVE entry of that server still goes there: only a
	// connection's SYN is moved.
	h.core.Install([]InstallEntry{{Key: tcpKey(2000), Service: 0, Server: 1, State: StateActive}})
	d := pktbuild.TCP(tcpFlow(2000), pktbuild.ACK, 5, 5, []byte("x"))
	if v := h.send(d); v != VerdictForward || dstServer(t, d) != 1 {
		t.Fatalf("data of an open connection to the quiesced server: %v to %d", v, dstServer(t, d))
	}
}
