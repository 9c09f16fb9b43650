package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"vec/control/apiwire"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/corpus"
	"vec/internal/pcapfile"
	"vec/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden captures in testdata/golden")

func goldenServerMAC(n int) pktbuild.MAC { return pktbuild.MAC{0x02, 0, 0, 0, 0, byte(0x10 + n)} }

// The configuration under test (shared with the malformed-frame corpus,
// which extends it), also reused by the two-queue test.
const goldenConfigClusters = corpus.GoldenClustersYAML

// expectation is what vecd must do with one input frame.
type expectation struct {
	out   []byte // the frame it must send, nil for a drop
	drop  string // the drop reason counted, "" when sent
	reply bool   // out is an answer the gateway wrote (counted in replies)
}

// scenario accumulates input frames and, independently of the fastpath's
// code, what must come out of them.
type scenario struct {
	in     [][]byte
	expect []expectation
}

// forward adds a frame that must leave with only its MACs rewritten.
func (s *scenario) forward(p []byte, server int) {
	out := header.Ethernet(bytes.Clone(p))
	mac := goldenServerMAC(server)
	out.SetDestination(mac[:])
	out.SetSource(corpus.GatewayMAC[:])
	s.in = append(s.in, p)
	s.expect = append(s.expect, expectation{out: out})
}

// reply adds a frame the gateway must answer with want.
func (s *scenario) reply(p, want []byte) {
	s.in = append(s.in, p)
	s.expect = append(s.expect, expectation{out: want, reply: true})
}

// send adds a frame the gateway must forward as want.
func (s *scenario) send(p, want []byte) {
	s.in = append(s.in, p)
	s.expect = append(s.expect, expectation{out: want})
}

func (s *scenario) drop(p []byte, reason string) {
	s.in = append(s.in, p)
	s.expect = append(s.expect, expectation{drop: reason})
}

func clientFlow(clientIP string, port uint16, vip netip.Addr, vport uint16) pktbuild.Flow {
	return pktbuild.Flow{SrcMAC: corpus.ClientMAC, DstMAC: corpus.GatewayMAC, SrcIP: netip.MustParseAddr(clientIP),
		DstIP: vip, SrcPort: port, DstPort: vport}
}

