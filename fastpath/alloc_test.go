package fastpath

import (
	"net/netip"
	"testing"

	"vec/fastpath/pktbuild"
)

// Decoding and processing a packet must not allocate, whatever its fate.
func TestProcessBurstDoesNotAllocate(t *testing.T) {
	cfg := testConfig()
	cfg.EchoVIPs = []netip.Addr{vip}
	maglev := maglevService(2, 10, []int{1, 2, 3})
	maglev.Port = 8080
	cfg.Services = append(cfg.Services, maglev)
	h := newHarness(t, cfg, 1024)
	h.open(1000)
	arp := pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{})
	cases := map[string]func() []byte{
		"hit":          func() []byte { return pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 2, 1, []byte("data")) },
		"non-SYN miss": func() []byte { return pktbuild.TCP(tcpFlow(2000), pktbuild.ACK, 2, 1, nil) },
		"not for us":   func() []byte { f := tcpFlow(1); f.DstPort = 81; return pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil) },
		"malformed":    func() []byte { return pktbuild.TCP(tcpFlow(1), pktbuild.SYN, 1, 0, nil)[:30] },
		"udp":          func() []byte { return pktbuild.UDP(udpFlow(9), []byte("q")) },
		"arp":          func() []byte { return arp },
		"icmp error": func() []byte {
			return pktbuild.FragNeeded(routerMAC, gwMAC, routerIP, serverSegment(1000, nil), 1280)
		},
		"echo": func() []byte {
			f := pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip}
			return pktbuild.ICMP(f, pktbuild.ICMPEchoRequest, 0, [4]byte{}, nil)
		},
	}
	verdicts := make([]Verdict, 1)
	for name, mk := range cases {
		burst := [][]byte{mk()}
		if n := testing.AllocsPerRun(1000, func() { h.core.ProcessBurst(burst, verdicts) }); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
	}
	checkNewConnectionsDoNotAllocate(t, h, tcpFlow)
	rsts := make([][]byte, 2000)
	i := 0
	// A Maglev service: new SYNs scheduled by its table, and mid-flow
	// segments without an entry given their second chance (each RST'd
	// afterwards, so the entry can be evicted again).
	for name, flags := range map[string]uint8{"maglev SYN": pktbuild.SYN, "maglev second chance": pktbuild.ACK} {
		firsts := make([][]byte, 2000)
		for i := range firsts {
			f := tcpFlow(uint16(10000 + i))
			f.DstPort = 8080
			firsts[i] = pktbuild.TCP(f, flags, 1, 1, nil)
			rsts[i] = pktbuild.TCP(f, pktbuild.RST, 2, 0, nil)
		}
		before := h.core.Counters.SecondChanceHash
		i = 0
		if n := testing.AllocsPerRun(1000, func() {
			h.core.ProcessBurst(firsts[i:i+1], verdicts)
			if verdicts[0] != VerdictForward {
				t.Fatalf("%s %d: %v", name, i, verdicts[0])
			}
			h.core.ProcessBurst(rsts[i:i+1], verdicts)
			i++
		}); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
		if second := h.core.Counters.SecondChanceHash - before; (flags == pktbuild.ACK) != (second > 0) {
			t.Errorf("%s: %d second chances", name, second)
		}
	}
	if n := testing.AllocsPerRun(100, func() { h.core.Reap() }); n != 0 {
		t.Errorf("Reap: %.1f allocations", n)
	}
}

