package fastpath

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/limits"
)

var (
	gwIP6     = netip.MustParseAddr("fd00::1")
	vip6      = netip.MustParseAddr("fd00::100")
	client6   = netip.MustParseAddr("2001:db8::10")
	server6IP = map[ServerID]netip.Addr{51: netip.MustParseAddr("fd00::51"), 52: netip.MustParseAddr("fd00::52"),
		53: netip.MustParseAddr("fd00::53")}
)

// ipv6Config is testConfig plus IPv6 services on vip6: TCP/80 over servers
// 51 (weight 2) and 52 (weight 1), UDP/53 on server 53; vip6 answers ping.
func ipv6Config() *Config {
	cfg := testConfig()
	cfg.GatewayIP6 = gwIP6
	cfg.EchoVIPs = []netip.Addr{vip6}
	cfg.Services = append(cfg.Services,
		ServiceConfig{ID: 5, VIP: vip6, Proto: ProtoTCP, Port: 80, Servers: []ServerConfig{
			{ID: 51, IP: server6IP[51], MAC: serverMAC(51), Weight: 2},
			{ID: 52, IP: server6IP[52], MAC: serverMAC(52), Weight: 1},
		}},
		ServiceConfig{ID: 6, VIP: vip6, Proto: ProtoUDP, Port: 53, Servers: []ServerConfig{
			{ID: 53, IP: server6IP[53], MAC: serverMAC(53), Weight: 1},
		}})
	return cfg
}

func tcp6Flow(srcPort uint16) pktbuild.Flow {
	return pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6, SrcPort: srcPort, DstPort: 80}
}

// IPv6 connections are split by weight and stick to their server; the
// frame leaves with only its MACs changed, as IPv4's do.
func TestIPv6Flows(t *testing.T) {
	h := newHarness(t, ipv6Config(), 64)
	perServer := map[ServerID]int{}
	for port := uint16(1000); port < 1030; port++ {
		syn := pktbuild.TCP(tcp6Flow(port), pktbuild.SYN, 1, 0, nil)
		orig := bytes.Clone(syn)
		if v := h.send(syn); v != VerdictForward {
			t.Fatalf("SYN %d: %v", port, v)
		}
		srv := dstServer(t, syn)
		perServer[srv]++
		if !bytes.Equal(syn[header.EthernetTypeOffset:], orig[header.EthernetTypeOffset:]) || !bytes.Equal(header.Ethernet(syn).Source(), gwMAC[:]) {
			t.Fatal("the frame changed beyond its MACs")
		}
		for _, flags := range []uint8{pktbuild.ACK, pktbuild.ACK | pktbuild.PSH, pktbuild.FIN | pktbuild.ACK} {
			p := pktbuild.TCP(tcp6Flow(port), flags, 2, 1, []byte("x"))
			if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
				t.Fatalf("connection %d changed servers or was dropped: %v", port, v)
			}
		}
	}
	if perServer[51] != 20 || perServer[52] != 10 {
		t.Fatalf("connections per server %v, want 20 and 10 (weights 2:1)", perServer)
	}
	// A segment of a connection never seen, UDP, and a port no service has.
	if v := h.send(pktbuild.TCP(tcp6Flow(5000), pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("IPv6 segment without an entry: %v", v)
	}
	u := pktbuild.UDP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6, SrcPort: 7, DstPort: 53}, []byte("q"))
	if v := h.send(u); v != VerdictForward || dstServer(t, u) != 53 {
		t.Fatalf("IPv6 UDP: %v", v)
	}
	f := tcp6Flow(1)
	f.DstPort = 81
	if v := h.send(pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropNotForCluster) {
		t.Fatalf("IPv6 SYN to a port without a service: %v", v)
	}
	// The IPv4 services beside them are untouched.
	if v := h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
		t.Fatalf("IPv4 SYN: %v", v)
	}
}

