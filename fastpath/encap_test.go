package fastpath

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

var (
	encapSource = netip.MustParseAddr("10.0.0.1")
	nextHop     = netip.MustParseAddr("10.0.0.254")
	nextHopMAC  = [6]byte{0x02, 0, 0, 0, 0, 0xfe}
	// Servers behind the next hop, on another subnet.
	routedServer = map[ServerID]netip.Addr{
		21: netip.MustParseAddr("10.1.0.21"), 22: netip.MustParseAddr("10.1.0.22"),
		31: netip.MustParseAddr("10.1.0.31"), 32: netip.MustParseAddr("10.1.0.32"),
	}
)

// encapConfig is testConfig plus an IPIP service (VIP tcp/8080, servers
// 21 w2 and 22 w1) and a GUE service on port 7000 (VIP tcp/8081, servers 31
// and 32), whose servers have static MACs (on the link: no next hop).
func encapConfig() *Config {
	cfg := testConfig()
	cfg.Encap = Encapsulation{Source: encapSource}
	cfg.Services = append(cfg.Services,
		ServiceConfig{ID: 2, VIP: vip, Proto: ProtoTCP, Port: 8080, Forwarding: ForwardIPIP, Servers: []ServerConfig{
			{ID: 21, IP: routedServer[21], MAC: serverMAC(21), Weight: 2},
			{ID: 22, IP: routedServer[22], MAC: serverMAC(22), Weight: 1},
		}},
		ServiceConfig{ID: 3, VIP: vip, Proto: ProtoTCP, Port: 8081, Forwarding: ForwardGUE, GUEPort: 7000, Servers: []ServerConfig{
			{ID: 31, IP: routedServer[31], MAC: serverMAC(31), Weight: 1},
			{ID: 32, IP: routedServer[32], MAC: serverMAC(32), Weight: 1},
		}})
	return cfg
}

// inHeadroom returns a copy of frame with EncapHeadroom bytes of buffer
// before it, as a DPDK mbuf has.
func inHeadroom(frame []byte) []byte {
	buf := make([]byte, EncapHeadroom+len(frame))
	copy(buf[EncapHeadroom:], frame)
	return buf[EncapHeadroom:]
}

// sendBurst processes one frame and returns its verdict and the frame as
// the burst holds it afterwards.
func (h *harness) sendBurst(p []byte) (Verdict, []byte) {
	burst, v := [][]byte{p}, make([]Verdict, 1)
	h.core.ProcessBurst(burst, v)
	h.checkBalance()
	return v[0], burst[0]
}

func flowTo(port uint16, srcPort uint16) pktbuild.Flow {
	f := tcpFlow(srcPort)
	f.DstPort = port
	return f
}

// checkOuter checks the outer Ethernet and IPv4 headers of an
// encapsulated frame out and that the client's packet follows them
// unchanged, and returns the server the outer header addresses.
func checkOuter(t *testing.T, out, in []byte, extra int, proto uint8, wantMAC [6]byte) netip.Addr {
	t.Helper()
	inner := in[header.EthernetHeaderLen:]
	if len(out) != header.EthernetHeaderLen+extra+header.IPv4(inner).TotalLength() {
		t.Fatalf("encapsulated frame is %d bytes, want %d", len(out), header.EthernetHeaderLen+extra+header.IPv4(inner).TotalLength())
	}
	eth := header.Ethernet(out)
	if !bytes.Equal(eth.Destination(), wantMAC[:]) || !bytes.Equal(eth.Source(), gwMAC[:]) || eth.Type() != header.EtherTypeIPv4 {
		t.Fatalf("outer Ethernet %x → %x type %#x", eth.Source(), eth.Destination(), eth.Type())
	}
	outer := header.IPv4(out[header.EthernetHeaderLen:])
	if pr := outer.Check(); pr != header.OK {
		t.Fatalf("outer IPv4: %v", pr)
	}
	if header.IPv4HeaderChecksum(outer) != 0 {
		t.Fatal("outer IPv4 checksum is wrong")
	}
	if outer.Protocol() != proto || outer.SourceAddr() != encapSource || outer.TotalLength() != extra+header.IPv4(inner).TotalLength() {
		t.Fatalf("outer IPv4: protocol %d from %v, length %d", outer.Protocol(), outer.SourceAddr(), outer.TotalLength())
	}
	if outer[header.IPv4TOSOffset] != inner[header.IPv4TOSOffset] ||
		binary.BigEndian.Uint16(outer[header.IPv4FlagsFragOffset:]) != header.DontFragment {
		t.Fatal("outer IPv4 does not carry the inner packet's TOS and DF")
	}
	if !bytes.Equal(out[header.EthernetHeaderLen+extra:], inner[:header.IPv4(inner).TotalLength()]) {
		t.Fatal("the client's packet changed inside the encapsulation")
	}
	return outer.DestinationAddr()
}

