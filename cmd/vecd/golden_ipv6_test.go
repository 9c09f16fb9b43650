package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/corpus"
)

// goldenIPv6Clusters: an IPv6 VIP with TCP/80 on v1 and v2 (weights 1:1)
// and UDP/53 on v3, all with their MACs configured; it answers ping.
const goldenIPv6Clusters = `
gateway: {ip: 10.1.0.1, ip6: "fd00:1::1", mac: "02:00:00:00:00:01"}
clusters:
  - vip: "fd00:1::100"
    answer_ping: true
    services:
      - name: http
        protocol: tcp
        port: 80
        servers:
          - {name: v1, ip: "fd00:1::11", mac: "02:00:00:00:00:31", weight: 1}
          - {name: v2, ip: "fd00:1::12", mac: "02:00:00:00:00:32", weight: 1}
      - name: dns
        protocol: udp
        port: 53
        servers:
          - {name: v3, ip: "fd00:1::13", mac: "02:00:00:00:00:33", weight: 1}
`

var (
	goldenVIP6     = netip.MustParseAddr("fd00:1::100")
	goldenGateway6 = netip.MustParseAddr("fd00:1::1")
	goldenClient6  = netip.MustParseAddr("2001:db8::50")
)

func goldenV6ServerMAC(n int) pktbuild.MAC { return pktbuild.MAC{0x02, 0, 0, 0, 0, byte(0x30 + n)} }

// forwardTo adds a frame that must leave with only its MACs rewritten, to
// mac.
func (s *scenario) forwardTo(p []byte, mac pktbuild.MAC) {
	out := header.Ethernet(bytes.Clone(p))
	out.SetDestination(mac[:])
	out.SetSource(corpus.GatewayMAC[:])
	s.send(p, out)
}

// goldenIPv6Scenario: Neighbor Discovery for the VIP and the gateway's
// address, four TCP connections alternating over v1 and v2, UDP, a ping,
// a "packet too big" about a connection, and IPv6 drops.
func goldenIPv6Scenario() *scenario {
	s := &scenario{}
	for _, target := range []netip.Addr{goldenVIP6, goldenGateway6} {
		s.reply(pktbuild.NeighborSolicitation(corpus.ClientMAC, goldenClient6, target),
			pktbuild.NeighborAdvertisement(corpus.GatewayMAC, corpus.ClientMAC, target, goldenClient6))
	}
	s.drop(pktbuild.NeighborSolicitation(corpus.ClientMAC, goldenClient6, netip.MustParseAddr("fd00:1::99")), "ndp_ignored")
	s.drop(pktbuild.NeighborSolicitation(corpus.ClientMAC, netip.IPv6Unspecified(), goldenVIP6), "ndp_ignored")

	flows := make([]pktbuild.Flow, 4)
	for i := range flows {
		flows[i] = pktbuild.Flow{SrcMAC: corpus.ClientMAC, DstMAC: corpus.GatewayMAC, SrcIP: goldenClient6,
			DstIP: goldenVIP6, SrcPort: uint16(41000 + i), DstPort: 80}
		s.forwardTo(pktbuild.TCP(flows[i], pktbuild.SYN, 100, 0, nil), goldenV6ServerMAC(1+i%2))
	}
	for i, f := range flows {
		s.forwardTo(pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 101, 1, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), goldenV6ServerMAC(1+i%2))
	}
	// A router near the client cannot pass v1's full-sized reply: its
	// "packet too big" comes to the VIP and must reach v1.
	router := pktbuild.MAC{0x02, 0, 0, 0, 0, 0xe1}
	back := pktbuild.Flow{SrcMAC: goldenV6ServerMAC(1), DstMAC: router, SrcIP: goldenVIP6, DstIP: goldenClient6, SrcPort: 80, DstPort: flows[0].SrcPort}
	reply := header.Ethernet(pktbuild.TCP(back, pktbuild.ACK|pktbuild.PSH, 1, 128, make([]byte, 1400))).Payload()
	s.forwardTo(pktbuild.PacketTooBig(router, corpus.GatewayMAC, netip.MustParseAddr("2001:db8::1"), reply, 1280), goldenV6ServerMAC(1))
	for round := range 2 {
		u := pktbuild.Flow{SrcMAC: corpus.ClientMAC, DstMAC: corpus.GatewayMAC, SrcIP: goldenClient6, DstIP: goldenVIP6, SrcPort: 6000, DstPort: 53}
		s.forwardTo(pktbuild.UDP(u, []byte(fmt.Sprintf("query %d", round))), goldenV6ServerMAC(3))
	}
	ping := pktbuild.Flow{SrcMAC: corpus.ClientMAC, DstMAC: corpus.GatewayMAC, SrcIP: goldenClient6, DstIP: goldenVIP6}
	pong := pktbuild.Flow{SrcMAC: corpus.GatewayMAC, DstMAC: corpus.ClientMAC, SrcIP: goldenVIP6, DstIP: goldenClient6}
	s.reply(pktbuild.ICMPv6(ping, 64, 128, 0, [4]byte{0, 7, 0, 1}, []byte("ping")), pktbuild.ICMPv6(pong, 64, 129, 0, [4]byte{0, 7, 0, 1}, []byte("ping")))

	stray := flows[0]
	stray.SrcPort = 5555
	s.drop(pktbuild.TCP(stray, pktbuild.ACK, 7, 7, []byte("x")), "non_syn_miss")
	other := flows[0]
	other.DstPort = 81
	s.drop(pktbuild.TCP(other, pktbuild.SYN, 1, 0, nil), "not_for_cluster")
	hopByHop := pktbuild.TCP(flows[1], pktbuild.SYN, 1, 0, nil)
	header.IPv6(hopByHop[header.EthernetHeaderLen:]).SetNextHeader(0)
	s.drop(hopByHop, "ipv6_extension")
	for i, f := range flows {
		s.forwardTo(pktbuild.TCP(f, pktbuild.FIN|pktbuild.ACK, 128, 200, nil), goldenV6ServerMAC(1+i%2))
	}
	return s
}

// TestGoldenCaptureIPv6 replays testdata/golden-ipv6/input.pcap through the
// real daemon on a net_pcap port and compares what it sent with
// expected.pcap, then the counters.
func TestGoldenCaptureIPv6(t *testing.T) {
	checkGolden(t, goldenIPv6Scenario(), "golden-ipv6", goldenIPv6Clusters, map[string]uint64{"v1": 2, "v2": 2, "v3": 1})
}