// Two IPv6 flows whose keys are equal (their addresses folded alike) are
// still two entries: the table compares the full addresses too, and they
// move with their entries when a deletion shifts the probe run back.
func TestIPv6FoldedKeysDoNotCollide(t *testing.T) {
	table, err := NewTable(make([]Entry, 8), 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := table.EnableIPv6(make([]Addrs6, 7)); err == nil {
		t.Fatal("an address array shorter than the table was accepted")
	}
	if err := table.EnableIPv6(make([]Addrs6, 8)); err != nil {
		t.Fatal(err)
	}
	key := FlowKey{SrcIP: 1, DstIP: 2, SrcPort: 3, DstPort: 4, Proto: ProtoTCP, IPv6: true}
	a := Addrs6{Src: client6.As16(), Dst: vip6.As16()}
	b := Addrs6{Src: gwIP6.As16(), Dst: vip6.As16()}
	c := Addrs6{Src: server6IP[51].As16(), Dst: vip6.As16()}
	home := table.home(table.hash(key))
	for _, addrs := range []*Addrs6{&a, &b, &c} {
		found, free := table.find6(key, addrs, home)
		if found >= 0 {
			t.Fatalf("a flow with other addresses but the same key found entry %d", found)
		}
		if e := table.insertAt6(free, key, addrs); e == nil || table.Addrs6(e) != *addrs {
			t.Fatal("an entry does not keep its own addresses")
		}
	}
	slotA, _ := table.find6(key, &a, home)
	table.deleteAt(slotA)
	for _, addrs := range []*Addrs6{&b, &c} {
		if found, _ := table.find6(key, addrs, home); found < 0 || table.Addrs6(&table.slots[found]) != *addrs {
			t.Fatal("deleting one entry lost another, or its addresses")
		}
	}
	if found, _ := table.find6(key, &a, home); found >= 0 {
		t.Fatal("the deleted entry is still found")
	}
}

// A Neighbor Solicitation for an IPv6 VIP or the gateway's IPv6 address is
// answered in place with a solicited, override advertisement carrying the
// gateway's MAC; others are not.
func TestNeighborSolicitationAnswered(t *testing.T) {
	h := newHarness(t, ipv6Config(), 16)
	for _, target := range []netip.Addr{vip6, gwIP6} {
		ns := pktbuild.NeighborSolicitation(clientMA, client6, target)
		v, out := h.sendBurst(ns)
		if v != VerdictReply {
			t.Fatalf("NS for %v: %v", target, v)
		}
		want := pktbuild.NeighborAdvertisement(gwMAC, clientMA, target, client6)
		if !bytes.Equal(out, want) {
			t.Fatalf("NA for %v\n got %x\nwant %x", target, out, want)
		}
	}
	for name, tc := range map[string]struct {
		frame []byte
		want  Verdict
	}{
		"another address":     {pktbuild.NeighborSolicitation(clientMA, client6, netip.MustParseAddr("fd00::99")), DropVerdict(DropNDPIgnored)},
		"address detection":   {pktbuild.NeighborSolicitation(clientMA, netip.IPv6Unspecified(), vip6), DropVerdict(DropNDPIgnored)},
		"hop limit below 255": {hopLimit(pktbuild.NeighborSolicitation(clientMA, client6, vip6), 64), DropVerdict(DropMalformedNDP)},
	} {
		if v := h.send(tc.frame); v != tc.want {
			t.Errorf("%s: %v, want %v", name, v, tc.want)
		}
	}
	// A backup answers for its own address only.
	h.core.SetMode(ModeStandby)
	if v := h.send(pktbuild.NeighborSolicitation(clientMA, client6, vip6)); v != DropVerdict(DropStandby) {
		t.Fatalf("standby, NS for the VIP: %v", v)
	}
	if v := h.send(pktbuild.NeighborSolicitation(clientMA, client6, gwIP6)); v != VerdictReply {
		t.Fatalf("standby, NS for the gateway's address: %v", v)
	}
}

// hopLimit sets an IPv6 frame's hop limit (the checksum does not cover it).
func hopLimit(p []byte, h uint8) []byte {
	header.IPv6(p[header.EthernetHeaderLen:]).SetHopLimit(h)
	return p
}

// An IPv6 server given without a MAC is solicited from the gateway's IPv6
// address until it advertises; its connections then go to the MAC it
// advertised.
func TestIPv6ServerResolvedByNDP(t *testing.T) {
	cfg := ipv6Config()
	cfg.Neighbors = NewNeighbors(8)
	cfg.Services[2].Servers = []ServerConfig{{ID: 51, IP: server6IP[51], Weight: 1}}
	h := newHarness(t, cfg, 16)
	frames := [][]byte{make([]byte, NeighborRequestLen), make([]byte, NeighborRequestLen)}
	if n := h.core.Snapshot().WriteNeighborRequests(frames, h.clock.Now()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if want := pktbuild.NeighborSolicitation(gwMAC, gwIP6, server6IP[51]); !bytes.Equal(frames[0], want) {
		t.Fatalf("NS\n got %x\nwant %x", frames[0], want)
	}
	if v := h.send(pktbuild.TCP(tcp6Flow(1), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropServerUnresolved) {
		t.Fatalf("SYN before the server advertised: %v", v)
	}
	na := pktbuild.NeighborAdvertisement(serverMAC(51), gwMAC, server6IP[51], gwIP6)
	if v := h.send(na); v != VerdictConsumed {
		t.Fatalf("the server's NA: %v", v)
	}
	if !cfg.Neighbors.ResolvedIPs(h.clock.Now())[server6IP[51]] {
		t.Fatal("the server is not resolved after its advertisement")
	}
	cfg.Services[2].Servers[0].Resolved = true
	snap, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snap)
	syn := pktbuild.TCP(tcp6Flow(2), pktbuild.SYN, 1, 0, nil)
	if v := h.send(syn); v != VerdictForward || dstServer(t, syn) != 51 {
		t.Fatalf("SYN after the advertisement: %v", v)
	}
}

// Malformed and unsupported IPv6 packets are dropped, each under its reason.
func TestIPv6DropReasons(t *testing.T) {
	h := newHarness(t, ipv6Config(), 16)
	syn := func() []byte { return pktbuild.TCP(tcp6Flow(9), pktbuild.SYN, 1, 0, nil) }
	ip := func(p []byte) header.IPv6 { return header.IPv6(p[header.EthernetHeaderLen:]) }
	for name, tc := range map[string]struct {
		frame []byte
		want  DropReason
	}{
		"truncated":      {syn()[:header.EthernetHeaderLen+30], DropIPv6Truncated},
		"version 4":      {func() []byte { p := syn(); p[header.EthernetHeaderLen] = 0x45; return p }(), DropIPv6BadVersion},
		"payload length": {func() []byte { p := syn(); ip(p).SetPayloadLength(1000); return p }(), DropIPv6BadLength},
		"hop-by-hop":     {func() []byte { p := syn(); ip(p).SetNextHeader(0); return p }(), DropIPv6Extension},
		"fragment":       {func() []byte { p := syn(); ip(p).SetNextHeader(44); return p }(), DropIPv6Extension},
		"another MAC": {func() []byte {
			f := tcp6Flow(9)
			f.DstMAC = pktbuild.MAC{2, 9, 9, 9, 9, 9}
			return pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)
		}(), DropNotOurMAC},
		"multicast TCP": {func() []byte {
			f := tcp6Flow(9)
			f.DstMAC = pktbuild.MAC{0x33, 0x33, 0, 0, 0, 1}
			return pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)
		}(), DropNotOurMAC},
	} {
		if v := h.send(tc.frame); v != DropVerdict(tc.want) {
			t.Errorf("%s: %v, want %v", name, v, tc.want)
		}
	}
}