// Nor must IPv6: flows, Neighbor Discovery, echo and errors.
func TestIPv6DoesNotAllocate(t *testing.T) {
	h := newHarness(t, ipv6Config(), 1024)
	h.send(pktbuild.TCP(tcp6Flow(1000), pktbuild.SYN, 1, 0, nil))
	reply := pktbuild.Flow{SrcMAC: serverMAC(51), DstMAC: clientMA, SrcIP: vip6, DstIP: client6, SrcPort: 80, DstPort: 1000}
	cases := map[string]func() []byte{
		"hit":  func() []byte { return pktbuild.TCP(tcp6Flow(1000), pktbuild.ACK, 2, 1, []byte("data")) },
		"miss": func() []byte { return pktbuild.TCP(tcp6Flow(2000), pktbuild.ACK, 2, 1, nil) },
		"NS":   func() []byte { return pktbuild.NeighborSolicitation(clientMA, client6, vip6) },
		"echo": func() []byte {
			return pktbuild.ICMPv6(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6}, 64, 128, 0, [4]byte{}, nil)
		},
		"too big": func() []byte {
			return pktbuild.PacketTooBig(routerMAC, gwMAC, client6, pktbuild.TCP(reply, pktbuild.ACK, 1, 1, nil)[14:], 1280)
		},
	}
	verdicts := make([]Verdict, 1)
	for name, mk := range cases {
		frame := mk()
		buf := make([]byte, len(frame))
		burst := [][]byte{nil}
		if n := testing.AllocsPerRun(1000, func() {
			burst[0] = buf[:copy(buf, frame)]
			h.core.ProcessBurst(burst, verdicts)
		}); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
	}
	checkNewConnectionsDoNotAllocate(t, h, tcp6Flow)
}

// checkNewConnectionsDoNotAllocate opens a new connection of flow (by its
// client port) per run, and RSTs it again so the table stays small: none
// may allocate.
func checkNewConnectionsDoNotAllocate(t *testing.T, h *harness, flow func(uint16) pktbuild.Flow) {
	t.Helper()
	syns := make([][]byte, 2000)
	rsts := make([][]byte, len(syns))
	for i := range syns {
		syns[i] = pktbuild.TCP(flow(uint16(3000+i)), pktbuild.SYN, 1, 0, nil)
		rsts[i] = pktbuild.TCP(flow(uint16(3000+i)), pktbuild.RST, 2, 0, nil)
	}
	verdicts := make([]Verdict, 1)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		h.core.ProcessBurst(syns[i:i+1], verdicts)
		if verdicts[0] != VerdictForward {
			t.Fatalf("SYN %d: %v", i, verdicts[0])
		}
		h.core.ProcessBurst(rsts[i:i+1], verdicts)
		i++
	}); n != 0 {
		t.Errorf("new connection: %.1f allocations per packet", n)
	}
}

// Encapsulating a packet (IPIP, GUE) and answering one too big for the
// path MTU must not allocate either. Each run puts the client's frame back
// in a buffer with headroom: the last run's frame was rewritten.
func TestEncapsulationDoesNotAllocate(t *testing.T) {
	cfg := encapConfig()
	cfg.Encap.MTU = 1000
	h := newHarness(t, cfg, 1024)
	h.core.SetHeadroom(EncapHeadroom)
	verdicts := make([]Verdict, 1)
	buf := make([]byte, EncapHeadroom+2000)
	for _, tc := range []struct {
		name string
		port uint16
		size int
		want Verdict
	}{
		{"ipip", 8080, 100, VerdictForward},
		{"gue", 8081, 100, VerdictForward},
		{"ipip too big", 8080, 1200, VerdictReply},
		{"gue too big", 8081, 1200, VerdictReply},
	} {
		syn := pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.SYN, 1, 0, nil)
		h.core.ProcessBurst([][]byte{inHeadroom(syn)}, verdicts)
		frame := pktbuild.TCP(flowTo(tc.port, 1000), pktbuild.ACK, 2, 1, make([]byte, tc.size))
		burst := [][]byte{nil}
		if n := testing.AllocsPerRun(1000, func() {
			burst[0] = buf[EncapHeadroom : EncapHeadroom+copy(buf[EncapHeadroom:], frame)]
			h.core.ProcessBurst(burst, verdicts)
			if verdicts[0] != tc.want {
				t.Fatalf("%s: %v", tc.name, verdicts[0])
			}
		}); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", tc.name, n)
		}
	}
}
