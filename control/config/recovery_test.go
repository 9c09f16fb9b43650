package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var haYAML = fullYAML + `
recovery:
  agents:
    - {name: a1, ip: 10.10.0.11, ip6: "2001:db8::11", key_file: /k/a1.key}
    - {name: a2, ip: 10.10.0.12, url: "https://10.10.0.12:9443", key_file: /k/a2.key}
  fetch_timeout: 500ms
ha:
  key_file: /k/ha.key
  interval: 50ms
  preempt: false
  gateways:
    - {name: gw1, address: "10.10.1.5:10006", priority: 200, ip: 10.10.0.1}
    - {name: gw2, address: "10.10.1.6:10006", priority: 100, ip: 10.10.0.2, ip6: "2001:db8::2"}
`

func TestRecoveryAndHASections(t *testing.T) {
	cfg := mustParse(t, haYAML)
	if err := cfg.ForNode("gw2"); err != nil {
		t.Fatal(err)
	}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	wantRecovery := RecoveryRuntime{FetchTimeout: 500 * time.Millisecond, InstallChunk: DefaultInstallChunk,
		Agents: []AgentRuntime{
			{Name: "a1", IP: netip.MustParseAddr("10.10.0.11"), IP6: netip.MustParseAddr("2001:db8::11"), URL: "http://10.10.0.11:10004",
				KeyFile: "/k/a1.key"},
			{Name: "a2", IP: netip.MustParseAddr("10.10.0.12"), URL: "https://10.10.0.12:9443", KeyFile: "/k/a2.key"},
		}}
	if !reflect.DeepEqual(rt.Recovery, wantRecovery) {
		t.Errorf("recovery = %+v\nwant %+v", rt.Recovery, wantRecovery)
	}
	wantHA := &HARuntime{Node: "gw2", KeyFile: "/k/ha.key", Interval: 50 * time.Millisecond, Skew: DefaultHASkew,
		Preempt: false, PreemptDelay: DefaultPreemptDelay, Lease: 150 * time.Millisecond,
		Gateways: []HAGatewayRuntime{
			{Name: "gw1", Address: netip.MustParseAddrPort("10.10.1.5:10006"), Priority: 200, IP: netip.MustParseAddr("10.10.0.1")},
			{Name: "gw2", Address: netip.MustParseAddrPort("10.10.1.6:10006"), Priority: 100, IP: netip.MustParseAddr("10.10.0.2"),
				IP6: netip.MustParseAddr("2001:db8::2")},
		}}
	if !reflect.DeepEqual(rt.HA, wantHA) {
		t.Errorf("ha = %+v\nwant %+v", rt.HA, wantHA)
	}
	// The node's own addresses replace gateway.ip and gateway.ip6; a node
	// without an ip6 of its own keeps gateway.ip6.
	live := mustLive(t, cfg)
	if live.GatewayIP != netip.MustParseAddr("10.10.0.2") {
		t.Errorf("gateway IP of gw2 = %v", live.GatewayIP)
	}
	if want := netip.MustParseAddr("2001:db8::2"); live.GatewayIP6 != want {
		t.Errorf("gateway IPv6 of gw2 = %v, want %v", live.GatewayIP6, want)
	}
	gw1 := cfg.Clone()
	if err := gw1.ForNode("gw1"); err != nil {
		t.Fatal(err)
	}
	if live, want := mustLive(t, gw1), netip.MustParseAddr(cfg.Gateway.IP6); live.GatewayIP6 != want {
		t.Errorf("gateway IPv6 of gw1 = %v, want gateway.ip6 %v", live.GatewayIP6, want)
	}
	if err := cfg.ForNode("gw9"); err == nil {
		t.Error("an unknown node was accepted")
	}
	// Round trip through Marshal keeps both sections.
	data, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseBytes(data)
	if err != nil {
		t.Fatalf("marshalled configuration does not parse: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(again.HA, cfg.HA) || !reflect.DeepEqual(again.Recovery, cfg.Recovery) {
		t.Errorf("round trip changed the sections:\n%+v\n%+v", again.HA, cfg.HA)
	}
	// Both sections are restart-only.
	changed := cfg.Clone()
	changed.HA.Gateways[0].Priority = 50
	if err := changed.RestartOnly(cfg); err == nil || !strings.Contains(err.Error(), "ha:") {
		t.Errorf("changing ha while running: %v", err)
	}
}

func TestRecoveryAndHAProblems(t *testing.T) {
	wantRejected(t, haYAML, []rejectedEdit{
		{"key_file: /k/a1.key}", "key_file: \"\"}", "recovery.agents[0].key_file: every agent needs its own key file"},
		{"ip: 10.10.0.12, url", "ip: 10.10.0.11, url", "recovery.agents[1].ip: 10.10.0.11 already has an agent"},
		{"url: \"https://10.10.0.12:9443\"", "url: \"ftp://x\"", "recovery.agents[1].url"},
		{"ip6: \"2001:db8::11\"", "ip6: 10.10.0.13", "recovery.agents[0].ip6: 10.10.0.13 is not an IPv6 address"},
		{"ip: 10.10.0.11, ip6", "ip: \"2001:db8::10\", ip6", "recovery.agents[0].ip6: ip 2001:db8::10 is IPv6 already"},
		{"ip: 10.10.0.12, url", "ip: \"2001:db8::11\", url", "recovery.agents[1].ip: 2001:db8::11 already has an agent"},
		{"fetch_timeout: 500ms", "fetch_timeout: -1s", "recovery.fetch_timeout"},
		{"key_file: /k/ha.key", "key_file: \"\"", "ha.key_file"},
		{"interval: 50ms", "interval: 1ms", "ha.interval"},
		{"address: \"10.10.1.6:10006\"", "address: \"10.10.1.5:10006\"", "ha.gateways[1].address"},
		{"priority: 100", "priority: 0", "ha.gateways[1].priority"},
		{"ip6: \"2001:db8::2\"", "ip6: 10.10.0.3", "ha.gateways[1].ip6: 10.10.0.3 is not an IPv6 address"},
		{"ip6: \"2001:db8::2\"", "ip6: \"fe80::2\"", "ha.gateways[1].ip6: fe80::2 is a link-local address"},
		{"address: \"10.10.1.6:10006\"", "address: \"[2001:db8:1::6]:10006\"",
			"ha.gateways[1].address: 2001:db8:1::6 is IPv6, ha.gateways[0]'s address is IPv4: the gateways' heartbeat sockets must be of one family"},
		{"  preempt: false", "  preempt: false\n  lease: 1s", "ha.lease"},
		{"  preempt: false", "  preempt: false\n  node: gw7", "ha.node"},
	})
}