// goldenScenario: ARP, ten TCP conversations on VIP A (3:2 over s1 and s2),
// two on VIP B, a reset connection, stray segments, UDP flows, foreign
// traffic and malformed frames.
func goldenScenario() *scenario {
	s := &scenario{}
	arp := func(target netip.Addr) []byte {
		return pktbuild.ARP(1, pktbuild.Broadcast, corpus.ClientMAC, netip.MustParseAddr("10.1.0.50"), target, pktbuild.MAC{})
	}
	arpReply := func(target netip.Addr) []byte {
		return pktbuild.ARP(2, corpus.ClientMAC, corpus.GatewayMAC, target, netip.MustParseAddr("10.1.0.50"), corpus.ClientMAC)
	}
	for _, target := range []netip.Addr{corpus.VIPA, corpus.VIPB, corpus.GatewayIP} {
		s.reply(arp(target), arpReply(target))
	}
	s.drop(arp(netip.MustParseAddr("10.1.0.11")), "arp_ignored")

	// Ten clients open connections to VIP A:80; Fig. 7C with weights 3, 2
	// hands them out s1 s1 s2 s1 s2 | s1 s1 s2 s1 s2.
	order := []int{1, 1, 2, 1, 2, 1, 1, 2, 1, 2}
	flows := make([]pktbuild.Flow, len(order))
	for i := range flows {
		flows[i] = clientFlow(fmt.Sprintf("192.0.2.%d", 10+i), uint16(40000+i), corpus.VIPA, 80)
		s.forward(pktbuild.TCP(flows[i], pktbuild.SYN, 100, 0, nil), order[i])
	}
	for i, f := range flows {
		s.forward(pktbuild.TCP(f, pktbuild.ACK, 101, 1, nil), order[i])
		s.forward(pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 101, 1, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), order[i])
	}
	// A router on the way back cannot pass s1's full-sized reply to the
	// first client: its "fragmentation needed" comes to VIP A (the reply's
	// source under direct server return) and must reach s1, or path-MTU
	// discovery black-holes the download.
	router := pktbuild.MAC{0x02, 0, 0, 0, 0, 0xe1}
	routerIP := netip.MustParseAddr("10.1.0.254")
	reply := func(f pktbuild.Flow) []byte {
		back := pktbuild.Flow{SrcMAC: goldenServerMAC(1), DstMAC: router, SrcIP: f.DstIP, DstIP: f.SrcIP, SrcPort: f.DstPort, DstPort: f.SrcPort}
		return header.Ethernet(pktbuild.TCP(back, pktbuild.ACK|pktbuild.PSH, 1, 101, make([]byte, 1460))).Payload()
	}
	s.forward(pktbuild.FragNeeded(router, corpus.GatewayMAC, routerIP, reply(flows[0]), 1400), order[0])
	for i, f := range flows[:9] {
		s.forward(pktbuild.TCP(f, pktbuild.FIN|pktbuild.ACK, 128, 200, nil), order[i])
		s.forward(pktbuild.TCP(f, pktbuild.ACK, 129, 201, nil), order[i])
	}
	// The tenth is reset: its entry keeps the server for the reset timeout
	// (the gateway cannot tell a spoofed RST from a real one), so a later
	// segment of the flow still goes there.
	s.forward(pktbuild.TCP(flows[9], pktbuild.RST|pktbuild.ACK, 128, 200, nil), order[9])
	s.forward(pktbuild.TCP(flows[9], pktbuild.ACK, 128, 200, nil), order[9])
	// A segment of a connection vecd never saw.
	s.drop(pktbuild.TCP(clientFlow("192.0.2.99", 5555, corpus.VIPA, 80), pktbuild.ACK|pktbuild.PSH, 7, 7, []byte("x")), "non_syn_miss")
	// An ICMP error about it, and a ping to a VIP that does not answer.
	s.drop(pktbuild.FragNeeded(router, corpus.GatewayMAC, routerIP, reply(clientFlow("192.0.2.99", 5555, corpus.VIPA, 80)), 1400), "icmp_no_flow")
	s.drop(pktbuild.ICMP(clientFlow("192.0.2.1", 0, corpus.VIPA, 0), pktbuild.ICMPEchoRequest, 0, [4]byte{0, 1, 0, 1}, []byte("ping")), "icmp_unhandled")

	// VIP B, a different service: both connections to s5.
	for i := range 2 {
		f := clientFlow(fmt.Sprintf("198.51.100.%d", i+1), uint16(50000+i), corpus.VIPB, 443)
		s.forward(pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil), 5)
		s.forward(pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 2, 1, []byte("hello")), 5)
	}

	// UDP to VIP A:53: four flows alternate s3, s4 and stick.
	for round := range 2 {
		for i := range 4 {
			f := clientFlow("192.0.2.200", uint16(6000+i), corpus.VIPA, 53)
			s.forward(pktbuild.UDP(f, []byte(fmt.Sprintf("query %d/%d", i, round))), 3+i%2)
		}
	}

	// Not for the cluster: unknown VIP, unknown port, wrong protocol.
	s.drop(pktbuild.TCP(clientFlow("192.0.2.1", 1, netip.MustParseAddr("10.1.0.99"), 80), pktbuild.SYN, 1, 0, nil), "not_for_cluster")
	s.drop(pktbuild.TCP(clientFlow("192.0.2.1", 1, corpus.VIPA, 8080), pktbuild.SYN, 1, 0, nil), "not_for_cluster")
	s.drop(pktbuild.UDP(clientFlow("192.0.2.1", 1, corpus.VIPB, 443), []byte("q")), "not_for_cluster")
	// Another host's frame (seen in promiscuous mode).
	other := clientFlow("192.0.2.1", 1, corpus.VIPA, 80)
	other.DstMAC = pktbuild.MAC{0x02, 9, 9, 9, 9, 9}
	s.drop(pktbuild.TCP(other, pktbuild.SYN, 1, 0, nil), "not_our_mac")

	// Malformed frames, each under its own reason.
	syn := func() []byte {
		return pktbuild.TCP(clientFlow("192.0.2.1", 2, corpus.VIPA, 80), pktbuild.SYN, 1, 0, nil)
	}
	edit := func(f func(p []byte) []byte) []byte { return f(syn()) }
	ip := func(p []byte) header.IPv4 { return header.IPv4(p[header.UntaggedIPv4Offset:]) }
	s.drop(syn()[:header.EthernetTypeOffset], "malformed_ethernet")
	s.drop(edit(func(p []byte) []byte { ip(p).SetHeaderLen(16); return p }), "ipv4_bad_ihl")
	s.drop(edit(func(p []byte) []byte { ip(p).SetFlagsFragment(0x2000); return p }), "ipv4_fragment")
	s.drop(edit(func(p []byte) []byte { ip(p).SetHeaderLen(24); return p }), "ipv4_options")
	s.drop(edit(func(p []byte) []byte { ip(p).SetTotalLength(1500); return p }), "ipv4_bad_total_length")
	s.drop(edit(func(p []byte) []byte { header.TCP(p[header.UntaggedL4Offset:]).SetDataOffset(12); return p }), "tcp_bad_data_offset")
	s.drop(edit(func(p []byte) []byte { header.Ethernet(p).SetType(0x8137); return p }), "unsupported_l3") // IPX
	// The first fragment of an IPv6 SYN: the fastpath parses no extension
	// header (the fragment header here).
	v6 := pktbuild.TCP(pktbuild.Flow{SrcMAC: corpus.ClientMAC, DstMAC: corpus.GatewayMAC, SrcIP: netip.MustParseAddr("2001:db8::7"),
		DstIP: netip.MustParseAddr("2001:db8::100"), SrcPort: 2, DstPort: 80}, pktbuild.SYN, 1, 0, nil)
	fragmentHeader := []byte{header.TCPProtocolNumber, 0, 0, 1, 0, 0, 0, 1} // offset 0, more fragments, identification 1
	v6 = append(append(bytes.Clone(v6[:header.UntaggedIPv6L4Offset]), fragmentHeader...), v6[header.UntaggedIPv6L4Offset:]...)
	ip6 := header.IPv6(v6[header.UntaggedIPv6Offset:])
	ip6.SetNextHeader(44)
	ip6.SetPayloadLength(len(v6) - header.UntaggedIPv6L4Offset)
	s.drop(v6, "ipv6_extension")
	tagged := clientFlow("192.0.2.1", 3, corpus.VIPA, 80)
	tagged.VLAN = 7
	s.drop(pktbuild.TCP(tagged, pktbuild.SYN, 1, 0, nil), "vlan_tagged")
	return s
}