// A ping to an IPv6 VIP that answers is echoed from the VIP; an ICMPv6
// error about a packet a server sent from the VIP goes to that server.
func TestIPv6EchoAndErrors(t *testing.T) {
	h := newHarness(t, ipv6Config(), 16)
	f := pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6}
	ping := pktbuild.ICMPv6(f, 64, header.ICMPv6EchoRequest, 0, [4]byte{0, 1, 0, 2}, []byte("ping"))
	v, out := h.sendBurst(ping)
	back := pktbuild.Flow{SrcMAC: gwMAC, DstMAC: clientMA, SrcIP: vip6, DstIP: client6}
	if want := pktbuild.ICMPv6(back, 64, header.ICMPv6EchoReply, 0, [4]byte{0, 1, 0, 2}, []byte("ping")); v != VerdictReply || !bytes.Equal(out, want) {
		t.Fatalf("echo: %v\n got %x\nwant %x", v, out, want)
	}
	syn := pktbuild.TCP(tcp6Flow(4000), pktbuild.SYN, 1, 0, nil)
	h.send(syn)
	srv := dstServer(t, syn)
	reply := pktbuild.Flow{SrcMAC: serverMAC(srv), DstMAC: clientMA, SrcIP: vip6, DstIP: client6, SrcPort: 80, DstPort: 4000}
	router := netip.MustParseAddr("2001:db8::1")
	tooBig := pktbuild.PacketTooBig(routerMAC, gwMAC, router, pktbuild.TCP(reply, pktbuild.ACK, 1, 2, make([]byte, 1400))[header.EthernetHeaderLen:], 1280)
	if v := h.send(tooBig); v != VerdictForward || dstServer(t, tooBig) != srv {
		t.Fatalf("packet too big: %v", v)
	}
	other := pktbuild.Flow{SrcMAC: serverMAC(srv), DstMAC: clientMA, SrcIP: vip6, DstIP: client6, SrcPort: 80, DstPort: 4001}
	if v := h.send(pktbuild.PacketTooBig(routerMAC, gwMAC, router, pktbuild.TCP(other, pktbuild.ACK, 1, 2, nil)[header.EthernetHeaderLen:], 1280)); v != DropVerdict(DropICMPNoFlow) {
		t.Fatalf("packet too big about no connection: %v", v)
	}
}

