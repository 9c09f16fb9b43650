package gateway

import (
	"net/netip"
	"testing"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// TestSilencedReadsReplyAddresses checks that silenced finds the address a
// reply answers for where the fastpath writes it: the sender of an ARP
// reply, the target of a Neighbor Advertisement, the source of an ICMP or
// ICMPv6 echo reply; and that it counts what it silences.
func TestSilencedReadsReplyAddresses(t *testing.T) {
	gw, client := pktbuild.MAC{2, 0, 0, 0, 0, 1}, pktbuild.MAC{2, 0, 0, 0, 0, 2}
	removed, kept := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	removed6, kept6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	clientIP, client6 := netip.MustParseAddr("10.0.9.9"), netip.MustParseAddr("2001:db8::9:9")
	arpReply := func(vip netip.Addr) []byte {
		return pktbuild.ARP(2, client, gw, vip, clientIP, client)
	}
	echoReply := func(vip netip.Addr) []byte {
		f := pktbuild.Flow{SrcMAC: gw, DstMAC: client, SrcIP: vip, DstIP: clientIP}
		return pktbuild.ICMP(f, pktbuild.ICMPEchoReply, 0, [4]byte{0, 1, 0, 1}, []byte("ping"))
	}
	na := func(vip netip.Addr) []byte { return pktbuild.NeighborAdvertisement(gw, client, vip, client6) }
	echoReply6 := func(vip netip.Addr) []byte {
		f := pktbuild.Flow{SrcMAC: gw, DstMAC: client, SrcIP: vip, DstIP: client6}
		return pktbuild.ICMPv6(f, 64, header.ICMPv6EchoReply, 0, [4]byte{0, 1, 0, 1}, []byte("ping"))
	}
	// A Neighbor Advertisement for a kept VIP, sent from the removed one:
	// the target is what it answers for.
	naFromRemoved := na(kept6)
	copy(naFromRemoved[header.UntaggedIPv6Offset+header.IPv6SrcAddrOffset:], removed6.AsSlice())
	// Another ICMPv6 message from a removed VIP is no answer for it.
	unreachable6 := pktbuild.ICMPv6(pktbuild.Flow{SrcMAC: gw, DstMAC: client, SrcIP: removed6, DstIP: client6}, 64, 1, 4, [4]byte{}, nil)
	w := &worker{silentVIPs: []netip.Addr{removed, removed6}}
	for _, c := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"ARP reply for a removed VIP", arpReply(removed), true},
		{"ARP reply for a kept VIP", arpReply(kept), false},
		{"echo reply from a removed VIP", echoReply(removed), true},
		{"echo reply from a kept VIP", echoReply(kept), false},
		{"truncated ARP reply", arpReply(removed)[:30], false},
		{"runt", []byte{1, 2, 3}, false},
		{"Neighbor Advertisement for a removed VIP", na(removed6), true},
		{"Neighbor Advertisement for a kept VIP", na(kept6), false},
		{"Neighbor Advertisement for a kept VIP from a removed one", naFromRemoved, false},
		{"ICMPv6 echo reply from a removed VIP", echoReply6(removed6), true},
		{"ICMPv6 echo reply from a kept VIP", echoReply6(kept6), false},
		{"port unreachable from a removed VIP", unreachable6, false},
		{"truncated Neighbor Advertisement", na(removed6)[:header.UntaggedIPv6L4Offset+header.NDPTargetOffset+15], false},
		{"truncated IPv6 header", echoReply6(removed6)[:header.UntaggedIPv6L4Offset-1], false},
	} {
		if got := w.silenced(c.frame); got != c.want {
			t.Errorf("%s: silenced = %v, want %v", c.name, got, c.want)
		}
	}
	if w.arpSilenced != 4 {
		t.Errorf("arpSilenced = %d, want 4", w.arpSilenced)
	}
}
