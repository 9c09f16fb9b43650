package manager_test

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/testconfig"
)

// encapYAML has a gue service (VIP 10.1.0.100) whose servers sit behind
// the router 10.1.0.254, and a dsr service (VIP 10.1.0.200) whose server
// is on the link, both resolved by ARP.
var encapYAML = managertest.OneWorker + `
encapsulation: {next_hop: 10.1.0.254}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", []string{"forwarding: gue"}, "{name: r1, ip: 10.2.0.11, weight: 1}") +
	testconfig.HTTPCluster("10.1.0.200", nil, "{name: d1, ip: 10.1.0.21, weight: 1}")

var (
	routedVIP = netip.MustParseAddr("10.1.0.100")
	onLinkVIP = netip.MustParseAddr("10.1.0.200")
	nextHop   = netip.MustParseAddr("10.1.0.254")
)

// arpReply is the ARP reply of ip at mac to the gateway's request.
func arpReply(ip netip.Addr, mac pktbuild.MAC) []byte {
	return pktbuild.ARP(2, pktbuild.MAC(managertest.PortMAC), mac, ip, netip.MustParseAddr("10.1.0.1"), pktbuild.MAC(managertest.PortMAC))
}

// synTo sends a SYN to vip:80 through dp, in a buffer with room for the
// outer headers before it, and returns the verdict and the frame the core
// left (the encapsulated one when it encapsulated).
func synTo(dp *managertest.Dataplane, vip netip.Addr, port uint16) (fastpath.Verdict, []byte) {
	f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: vip, SrcPort: port, DstPort: 80}
	p := pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)
	buf := make([]byte, fastpath.EncapHeadroom+len(p))
	frames := [][]byte{buf[fastpath.EncapHeadroom:]}
	copy(frames[0], p)
	v := dp.Process(0, frames...)
	return v[0], frames[0]
}

// A server of an encapsulating service with a next hop is addressable once
// the next hop has answered ARP, not the server (which is not on the
// link): the snapshot marks it resolved, and LiveVIPs and ServersResolved
// count it. A dsr server still waits for its own reply.
func TestEncapsulatedServersWaitForTheNextHop(t *testing.T) {
	m, dp, _ := managertest.Start(t, encapYAML, manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel(),
		Neighbors: fastpath.NewNeighbors(16)})
	dp.SetHeadroom(fastpath.EncapHeadroom)
	if got := m.LiveVIPs(); len(got) != 0 {
		t.Fatalf("live VIPs %v before any ARP reply", got)
	}
	if v, _ := synTo(dp, routedVIP, 1001); v != fastpath.DropVerdict(fastpath.DropServerUnresolved) {
		t.Fatalf("SYN before the next hop answered: verdict %v, want a server_unresolved drop", v)
	}

	// The server's own address is not what its packets depend on.
	dp.Process(0, arpReply(netip.MustParseAddr("10.2.0.11"), pktbuild.MAC{2, 0, 0, 0, 0, 0x11}))
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); len(got) != 0 {
		t.Fatalf("live VIPs %v after an ARP reply from the routed server itself", got)
	}

	hopMAC := pktbuild.MAC{2, 0, 0, 0, 0, 0xfe}
	dp.Process(0, arpReply(nextHop, hopMAC))
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); !slices.Equal(got, []netip.Addr{routedVIP}) {
		t.Errorf("live VIPs %v after the next hop answered, want only %v (the dsr server has not answered)", got, routedVIP)
	}
	if m.ServersResolved() {
		t.Error("ServersResolved with the dsr server unresolved")
	}
	v, frame := synTo(dp, routedVIP, 1002)
	if v != fastpath.VerdictForward {
		t.Fatalf("SYN after the next hop answered: verdict %v, want forward", v)
	}
	eth := header.Ethernet(frame)
	outer := header.IPv4(eth.Payload())
	if dst := [6]byte(eth.Destination()); dst != [6]byte(hopMAC) {
		t.Errorf("encapsulated frame sent to %x, want the next hop's %x", dst, hopMAC)
	}
	if outer.Protocol() != header.UDPProtocolNumber || outer.DestinationAddr() != netip.MustParseAddr("10.2.0.11") {
		t.Errorf("outer packet: protocol %d to %v, want UDP to the server 10.2.0.11", outer.Protocol(), outer.DestinationAddr())
	}

	dp.Process(0, arpReply(netip.MustParseAddr("10.1.0.21"), pktbuild.MAC{2, 0, 0, 0, 0, 0x21}))
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); !slices.Equal(got, []netip.Addr{routedVIP, onLinkVIP}) {
		t.Errorf("live VIPs %v after every neighbor answered, want both", got)
	}
	if !m.ServersResolved() {
		t.Error("ServersResolved false with every neighbor resolved")
	}
}

// A reload may move the encapsulating services to another next hop: their
// servers wait for the new one's ARP reply, and the old one's slot in the
// neighbor table is released.
func TestNextHopChangesLive(t *testing.T) {
	neighbors := fastpath.NewNeighbors(16)
	m, dp, path := managertest.Start(t, encapYAML, manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel(),
		Neighbors: neighbors})
	dp.Process(0, arpReply(nextHop, pktbuild.MAC{2, 0, 0, 0, 0, 0xfe}))
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); !slices.Equal(got, []netip.Addr{routedVIP}) {
		t.Fatalf("live VIPs %v, want %v", got, routedVIP)
	}

	newHop := netip.MustParseAddr("10.1.0.253")
	if err := os.WriteFile(path, []byte(strings.Replace(encapYAML, "next_hop: 10.1.0.254", "next_hop: 10.1.0.253", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(context.Background(), "test", false); err != nil {
		t.Fatalf("reload with a new next hop: %v", err)
	}
	if got := m.LiveVIPs(); len(got) != 0 {
		t.Errorf("live VIPs %v before the new next hop answered", got)
	}
	tracked := neighbors.ResolvedIPs(dp.Clock.Now())
	if _, ok := tracked[nextHop]; ok {
		t.Errorf("the old next hop is still in the neighbor table: %v", tracked)
	}
	if _, ok := tracked[newHop]; !ok {
		t.Errorf("the new next hop is not in the neighbor table: %v", tracked)
	}
	dp.Process(0, arpReply(newHop, pktbuild.MAC{2, 0, 0, 0, 0, 0xfd}))
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); !slices.Equal(got, []netip.Addr{routedVIP}) {
		t.Errorf("live VIPs %v after the new next hop answered, want %v", got, routedVIP)
	}
}