// replayThroughVecd runs vecd on one worker over a net_pcap port that reads
// the capture inPath, with a pool of mempool buffers and the clusters of
// clustersYAML, until the capture is exhausted; it returns vecd's final
// counters, its log and the capture it wrote.
func replayThroughVecd(t *testing.T, inPath string, mempool int, clustersYAML string) (apiwire.Counters, string, string) {
	t.Helper()
	testenv.RequireDPDK(t)
	bin := buildVecd(t)
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.pcap")
	absIn, _ := filepath.Abs(inPath)
	cfg := fmt.Sprintf(`
dpdk:
  eal_args: ["--no-pci"]
  vdevs: ["net_pcap0,rx_pcap=%s,tx_pcap=%s"]
  mempool_size: %d
ports: [{device: net_pcap0}]
workers: {cores: [1], control_core: 0, table_capacity: 4096, run_until_input_exhausted: true}
log: {level: warn}
metrics: {disabled: true} # the host may run another exporter on 9100
`, absIn, outPath, mempool) + clustersYAML
	st, log := runVecd(t, bin, dir, cfg)
	return st, log, outPath
}

// TestGoldenCapture replays testdata/golden/input.pcap through the real
// daemon on a net_pcap port and compares what it sent, packet by packet,
// with testdata/golden/expected.pcap, then checks the counters by reason.
func TestGoldenCapture(t *testing.T) {
	checkGolden(t, goldenScenario(), "golden", goldenConfigClusters,
		map[string]uint64{"s1": 6, "s2": 4, "s3": 2, "s4": 2, "s5": 2})
}

