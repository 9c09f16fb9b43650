package manager_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"go.uber.org/zap"

	"vec/control/config"
	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/pktbuild"
	"vec/internal/testconfig"
)

// A VIP is live (announced over BGP) while one of its servers takes new
// connections: not quiesced, not weighted out by the weight loop, not
// draining. (The MAC condition is ServersResolved's, hasMACLocked; this
// configuration has no gateway.ip to resolve by ARP from.)
func TestLiveVIPs(t *testing.T) {
	e := newEnv(t)
	live := func(want ...string) {
		t.Helper()
		var addrs []netip.Addr
		for _, w := range want {
			addrs = append(addrs, netip.MustParseAddr(w))
		}
		if got := e.m.LiveVIPs(); !slices.Equal(got, addrs) {
			t.Errorf("live VIPs %v, want %v", got, addrs)
		}
	}
	live("10.1.0.100")
	on, off := true, false
	quiesce := func(q *bool) {
		for _, s := range []string{"s1", "s2"} {
			e.mustMutate("quiesce", func(c *config.Config) error {
				return manager.UpdateServer(c, "10.1.0.100", "http", s, manager.ServerPatch{Quiesced: q})
			})
		}
	}
	quiesce(&on)
	live()
	quiesce(&off)
	live("10.1.0.100")

	// The weight loop computes 0 for both servers.
	st := e.m.Status()
	zero := map[fastpath.ServerID]int{}
	for key, id := range names(e.m) {
		if key == "http/s1" || key == "http/s2" {
			zero[fastpath.ServerID(id)] = 0
		}
	}
	if len(zero) != 2 {
		t.Fatalf("server IDs %v", names(e.m))
	}
	if err := e.m.SetComputedWeights(context.Background(), st.Generation, zero); err != nil {
		t.Fatal(err)
	}
	live()
	if err := e.m.SetComputedWeights(context.Background(), st.Generation, nil); err != nil {
		t.Fatal(err)
	}
	live("10.1.0.100")

	// Removed: its service drains, and is not announced any more.
	e.mustMutate("remove 10.1.0.100", func(c *config.Config) error { return manager.RemoveCluster(c, "10.1.0.100") })
	live()
}

// A server given by address only makes its VIP live once it has answered
// ARP.
func TestLiveVIPWaitsForARP(t *testing.T) {
	m, dp, _ := managertest.Start(t, managertest.OneWorker+`
clusters:
`+testconfig.HTTPCluster("10.1.0.100", nil, "{name: s1, ip: 10.1.0.11, weight: 1}"), manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel(), Neighbors: fastpath.NewNeighbors(16)})
	if got := m.LiveVIPs(); len(got) != 0 {
		t.Fatalf("live VIPs %v before the server answered ARP", got)
	}
	serverMAC := pktbuild.MAC{2, 0, 0, 0, 0, 0x11}
	reply := pktbuild.ARP(2, pktbuild.MAC(managertest.PortMAC), serverMAC, netip.MustParseAddr("10.1.0.11"),
		netip.MustParseAddr("10.1.0.1"), pktbuild.MAC(managertest.PortMAC))
	dp.Process(0, reply)
	m.CheckNeighbors(context.Background())
	if got := m.LiveVIPs(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.1.0.100")}) {
		t.Errorf("live VIPs %v after the server answered ARP, want 10.1.0.100", got)
	}
}
