package gateway

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"vec/fastpath/pktbuild"
)

// TestSilencedReadsReplyAddresses checks that silenced finds the address a
// reply answers for where the fastpath writes it: the sender of an ARP
// reply, the source of an echo reply; and that it counts what it silences.
func TestSilencedReadsReplyAddresses(t *testing.T) {
	gw, client := pktbuild.MAC{2, 0, 0, 0, 0, 1}, pktbuild.MAC{2, 0, 0, 0, 0, 2}
	removed, kept := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	clientIP := netip.MustParseAddr("10.0.9.9")
	arpReply := func(vip netip.Addr) []byte {
		return pktbuild.ARP(2, client, gw, vip, clientIP, client)
	}
	echoReply := func(vip netip.Addr) []byte {
		f := pktbuild.Flow{SrcMAC: gw, DstMAC: client, SrcIP: vip, DstIP: clientIP}
		return pktbuild.ICMP(f, pktbuild.ICMPEchoReply, 0, [4]byte{0, 1, 0, 1}, []byte("ping"))
	}
	r4 := removed.As4()
	w := &worker{silentVIPs: []uint32{binary.BigEndian.Uint32(r4[:])}}
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
	} {
		if got := w.silenced(c.frame); got != c.want {
			t.Errorf("%s: silenced = %v, want %v", c.name, got, c.want)
		}
	}
	if w.arpSilenced != 2 {
		t.Errorf("arpSilenced = %d, want 2", w.arpSilenced)
	}
}