// An IPIP service's packets go to its servers in an outer IPv4 header
// (protocol 4) from the encapsulation source, split by weight, every packet
// of a connection to the same server; the DSR services beside it are
// unchanged.
func TestIPIPEncapsulation(t *testing.T) {
	h := newHarness(t, encapConfig(), 64)
	h.core.SetHeadroom(EncapHeadroom)
	perServer := map[netip.Addr]int{}
	for port := uint16(1000); port < 1030; port++ {
		syn := pktbuild.TCP(flowTo(8080, port), pktbuild.SYN, 1, 0, nil)
		v, out := h.sendBurst(inHeadroom(syn))
		if v != VerdictForward {
			t.Fatalf("SYN %d: %v", port, v)
		}
		dst := checkOuter(t, out, syn, IPIPOverhead, header.IPIPProtocolNumber, serverMAC(h.entry8080(port).Server))
		perServer[dst]++
		data := pktbuild.TCP(flowTo(8080, port), pktbuild.ACK|pktbuild.PSH, 2, 1, make([]byte, 1000))
		if _, out2 := h.sendBurst(inHeadroom(data)); checkOuter(t, out2, data, IPIPOverhead, header.IPIPProtocolNumber, serverMAC(h.entry8080(port).Server)) != dst {
			t.Fatalf("connection %d changed servers", port)
		}
	}
	if perServer[routedServer[21]] != 20 || perServer[routedServer[22]] != 10 {
		t.Fatalf("connections per server %v, want 20 and 10 (weights 2:1)", perServer)
	}
	// The DSR service on the same VIP still rewrites MACs only.
	p := inHeadroom(pktbuild.TCP(tcpFlow(5000), pktbuild.SYN, 1, 0, nil))
	if v, out := h.sendBurst(p); v != VerdictForward || &out[0] != &p[0] || len(out) != len(p) {
		t.Fatalf("DSR SYN: %v, frame moved or resized", v)
	}
	if c := h.core.Counters; c.Encapsulated != 60 || c.TX != 61 {
		t.Fatalf("encapsulated %d of tx %d, want 60 of 61", c.Encapsulated, c.TX)
	}
}

func (h *harness) entry8080(srcPort uint16) *Entry {
	e := h.core.table.Lookup(NewFlowKey(ProtoTCP, be32(client), srcPort, be32(vip), 8080))
	if e == nil {
		h.t.Fatalf("no entry for connection %d", srcPort)
	}
	return e
}

