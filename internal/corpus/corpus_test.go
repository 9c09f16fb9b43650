package corpus

import (
	"bytes"
	"testing"

	"vec/fastpath/pktbuild"
)

// Every frame the corpus expects vecd to send passes the checker, and the
// corpus covers what issue 13 asks for.
func TestCorpusOutputsPassTheChecker(t *testing.T) {
	c, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	ch := NewChecker()
	for i, e := range c.Expect {
		if e.Out == nil {
			continue
		}
		if err := ch.Check(e.Out); err != nil {
			t.Errorf("frame %d (%s): %v", i, e.Note, err)
		}
	}
	drops := c.DropTotals()
	for _, reason := range []string{"malformed_ethernet", "ipv4_truncated", "ipv4_bad_version", "ipv4_bad_ihl",
		"ipv4_bad_total_length", "ipv4_fragment", "ipv4_options", "tcp_truncated", "tcp_bad_data_offset",
		"udp_truncated", "udp_bad_length", "non_syn_miss", "bad_syn", "vlan_tagged", "unsupported_l3",
		"not_our_mac", "not_for_cluster", "oversize", "malformed_arp", "arp_ignored", "server_unresolved",
		"icmp_malformed", "icmp_no_flow", "icmp_unhandled"} {
		if drops[reason] == 0 {
			t.Errorf("no frame is dropped as %s", reason)
		}
	}
	if c.Count(Reply) == 0 || c.Count(Learned) == 0 || c.Count(Forward) == 0 {
		t.Errorf("forwards %d, replies %d, learned %d: want some of each", c.Count(Forward), c.Count(Reply), c.Count(Learned))
	}
}

// The checker is not satisfied by any frame with the gateway's source MAC:
// each of these is something vecd must never send.
func TestCheckerRejects(t *testing.T) {
	fl := pktbuild.Flow{SrcMAC: GatewayMAC, DstMAC: server("s1").MAC, SrcIP: clientIP, DstIP: VIPA, SrcPort: 1000, DstPort: 80}
	good := pktbuild.TCP(fl, pktbuild.SYN, 1, 0, nil)
	ch := NewChecker()
	if err := ch.Check(good); err != nil {
		t.Fatalf("a SYN to s1: %v", err)
	}
	edit := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, p := range map[string][]byte{
		"another source MAC":          edit(func(p []byte) []byte { p[11] = 9; return p }),
		"a server of another service": edit(func(p []byte) []byte { p[5] = 0x15; return p }),
		"the flow's second server":    edit(func(p []byte) []byte { p[5] = 0x12; return p }),
		"a VLAN tag":                  tag(good, 0x8100, 10),
		"a bad IPv4 checksum":         edit(func(p []byte) []byte { p[24]++; return p }),
		"IPv4 options":                withIPOptions(good, []byte{1, 1, 1, 0}),
		"a fragment":                  edit(func(p []byte) []byte { p[20] = 0x20; fixIPv4Checksum(p[14:]); return p }),
		"a bad data offset":           edit(func(p []byte) []byte { p[46] = 0x60; return p }),
		"no service":                  edit(func(p []byte) []byte { p[37] = 81; return p }),
		"oversize":                    pad(bytes.Clone(good), MaxFrameLen+1, 0),
		"an ICMP error about no flow": icmpFrame(routerIP, VIPA, 3, 4,
			sentByServer(pktbuild.Flow{SrcIP: clientIP, DstIP: VIPA, SrcPort: 9, DstPort: 80}, false, 8)),
		"an ARP request": pktbuild.ARP(1, pktbuild.Broadcast, GatewayMAC, VIPA, requester, pktbuild.MAC{}),
	} {
		if name == "an ICMP error about no flow" {
			copy(p[0:6], fl.DstMAC[:])
			copy(p[6:12], GatewayMAC[:])
		}
		if err := ch.Check(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
