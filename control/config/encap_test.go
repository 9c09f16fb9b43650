package config

import (
	"net/netip"
	"testing"

	"vec/internal/limits"
)

// The full example's encapsulation section and its gue service (the
// disabled clusters[1].services[0]) come out of Live as written; the
// other services forward by dsr and have no GUE port.
func TestEncapsulationCompiled(t *testing.T) {
	live := mustLive(t, parseFull(t))
	want := EncapSpec{Source: netip.MustParseAddr("10.10.0.2"), NextHop: netip.MustParseAddr("10.10.0.254"), MTU: 1480}
	if live.Encap != want {
		t.Errorf("Encap = %+v, want %+v", live.Encap, want)
	}
	for _, s := range live.Services {
		wantFwd, wantPort := ForwardDSR, uint16(0)
		if s.Name == "retired" {
			wantFwd, wantPort = ForwardGUE, 7000
		}
		if s.Forwarding != wantFwd || s.GUEPort != wantPort {
			t.Errorf("%s: forwarding %q port %d, want %q port %d", ServiceRef(s), s.Forwarding, s.GUEPort, wantFwd, wantPort)
		}
	}
}

// Left out, the source is the gateway's address (this node's under ha),
// the MTU 1500, no next hop, and a gue service's port 6080.
func TestEncapsulationDefaults(t *testing.T) {
	cfg := parseFull(t)
	cfg.Encapsulation = Encapsulation{}
	cfg.Clusters[0].Services[0].Forwarding = ForwardIPIP
	cfg.Clusters[1].Services[0].GUEPort = 0
	cfg.Clusters[1].Services[0].Servers[0].MAC = "02:00:00:00:00:31"
	live := mustLive(t, cfg)
	want := EncapSpec{Source: netip.MustParseAddr("10.10.0.1"), MTU: limits.DefaultEncapMTU}
	if live.Encap != want {
		t.Errorf("Encap = %+v, want %+v", live.Encap, want)
	}
	byName := map[string]ServiceSpec{}
	for _, s := range live.Services {
		byName[s.Name] = s
	}
	if s := byName["http"]; s.Forwarding != ForwardIPIP || s.GUEPort != 0 {
		t.Errorf("ipip service: forwarding %q port %d, want ipip port 0", s.Forwarding, s.GUEPort)
	}
	if s := byName["retired"]; s.Forwarding != ForwardGUE || s.GUEPort != limits.DefaultGUEPort {
		t.Errorf("gue service: forwarding %q port %d, want gue port %d", s.Forwarding, s.GUEPort, limits.DefaultGUEPort)
	}
	if s := byName["dns"]; s.Forwarding != ForwardDSR {
		t.Errorf("service without forwarding: %q, want %q", s.Forwarding, ForwardDSR)
	}

	// Under ha, the default source is this node's address.
	cfg.HA = HA{Node: "a", KeyFile: "/k/ha.key", Gateways: []HAGateway{
		{Name: "a", Address: "198.51.100.1:10006", Priority: 100, IP: "10.10.0.2"},
		{Name: "b", Address: "198.51.100.2:10006", Priority: 50, IP: "10.10.0.3"},
	}}
	if live := mustLive(t, cfg); live.Encap.Source != netip.MustParseAddr("10.10.0.2") {
		t.Errorf("under ha, source %v, want the node's 10.10.0.2", live.Encap.Source)
	}
}

// Ports smaller than the default encapsulation MTU need no encapsulation
// section while no service encapsulates.
func TestSmallPortsWithoutEncapsulation(t *testing.T) {
	cfg := parseFull(t)
	cfg.Encapsulation = Encapsulation{}
	cfg.Clusters[1].Services[0] = cfg.Clusters[1].Services[1]
	cfg.Clusters[1].Services[0].Name, cfg.Clusters[1].Services[0].Port = "other", 8080
	cfg.Ports[0].MTU = 1400
	if err := cfg.Validate(); err != nil {
		t.Fatalf("rejected: %v", err)
	}
}