// IPv6 entries expire like IPv4 ones: a table of two takes connection
// after connection.
func TestIPv6EntriesExpire(t *testing.T) {
	cfg := ipv6Config()
	cfg.Services[2].StaleTimeout = time.Second
	h := newHarness(t, cfg, 2)
	for port := uint16(1); port <= 20; port++ {
		if v := h.send(pktbuild.TCP(tcp6Flow(port), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
			t.Fatalf("connection %d: %v (table %d of %d)", port, v, h.core.table.Len(), h.core.table.Capacity())
		}
		h.send(pktbuild.TCP(tcp6Flow(port), pktbuild.RST, 2, 0, nil))
		h.clock.Advance(limits.DefaultResetTimeout + time.Second)
		h.core.reapSlots(h.clock.Now(), len(h.core.table.slots))
	}
}

// Rebuilt IPv6 entries are installed under their full addresses.
func TestIPv6Install(t *testing.T) {
	h := newHarness(t, ipv6Config(), 16)
	e := InstallEntry{Key: FlowKey{SrcPort: 1234, DstPort: 80, Proto: ProtoTCP, IPv6: true},
		Addrs: Addrs6{Src: client6.As16(), Dst: vip6.As16()}, Service: 5, Server: 52, State: StateActive}
	if r := h.core.Install([]InstallEntry{e, e}); r.Installed != 1 || r.Existing != 1 {
		t.Fatalf("install: %+v", r)
	}
	p := pktbuild.TCP(tcp6Flow(1234), pktbuild.ACK, 2, 1, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != 52 {
		t.Fatalf("a segment of the installed connection: %v", v)
	}
}