// A GUE service's packets carry UDP to the service's GUE port, from a
// source port in 49152..65535 that is the same for every packet of a flow
// and differs between flows, then the GUE header naming IPv4.
func TestGUEEncapsulation(t *testing.T) {
	h := newHarness(t, encapConfig(), 64)
	h.core.SetHeadroom(EncapHeadroom)
	sourcePorts := map[uint16]bool{}
	for port := uint16(1000); port < 1016; port++ {
		var first uint16
		for i, flags := range []uint8{pktbuild.SYN, pktbuild.ACK} {
			in := pktbuild.TCP(flowTo(8081, port), flags, 1, 0, []byte("x"))
			v, out := h.sendBurst(inHeadroom(in))
			if v != VerdictForward {
				t.Fatalf("connection %d packet %d: %v", port, i, v)
			}
			dst := checkOuter(t, out, in, GUEOverhead, header.UDPProtocolNumber, serverMAC(map[netip.Addr]ServerID{routedServer[31]: 31, routedServer[32]: 32}[header.IPv4(out[header.EthernetHeaderLen:]).DestinationAddr()]))
			if dst != routedServer[31] && dst != routedServer[32] {
				t.Fatalf("outer destination %v is not a server of the service", dst)
			}
			u := header.UDP(out[header.EthernetHeaderLen+header.IPv4MinHeaderLen:])
			if u.DestinationPort() != 7000 || u.SourcePort() < 49152 || u.Length() != len(out)-header.EthernetHeaderLen-header.IPv4MinHeaderLen || u.Checksum() != 0 {
				t.Fatalf("UDP %d → %d length %d checksum %#x", u.SourcePort(), u.DestinationPort(), u.Length(), u.Checksum())
			}
			if gue := u[header.UDPHeaderLen:][:header.GUEHeaderLen]; !bytes.Equal(gue, []byte{0, header.IPIPProtocolNumber, 0, 0}) {
				t.Fatalf("GUE header % x", gue)
			}
			if i == 0 {
				first = u.SourcePort()
			} else if u.SourcePort() != first {
				t.Fatalf("connection %d: source port %d, then %d", port, first, u.SourcePort())
			}
		}
		sourcePorts[first] = true
	}
	if len(sourcePorts) < 8 {
		t.Fatalf("16 connections used %d GUE source ports: too little entropy for ECMP", len(sourcePorts))
	}
}

// GUESourcePort hashes the flow as the header views read it: addresses,
// protocol, and the ports of TCP and UDP only (an ICMP message's first
// bytes are not ports). A packet too short to hold them gets the lowest
// port rather than a panic.
func TestGUESourcePortHashesTheFlow(t *testing.T) {
	f := flowTo(8081, 40000)
	for name, frame := range map[string][]byte{
		"tcp":  pktbuild.TCP(f, pktbuild.ACK, 1, 1, []byte("payload")),
		"udp":  pktbuild.UDP(f, []byte("datagram")),
		"icmp": pktbuild.ICMP(f, header.ICMPEchoRequest, 0, [4]byte{0xab, 0xcd, 0, 1}, []byte("ping")),
	} {
		ip := header.IPv4(frame[header.EthernetHeaderLen:])
		var srcPort, dstPort uint16
		if p := ip.Protocol(); p == ProtoTCP || p == ProtoUDP {
			u := header.UDP(ip.Payload())
			srcPort, dstPort = u.SourcePort(), u.DestinationPort()
		}
		h := hashTuple(ip.Source(), ip.Destination(), srcPort, dstPort, ip.Protocol(), 0)
		if got, want := GUESourcePort(ip), gueSourcePortBase|uint16(h^h>>32)&gueSourcePortMask; got != want {
			t.Errorf("%s: source port %d, want %d", name, got, want)
		}
	}
	if got := GUESourcePort(make([]byte, gueHashedLen-1)); got != gueSourcePortBase {
		t.Errorf("a %d-byte packet: source port %d, want %d", gueHashedLen-1, got, gueSourcePortBase)
	}
}

// Ethernet padding after a short packet is not carried into the outer
// packet, whose length is the inner packet's plus the overhead.
func TestEncapsulationDropsPadding(t *testing.T) {
	h := newHarness(t, encapConfig(), 16)
	h.core.SetHeadroom(EncapHeadroom)
	in := append(pktbuild.TCP(flowTo(8080, 1000), pktbuild.SYN, 1, 0, nil), make([]byte, 6)...)
	v, out := h.sendBurst(inHeadroom(in))
	if v != VerdictForward {
		t.Fatal(v)
	}
	checkOuter(t, out, in, IPIPOverhead, header.IPIPProtocolNumber, serverMAC(h.entry8080(1000).Server))
}

