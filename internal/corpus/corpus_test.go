package corpus

import (
	"bytes"
	"testing"

	"vec/fastpath/header"
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
		"icmp_malformed", "icmp_no_flow", "icmp_unhandled", "ipv6_truncated", "ipv6_bad_version", "ipv6_bad_length",
		"ipv6_extension", "malformed_ndp", "ndp_ignored"} {
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
	to := func(name string) func(p []byte) []byte {
		return func(p []byte) []byte { mac := server(name).MAC; header.Ethernet(p).SetDestination(mac[:]); return p }
	}
	tcp := func(p []byte) header.TCP { return header.TCP(p[l4At:]) }
	for name, p := range map[string][]byte{
		"another source MAC":          edit(func(p []byte) []byte { header.Ethernet(p).Source()[header.MACLen-1] = 9; return p }),
		"a server of another service": edit(to("s5")),
		"the flow's second server":    edit(to("s2")),
		"a VLAN tag":                  tag(good, 0x8100, 10),
		"a bad IPv4 checksum":         edit(func(p []byte) []byte { ip := ipv4Of(p); ip.SetChecksum(ip.Checksum() + 0x100); return p }),
		"IPv4 options":                withIPOptions(good, []byte{1, 1, 1, 0}),
		"a fragment":                  edit(func(p []byte) []byte { ipv4Of(p).SetFlagsFragment(0x2000); fixIPv4Checksum(ipv4Of(p)); return p }),
		"a bad data offset":           edit(func(p []byte) []byte { tcp(p).SetDataOffset(24); return p }),
		"no service":                  edit(func(p []byte) []byte { tcp(p).SetDestinationPort(81); return p }),
		"oversize":                    pad(bytes.Clone(good), MaxFrameLen+1, 0),
		"an ICMP error about no flow": icmpFrame(routerIP, VIPA, 3, 4,
			sentByServer(pktbuild.Flow{SrcIP: clientIP, DstIP: VIPA, SrcPort: 9, DstPort: 80}, false, 8)),
		"an ARP request": pktbuild.ARP(1, pktbuild.Broadcast, GatewayMAC, VIPA, requester, pktbuild.MAC{}),
	} {
		if name == "an ICMP error about no flow" {
			header.Ethernet(p).SetDestination(fl.DstMAC[:])
			header.Ethernet(p).SetSource(GatewayMAC[:])
		}
		if err := ch.Check(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
