package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var bgpYAML = fullYAML + `
bgp:
  local_as: 4200000001
  local_address: 198.51.100.5
  communities: ["65001:100", "65001:200"]
  peers:
    - {address: 198.51.100.1, as: 65000}
    - {address: 198.51.100.2, as: 65000, port: 1179, password: s3cret}
`

func TestBGPSection(t *testing.T) {
	rt, err := mustParse(t, bgpYAML).Runtime()
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParseAddr("10.10.0.1") // gateway.ip of the full example
	want := &BGPRuntime{LocalAS: 4200000001, RouterID: gw, NextHop: gw, LocalAddress: netip.MustParseAddr("198.51.100.5"),
		HoldTime: 3 * time.Second, ConnectRetry: time.Second, Communities: []uint32{65001<<16 | 100, 65001<<16 | 200},
		Peers: []BGPPeerRuntime{
			{Address: netip.MustParseAddr("198.51.100.1"), AS: 65000, Port: 179},
			{Address: netip.MustParseAddr("198.51.100.2"), AS: 65000, Port: 1179, Password: "s3cret"},
		}}
	if !reflect.DeepEqual(rt.BGP, want) {
		t.Errorf("bgp runtime\n%+v\nwant\n%+v", rt.BGP, want)
	}
	if FormatCommunity(rt.BGP.Communities[1]) != "65001:200" {
		t.Errorf("FormatCommunity = %q", FormatCommunity(rt.BGP.Communities[1]))
	}

	doc := strings.Replace(bgpYAML, "  local_as: 4200000001\n",
		"  local_as: 65001\n  router_id: 192.0.2.250\n  next_hop: 10.10.0.7\n  hold_time: 9s\n  connect_retry: 5s\n", 1)
	rt, err = mustParse(t, doc).Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if b := rt.BGP; b.RouterID.String() != "192.0.2.250" || b.NextHop.String() != "10.10.0.7" || b.HoldTime != 9*time.Second ||
		b.ConnectRetry != 5*time.Second {
		t.Errorf("explicit settings: %+v", b)
	}

	rt, err = mustParse(t, fullYAML).Runtime()
	if err != nil || rt.BGP != nil {
		t.Errorf("without a bgp section: BGP %+v, error %v", rt.BGP, err)
	}
}

func TestBGPProblems(t *testing.T) {
	wantRejected(t, bgpYAML, []rejectedEdit{
		{"local_as: 4200000001", "local_as: 0", "bgp.local_as: 0 is not an AS number"},
		{"local_as: 4200000001", "local_as: 4294967296", "bgp.local_as: 4294967296 is not an AS number"},
		{"{address: 198.51.100.1, as: 65000}", "{address: 198.51.100.1, as: -1}", "bgp.peers[0].as: -1 is not an AS number"},
		{"{address: 198.51.100.1, as: 65000}", "{address: 198.51.100.300, as: 65000}", "bgp.peers[0].address: \"198.51.100.300\" is not an IPv4 address"},
		{"{address: 198.51.100.1, as: 65000}", "{address: \"2001:db8::1\", as: 65000}", "bgp.peers[0].address"},
		{"{address: 198.51.100.1, as: 65000}", "{as: 65000}", "bgp.peers[0].address: address is required"},
		{"address: 198.51.100.2,", "address: 198.51.100.1,", "bgp.peers[1].address: 198.51.100.1 is already bgp.peers[0]"},
		{"address: 198.51.100.2,", "address: 198.51.100.5,", "bgp.peers[1].address: 198.51.100.5 is bgp.local_address itself"},
		{"port: 1179", "port: 70000", "bgp.peers[1].port: 70000 is outside 1..65535"},
		{"password: s3cret", "password: " + strings.Repeat("x", 81), "bgp.peers[1].password"},
		{`"65001:200"`, `"65001:70000"`, `bgp.communities[1]: "65001:70000" is not a community`},
		{`"65001:200"`, `"no-export"`, `bgp.communities[1]: "no-export" is not a community`},
		{`"65001:200"`, `"65001:100"`, `bgp.communities[1]: 65001:100 is listed twice`},
		{"  local_as: 4200000001\n", "  local_as: 65001\n  hold_time: 1s\n", "bgp.hold_time: 1s is outside 3s..18h12m15s"},
		{"  local_as: 4200000001\n", "  local_as: 65001\n  hold_time: 3500ms\n", "bgp.hold_time: 3.5s is not a whole number of seconds"},
		{"  local_as: 4200000001\n", "  local_as: 65001\n  connect_retry: 500ms\n", "bgp.connect_retry: 500ms is outside 1s..1h0m0s"},
		{"  local_as: 4200000001\n", "  local_as: 65001\n  next_hop: 127.0.0.1\n", "bgp.next_hop: 127.0.0.1 is a loopback address"},
		{"  local_as: 4200000001\n", "  local_as: 65001\n  router_id: 0.0.0.0\n", "bgp.router_id: 0.0.0.0 is not a usable host address"},
		{"  peers:\n    - {address: 198.51.100.1, as: 65000}\n    - {address: 198.51.100.2, as: 65000, port: 1179, password: s3cret}\n",
			"  peers: []\n", "bgp.peers: 0 peers listed, want 1..64"},
	})
	// Without gateway.ip, the router ID and next hop must be given.
	doc := strings.Replace(bgpYAML, "  ip: 10.10.0.1\n", "", 1)
	_, err := ParseBytes([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "bgp.next_hop: required when gateway.ip is not set") ||
		!strings.Contains(err.Error(), "bgp.router_id: required when gateway.ip is not set") {
		t.Errorf("no gateway.ip: %v", err)
	}
}

// The bgp section takes effect at start-up only; a copy is deep.
func TestBGPRestartOnlyAndClone(t *testing.T) {
	cfg := mustParse(t, bgpYAML)
	cp := cfg.Clone()
	cp.BGP.Peers[0].AS = 65010
	cp.BGP.Communities[0] = "1:1"
	if cfg.BGP.Peers[0].AS != 65000 || cfg.BGP.Communities[0] != "65001:100" {
		t.Fatal("changing the clone's bgp section changed the original")
	}
	if err := cp.RestartOnly(cfg); err == nil || !strings.Contains(err.Error(), "bgp: cannot change while vecd runs") {
		t.Errorf("RestartOnly with another bgp section: %v", err)
	}
	if err := cfg.Clone().RestartOnly(cfg); err != nil {
		t.Errorf("RestartOnly with the same bgp section: %v", err)
	}
}

// vecctl config save writes the bgp section back as it was read.
func TestBGPMarshalRoundTrip(t *testing.T) {
	cfg := mustParse(t, strings.Replace(bgpYAML, "  local_as: 4200000001\n", "  local_as: 4200000001\n  hold_time: 6s\n", 1))
	out, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseBytes(out)
	if err != nil {
		t.Fatalf("the marshalled configuration does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.BGP, cfg.BGP) {
		t.Errorf("round trip changed the bgp section:\n%+v\nwant\n%+v", back.BGP, cfg.BGP)
	}
}