// Without headroom the core never writes before a frame: the packet is
// dropped, counted, and the frame is left as it was.
func TestEncapsulationNeedsHeadroom(t *testing.T) {
	h := newHarness(t, encapConfig(), 16)
	in := pktbuild.TCP(flowTo(8081, 1000), pktbuild.SYN, 1, 0, nil)
	p := inHeadroom(in)
	h.core.SetHeadroom(GUEOverhead - 1)
	if v, out := h.sendBurst(p); v != DropVerdict(DropEncapNoHeadroom) || &out[0] != &p[0] {
		t.Fatalf("GUE with %d bytes of headroom: %v", GUEOverhead-1, v)
	}
	if !bytes.Equal(p, in) {
		t.Fatal("a dropped frame was changed")
	}
}

// A packet that would exceed the path MTU once encapsulated is answered
// with an ICMP "fragmentation needed" from the VIP, reporting the MTU minus
// the overhead, when it carries DF; without DF it is dropped.
func TestEncapsulationTooBig(t *testing.T) {
	cfg := encapConfig()
	cfg.Encap.MTU = 1400
	h := newHarness(t, cfg, 16)
	h.core.SetHeadroom(EncapHeadroom)
	for _, tc := range []struct {
		port  uint16
		extra int
	}{{8080, IPIPOverhead}, {8081, GUEOverhead}} {
		h.sendBurst(inHeadroom(pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.SYN, 1, 0, nil)))
		fits := pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.ACK, 2, 1, make([]byte, 1400-tc.extra-40))
		if v, _ := h.sendBurst(inHeadroom(fits)); v != VerdictForward {
			t.Fatalf("port %d: a packet that fits exactly: %v", tc.port, v)
		}
		big := pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.ACK, 2, 1, make([]byte, 1400-tc.extra-40+1))
		v, out := h.sendBurst(inHeadroom(big))
		if v != VerdictReply {
			t.Fatalf("port %d: one byte too big: %v", tc.port, v)
		}
		eth := header.Ethernet(out)
		if !bytes.Equal(eth.Destination(), clientMA[:]) || !bytes.Equal(eth.Source(), gwMAC[:]) {
			t.Fatalf("reply Ethernet %x → %x", eth.Source(), eth.Destination())
		}
		ip := header.IPv4(out[header.EthernetHeaderLen:])
		if ip.Check() != header.OK || header.IPv4HeaderChecksum(ip) != 0 || ip.Protocol() != ProtoICMP ||
			ip.SourceAddr() != vip || ip.DestinationAddr() != client || len(out) != header.EthernetHeaderLen+ip.TotalLength() {
			t.Fatalf("reply IPv4 %v → %v protocol %d", ip.SourceAddr(), ip.DestinationAddr(), ip.Protocol())
		}
		msg := header.ICMP(ip.Payload())
		mtu := binary.BigEndian.Uint16(msg[header.ICMPNextHopMTUOffset:])
		if msg.Type() != header.ICMPDestUnreachable || msg.Code() != header.ICMPCodeFragNeeded || header.Checksum(msg) != 0 ||
			int(mtu) != 1400-tc.extra {
			t.Fatalf("reply ICMP type %d code %d MTU %d (want %d)", msg.Type(), msg.Code(), mtu, 1400-tc.extra)
		}
		if q := msg[header.ICMPHeaderLen:]; !bytes.Equal(q, big[header.EthernetHeaderLen:][:header.IPv4MinHeaderLen+8]) {
			t.Fatal("the reply does not quote the packet's header and first 8 bytes")
		}
		noDF := pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.ACK, 2, 1, make([]byte, 1400))
		ipNoDF := header.IPv4(noDF[header.EthernetHeaderLen:])
		ipNoDF.SetFlagsFragment(0)
		ipNoDF.SetChecksum(0)
		ipNoDF.SetChecksum(header.IPv4HeaderChecksum(ipNoDF))
		if v, _ := h.sendBurst(inHeadroom(noDF)); v != DropVerdict(DropEncapTooBig) {
			t.Fatalf("port %d: too big without DF: %v", tc.port, v)
		}
	}
	if c := h.core.Counters; c.TooBig != 2 || c.Replies != 2 {
		t.Fatalf("too big %d, replies %d; want 2 and 2", c.TooBig, c.Replies)
	}
}

