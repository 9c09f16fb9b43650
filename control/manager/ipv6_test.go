package manager

import (
	"net/netip"
	"slices"
	"testing"

	"vec/control/config"
	"vec/control/ids"
)

// silentVIPs lists the removed clusters' VIPs of both families, each once;
// a VIP a live service still has keeps answering.
func TestSilentVIPsBothFamilies(t *testing.T) {
	removed4, removed6 := netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("2001:db8::200")
	live4, live6 := netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("2001:db8::100")
	svc := func(vip netip.Addr, port uint16, draining bool) ids.Service {
		return ids.Service{Key: ids.ServiceKey{VIP: vip, Proto: config.ProtoTCP, Port: port}, Draining: draining}
	}
	state := ids.State{Services: []ids.Service{
		svc(live4, 80, false), svc(live6, 80, false),
		svc(live4, 81, true), svc(live6, 81, true), // a live VIP keeps answering
		svc(removed4, 80, true), svc(removed4, 81, true), svc(removed6, 80, true), svc(removed6, 81, true),
	}}
	if got, want := silentVIPs(state), []netip.Addr{removed4, removed6}; !slices.Equal(got, want) {
		t.Errorf("silentVIPs = %v, want %v", got, want)
	}
}

// The API names clusters and servers by address in any spelling.
func TestFindByAddressInAnySpelling(t *testing.T) {
	c := &config.Config{Clusters: []config.Cluster{
		{VIP: "10.0.0.100", Services: []config.Service{{Name: "http", Servers: []config.Server{{Name: "s1", IP: "10.0.0.11"}}}}},
		{VIP: "2001:db8::100", Services: []config.Service{{Name: "http", Servers: []config.Server{{Name: "s1", IP: "2001:DB8::11"}}}}},
	}}
	if ci, err := FindCluster(c, "2001:DB8:0:0::100"); err != nil || ci != 1 {
		t.Errorf("FindCluster(2001:DB8:0:0::100) = %d, %v; want 1", ci, err)
	}
	if ci, err := FindCluster(c, "10.0.0.100"); err != nil || ci != 0 {
		t.Errorf("FindCluster(10.0.0.100) = %d, %v; want 0", ci, err)
	}
	if _, _, vi, err := FindServer(c, "2001:db8::100", "http", "2001:db8::11"); err != nil || vi != 0 {
		t.Errorf("FindServer by 2001:db8::11 = %d, %v; want server 0", vi, err)
	}
	if _, err := FindCluster(c, "2001:db8::101"); err == nil {
		t.Error("FindCluster found 2001:db8::101")
	}
	err := AddServer(c, "2001:db8::100", "http", config.Server{Name: "s2", IP: "2001:db8:0::11"})
	if _, conflict := err.(*ConflictError); !conflict {
		t.Errorf("adding a second server at 2001:db8::11: %v, want a ConflictError", err)
	}
}
