package main

import (
	"net/netip"
	"slices"
	"testing"

	"vec/control/config"
	"vec/control/ids"
)

// A VIP is announced while one of its servers would take a new connection.
func TestLiveVIPs(t *testing.T) {
	names := []ids.Name{
		// 192.0.2.10: web1 resolved by ARP; web2 quiesced.
		{VIP: "192.0.2.10", Service: "http", Server: "web1", IP: "10.0.0.1", EffectiveWeight: 3},
		{VIP: "192.0.2.10", Service: "http", Server: "web2", IP: "10.0.0.2", EffectiveWeight: 0, Quiesced: true},
		// 192.0.2.11: its only server has a configured MAC.
		{VIP: "192.0.2.11", Service: "dns", Server: "ns1", IP: "10.0.0.3", EffectiveWeight: 1},
		// 192.0.2.12: not resolved.
		{VIP: "192.0.2.12", Service: "smtp", Server: "mx1", IP: "10.0.0.4", EffectiveWeight: 1},
		// 192.0.2.13: removed, draining.
		{VIP: "192.0.2.13", Service: "ftp", Server: "f1", IP: "10.0.0.1", EffectiveWeight: 0, Draining: true},
		// 192.0.2.14: weighted out (a computed weight of 0).
		{VIP: "192.0.2.14", Service: "http", Server: "web1", IP: "10.0.0.1", EffectiveWeight: 0},
	}
	static := map[serverKey]bool{{"192.0.2.11", "dns", "ns1"}: true}
	resolved := map[uint32]bool{0x0a000001: true, 0x0a000002: true}
	got := liveVIPs(names, static, resolved)
	want := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")}
	if !slices.Equal(got, want) {
		t.Errorf("live VIPs %v, want %v", got, want)
	}
	if got := liveVIPs(names, nil, nil); len(got) != 0 {
		t.Errorf("nothing resolved, no MAC configured: live VIPs %v", got)
	}
}

func TestStaticServers(t *testing.T) {
	cfg := &config.Config{Clusters: []config.Cluster{{VIP: "192.0.2.11", Services: []config.Service{{Name: "dns",
		Servers: []config.Server{{Name: "ns1", MAC: "02:00:00:00:00:01"}, {Name: "ns2"}}}}}}}
	got := staticServers(cfg)
	if !got[serverKey{"192.0.2.11", "dns", "ns1"}] || got[serverKey{"192.0.2.11", "dns", "ns2"}] || len(got) != 1 {
		t.Errorf("static servers %v, want ns1 alone", got)
	}
}