// With a next hop, every encapsulated packet goes to the next hop's MAC,
// learned by ARP; until it has answered, the service's servers are
// unresolved (the control plane asks NeighborAddr which address to watch).
func TestEncapsulationThroughNextHop(t *testing.T) {
	cfg := encapConfig()
	cfg.Encap.NextHop = nextHop
	cfg.Neighbors = NewNeighbors(16)
	for i := 2; i < 4; i++ {
		for j := range cfg.Services[i].Servers {
			srv := &cfg.Services[i].Servers[j]
			if got := cfg.NeighborAddr(&cfg.Services[i], srv); got != nextHop {
				t.Fatalf("NeighborAddr of server %d is %v, want the next hop", srv.ID, got)
			}
			srv.MAC = [6]byte{}
		}
	}
	if got := cfg.NeighborAddr(&cfg.Services[0], &cfg.Services[0].Servers[0]); got != cfg.Services[0].Servers[0].IP {
		t.Fatalf("NeighborAddr of a DSR server is %v, want its own", got)
	}
	h := newHarness(t, cfg, 16)
	h.core.SetHeadroom(EncapHeadroom)
	syn := pktbuild.TCP(flowTo(8080, 1000), pktbuild.SYN, 1, 0, nil)
	if v, _ := h.sendBurst(inHeadroom(syn)); v != DropVerdict(DropServerUnresolved) {
		t.Fatalf("before the next hop answered: %v", v)
	}
	if slots := h.core.snap.NeighborSlots(); len(slots) != 1 {
		t.Fatalf("the snapshot asks for %d addresses by ARP, want 1 (the next hop)", len(slots))
	}
	reply := pktbuild.ARP(header.ARPReply, gwMAC, nextHopMAC, nextHop, gwIP, gwMAC)
	if v, _ := h.sendBurst(reply); v != VerdictConsumed {
		t.Fatalf("the next hop's ARP reply: %v", v)
	}
	for i := range cfg.Services {
		for j := range cfg.Services[i].Servers {
			cfg.Services[i].Servers[j].Resolved = true
		}
	}
	snap, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snap)
	v, out := h.sendBurst(inHeadroom(syn))
	if v != VerdictForward {
		t.Fatalf("after the next hop answered: %v", v)
	}
	checkOuter(t, out, syn, IPIPOverhead, header.IPIPProtocolNumber, nextHopMAC)
}

// NewSnapshot rejects what cannot be encapsulated.
func TestEncapsulationConfigErrors(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no source":          func(c *Config) { c.Encap.Source = netip.Addr{} },
		"IPv6 source":        func(c *Config) { c.Encap.Source = netip.MustParseAddr("2001:db8::1") },
		"MTU below 576":      func(c *Config) { c.Encap.MTU = 575 },
		"unknown forwarding": func(c *Config) { c.Services[2].Forwarding = ForwardGUE + 1 },
		"MAC with next hop": func(c *Config) {
			c.Encap.NextHop, c.Neighbors = nextHop, NewNeighbors(16)
		},
	} {
		cfg := encapConfig()
		mutate(cfg)
		if _, err := NewSnapshot(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := encapConfig()
	cfg.Encap = Encapsulation{}
	cfg.Services = cfg.Services[:2]
	if _, err := NewSnapshot(cfg); err != nil {
		t.Fatalf("DSR services only, no encapsulation settings: %v", err)
	}
}