// Each mistake of the encapsulating modes is reported as one problem
// naming its field.
func TestEncapsulationRejections(t *testing.T) {
	gue := func(c *Config) *Service { return &c.Clusters[1].Services[0] }
	http := func(c *Config) *Service { return &c.Clusters[0].Services[0] }
	for _, tt := range []struct {
		name      string
		mutate    func(c *Config)
		wantField string
		wantMsg   string
	}{
		{"unknown forwarding", func(c *Config) { http(c).Forwarding = "vxlan" },
			"clusters[0].services[0].forwarding", `"vxlan" is not dsr, ipip or gue`},
		{"gue_port without gue", func(c *Config) { http(c).GUEPort = 6080 },
			"clusters[0].services[0].gue_port", "only a service with forwarding: gue has a GUE port"},
		{"gue_port on ipip", func(c *Config) { gue(c).Forwarding = ForwardIPIP },
			"clusters[1].services[0].gue_port", "only a service with forwarding: gue"},
		{"gue_port out of range", func(c *Config) { gue(c).GUEPort = 65536 },
			"clusters[1].services[0].gue_port", "65536 is not in 1..65535"},
		{"negative gue_port", func(c *Config) { gue(c).GUEPort = -1 },
			"clusters[1].services[0].gue_port", "-1 is not in 1..65535"},
		{"no source", func(c *Config) {
			withoutNextHop(c)
			c.Gateway.IP, c.Encapsulation.Source = "", ""
		}, "clusters[1].services[0].forwarding", "gue needs the outer packets' source address: set encapsulation.source or gateway.ip"},
		{"malformed source", func(c *Config) { c.Encapsulation.Source = "10.10.0" },
			"encapsulation.source", `"10.10.0" is not an IPv4 address`},
		{"next hop is a VIP", func(c *Config) { c.Encapsulation.NextHop = "10.10.0.200" },
			"encapsulation.next_hop", "10.10.0.200 is a VIP"},
		{"next hop is the gateway", func(c *Config) { c.Encapsulation.NextHop = "10.10.0.1" },
			"encapsulation.next_hop", "10.10.0.1 is the gateway's own address"},
		{"next hop is the source", func(c *Config) { c.Encapsulation.NextHop = "10.10.0.2" },
			"encapsulation.next_hop", "10.10.0.2 is encapsulation.source"},
		{"malformed next hop", func(c *Config) { c.Encapsulation.NextHop = "router" },
			"encapsulation.next_hop", `"router" is not an IPv4 address`},
		{"next hop without gateway ip", func(c *Config) { c.Gateway.IP = "" },
			"encapsulation.next_hop", "the next hop is resolved by ARP, which needs gateway.ip"},
		{"server mac with a next hop", func(c *Config) { gue(c).Servers[0].MAC = "02:00:00:00:00:31" },
			"clusters[1].services[0].servers[0].mac", "the servers of a service with forwarding: gue are sent to through encapsulation.next_hop, whose MAC is used"},
		{"mtu below the minimum", func(c *Config) { c.Encapsulation.MTU = MinEncapMTU - 1 },
			"encapsulation.mtu", "607 is below 608"},
		{"negative mtu", func(c *Config) { c.Encapsulation.MTU = -1 },
			"encapsulation.mtu", "-1 is below 608"},
		{"mtu above the port's", func(c *Config) { c.Encapsulation.MTU = 9001 },
			"encapsulation.mtu", "9001 is above the largest port MTU 9000"},
		{"default mtu above the port's", func(c *Config) { c.Ports[0].MTU = 1400; c.Encapsulation.MTU = 0 },
			"encapsulation.mtu", "absent, it is 1500, above the largest port MTU 1400"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseFull(t)
			tt.mutate(cfg)
			wantOneProblem(t, cfg.Validate(), tt.wantField, tt.wantMsg)
		})
	}
}

// A server of an encapsulating service on the link (no next hop) keeps
// its mac, and one without mac is resolved by ARP as with dsr.
func TestEncapsulationOnLinkServers(t *testing.T) {
	cfg := parseFull(t)
	withoutNextHop(cfg)
	live := mustLive(t, cfg)
	for _, s := range live.Services {
		if s.Name == "retired" {
			if mac := s.Servers[0].MAC; mac != [6]byte{2, 0, 0, 0, 0, 0x31} {
				t.Errorf("on-link gue server MAC %x, want 02:00:00:00:00:31", mac)
			}
		}
	}
	cfg.Clusters[1].Services[0].Servers[0].MAC = ""
	if err := cfg.Validate(); err != nil {
		t.Fatalf("on-link gue server without mac: %v", err)
	}
}

// Forwarding, gue_port and the encapsulation section change live: a
// reload that changes them is not refused as restart-only.
func TestEncapsulationIsLive(t *testing.T) {
	cfg := parseFull(t)
	next := cfg.Clone()
	next.Encapsulation = Encapsulation{Source: "10.10.0.3", MTU: 1400}
	next.Clusters[1].Services[0].GUEPort = 7001
	next.Clusters[1].Services[0].Servers[0].MAC = "02:00:00:00:00:31"
	next.Clusters[0].Services[0].Forwarding = ForwardIPIP
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := next.RestartOnly(cfg); err != nil {
		t.Fatalf("changing the encapsulation is refused: %v", err)
	}
}