// checkGolden writes (with -update) and checks the captures of scenario s
// in testdata/<dir> (input.pcap, expected.pcap), replays the input through
// vecd with clustersYAML, and checks that vecd sent exactly the expected
// frames, that its counters add up (rx = tx + replies + learned + drops,
// replies as the scenario has them), every drop reason's count, and the
// new connections per server (newConns). It returns vecd's counters.
func checkGolden(t *testing.T, s *scenario, dir, clustersYAML string, newConns map[string]uint64) apiwire.Counters {
	t.Helper()
	var expected [][]byte
	wantDrops := map[string]uint64{}
	replies := uint64(0)
	for _, e := range s.expect {
		if e.out == nil {
			wantDrops[e.drop]++
			continue
		}
		expected = append(expected, e.out)
		if e.reply {
			replies++
		}
	}
	inPath, expPath := filepath.Join("testdata", dir, "input.pcap"), filepath.Join("testdata", dir, "expected.pcap")
	if *update {
		if err := pcapfile.Write(inPath, corpus.Packets(s.in)); err != nil {
			t.Fatal(err)
		}
		if err := pcapfile.Write(expPath, corpus.Packets(expected)); err != nil {
			t.Fatal(err)
		}
	}
	// The checked-in captures must be the ones this scenario describes.
	compareCapture(t, inPath, s.in)
	compareCapture(t, expPath, expected)

	st, log, outPath := replayThroughVecd(t, inPath, 4095, clustersYAML)
	compareCapture(t, outPath, expected)
	if len(st.Cores) != 1 {
		t.Fatalf("%d cores in the counters", len(st.Cores))
	}
	c := st.Cores[0]
	var drops uint64
	for _, d := range c.Drops {
		drops += d
	}
	if c.RX != uint64(len(s.in)) || c.RX != c.TX+c.Replies+c.ARPLearned+drops {
		t.Errorf("rx %d (sent %d) != tx %d + replies %d + arp_learned %d + drops %d", c.RX, len(s.in), c.TX, c.Replies, c.ARPLearned, drops)
	}
	if c.Replies != replies || c.TX != uint64(len(expected))-replies {
		t.Errorf("tx %d replies %d, want %d and %d", c.TX, c.Replies, uint64(len(expected))-replies, replies)
	}
	for reason, n := range wantDrops {
		if c.Drops[reason] != n {
			t.Errorf("drops %s = %d, want %d", reason, c.Drops[reason], n)
		}
	}
	for reason, n := range c.Drops {
		if wantDrops[reason] == 0 {
			t.Errorf("unexpected drops %s = %d", reason, n)
		}
	}
	got := map[string]uint64{}
	for _, srv := range st.Servers {
		got[srv.Server] = srv.New
	}
	if fmt.Sprint(got) != fmt.Sprint(newConns) {
		t.Errorf("new connections %v, want %v", got, newConns)
	}
	if t.Failed() {
		t.Logf("vecd output:\n%s", log)
	}
	return st
}

// compareCapture checks the capture at path holds exactly frames, in order.
func compareCapture(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	got, err := pcapfile.Read(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create the golden captures)", err)
	}
	for i := range max(len(got), len(frames)) {
		switch {
		case i >= len(got):
			t.Fatalf("%s: missing packet %d of %d: %x", path, i, len(frames), frames[i])
		case i >= len(frames):
			t.Fatalf("%s: extra packet %d: %x", path, i, got[i].Data)
		case !bytes.Equal(got[i].Data, frames[i]):
			t.Fatalf("%s: packet %d differs:\n got %x\nwant %x", path, i, got[i].Data, frames[i])
		}
	}
}
