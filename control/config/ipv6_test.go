package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// dualStackYAML is the full example with an IPv6 cluster added: an IPv4
// and an IPv6 cluster side by side, the IPv6 one with a server whose MAC
// is resolved by Neighbor Discovery from gateway.ip6.
var dualStackYAML = fullYAML + `  - vip: "2001:db8::100"
    answer_ping: true
    services:
      - name: web6
        protocol: tcp
        port: 443
        servers:
          - name: s1
            ip: "2001:db8::11"
            mac: 02:00:00:00:00:61
            weight: 2
          - name: s2
            ip: "2001:db8::12"
            weight: 1
`

func TestIPv6Cluster(t *testing.T) {
	live := mustLive(t, mustParse(t, dualStackYAML))
	if want := netip.MustParseAddr("2001:db8::1"); live.GatewayIP6 != want {
		t.Errorf("GatewayIP6 = %v, want %v", live.GatewayIP6, want)
	}
	if want := netip.MustParseAddr("10.10.0.1"); live.GatewayIP != want {
		t.Errorf("GatewayIP = %v, want %v", live.GatewayIP, want)
	}
	var web6 *ServiceSpec
	for i := range live.Services {
		if live.Services[i].Name == "web6" {
			web6 = &live.Services[i]
		}
	}
	if web6 == nil {
		t.Fatalf("no service web6 in %+v", live.Services)
	}
	if web6.VIP != netip.MustParseAddr("2001:db8::100") || web6.Proto != ProtoTCP || web6.Port != 443 || web6.Forwarding != ForwardDSR {
		t.Errorf("web6 = %+v", web6)
	}
	wantServers := []ServerSpec{
		{Name: "s1", IP: netip.MustParseAddr("2001:db8::11"), MAC: [6]byte{2, 0, 0, 0, 0, 0x61}, Weight: 2},
		{Name: "s2", IP: netip.MustParseAddr("2001:db8::12"), Weight: 1}, // resolved by Neighbor Discovery
	}
	if !reflect.DeepEqual(web6.Servers, wantServers) {
		t.Errorf("web6 servers = %+v, want %+v", web6.Servers, wantServers)
	}
	wantEcho := []netip.Addr{netip.MustParseAddr("10.10.0.100"), netip.MustParseAddr("2001:db8::100")}
	if got := EchoVIPs(live.Services); !reflect.DeepEqual(got, wantEcho) {
		t.Errorf("EchoVIPs = %v, want %v", got, wantEcho)
	}

	// Every server has a MAC: neither gateway address is needed.
	cfg := mustParse(t, dualStackYAML)
	cfg.Clusters[2].Services[0].Servers[1].MAC = "02:00:00:00:00:62"
	cfg.Gateway.IP6 = ""
	if live := mustLive(t, cfg); live.GatewayIP6.IsValid() {
		t.Errorf("GatewayIP6 = %v without gateway.ip6", live.GatewayIP6)
	}
}

// Each IPv6 rule is reported alone, on the field at fault.
func TestIPv6Rejections(t *testing.T) {
	cluster := func(c *Config) *Cluster { return &c.Clusters[2] }
	server := func(c *Config, i int) *Server { return &c.Clusters[2].Services[0].Servers[i] }
	const vip6, s1, s2 = "clusters[2].vip", "clusters[2].services[0].servers[0]", "clusters[2].services[0].servers[1]"
	for _, tt := range []struct {
		name           string
		mutate         func(c *Config)
		field, message string
	}{
		{"IPv4 server in an IPv6 cluster", func(c *Config) { server(c, 0).IP = "10.10.0.61" },
			s1 + ".ip", "10.10.0.61 is an IPv4 address, but the cluster's VIP 2001:db8::100 is IPv6: a cluster's servers are of its VIP's family"},
		{"IPv6 server in an IPv4 cluster", func(c *Config) { c.Clusters[1].Services[1].Servers[0].IP = "2001:db8::21" },
			"clusters[1].services[1].servers[0].ip", "2001:db8::21 is an IPv6 address, but the cluster's VIP 10.10.0.200 is IPv4"},
		{"server to resolve without gateway.ip6", func(c *Config) { c.Gateway.IP6 = "" },
			s2 + ".mac", "no mac given, and resolving it by Neighbor Discovery needs gateway.ip6"},
		{"ipip in an IPv6 cluster", func(c *Config) { cluster(c).Services[0].Forwarding = ForwardIPIP },
			"clusters[2].services[0].forwarding", "ipip: encapsulation is IPv4 only, and the cluster's VIP 2001:db8::100 is IPv6 (use dsr)"},
		{"gue in an IPv6 cluster", func(c *Config) { cluster(c).Services[0].Forwarding = ForwardGUE },
			"clusters[2].services[0].forwarding", "gue: encapsulation is IPv4 only"},
		{"link-local VIP", func(c *Config) { cluster(c).VIP = "fe80::100" },
			vip6, "fe80::100 is a link-local address"},
		{"zoned VIP", func(c *Config) { cluster(c).VIP = "fe80::100%eth0" },
			vip6, "fe80::100%eth0 has a zone"},
		{"multicast VIP", func(c *Config) { cluster(c).VIP = "ff02::1" },
			vip6, "ff02::1 is a multicast address"},
		{"unspecified VIP", func(c *Config) { cluster(c).VIP = "::" },
			vip6, ":: is the unspecified address"},
		{"loopback VIP", func(c *Config) { cluster(c).VIP = "::1" },
			vip6, "::1 is a loopback address"},
		{"duplicate IPv6 VIP written differently", func(c *Config) {
			c.Clusters = append(c.Clusters, c.Clusters[2].Clone())
			c.Clusters[3].VIP = "2001:DB8:0::100"
		}, "clusters[3].vip", "2001:db8::100 is already the VIP of clusters[2]"},
		{"VIP is gateway.ip6", func(c *Config) { cluster(c).VIP = "2001:db8::1" },
			vip6, "2001:db8::1 is gateway.ip6; a VIP must be an address of its own"},
		{"server is gateway.ip6", func(c *Config) { server(c, 0).IP = "2001:db8::1" },
			s1 + ".ip", "2001:db8::1 is gateway.ip6"},
		{"server is an IPv6 VIP", func(c *Config) { server(c, 0).IP = "2001:db8::100" },
			s1 + ".ip", "2001:db8::100 is a VIP"},
		{"duplicate IPv6 server written differently", func(c *Config) { server(c, 1).IP = "2001:db8:0:0::11" },
			s2 + ".ip", "2001:db8::11 is already clusters[2].services[0].servers[0]"},
		{"link-local server", func(c *Config) { server(c, 0).IP = "fe80::11" },
			s1 + ".ip", "fe80::11 is a link-local address"},
		{"IPv4 gateway.ip6", func(c *Config) { c.Gateway.IP6 = "10.10.0.3" },
			"gateway.ip6", "10.10.0.3 is not an IPv6 address"},
		{"malformed gateway.ip6", func(c *Config) { c.Gateway.IP6 = "2001:db8::g" },
			"gateway.ip6", `"2001:db8::g" is not an IPv6 address`},
		{"link-local gateway.ip6", func(c *Config) { c.Gateway.IP6 = "fe80::1" },
			"gateway.ip6", "fe80::1 is a link-local address"},
		{"IPv6 gateway.ip", func(c *Config) { c.Gateway.IP = "2001:db8::3" },
			"gateway.ip", "2001:db8::3 is not an IPv4 address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, dualStackYAML)
			tt.mutate(cfg)
			wantOneProblem(t, cfg.Validate(), tt.field, tt.message)
		})
	}
}

// The BGP speaker announces IPv4 VIPs only: an IPv6 cluster on a gateway
// with a bgp section is warned about; without one it is not.
func TestIPv6ClusterBehindBGPIsWarnedAbout(t *testing.T) {
	cfg := mustParse(t, bgpYAML)
	six := mustParse(t, dualStackYAML).Clusters[2]
	cfg.Clusters = append(cfg.Clusters, six)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := cfg.Warnings()
	if len(got) != 1 || got[0].Field != "clusters[2].vip" || !strings.Contains(got[0].Message, "bgp announces IPv4 VIPs only: 2001:db8::100 is not announced") {
		t.Errorf("warnings %v, want one about clusters[2].vip", got)
	}
	if w := mustParse(t, dualStackYAML).Warnings(); len(w) != 0 {
		t.Errorf("without bgp: warnings %v", w)
	}
}

func TestSplitServiceRef(t *testing.T) {
	for _, tt := range []struct {
		ref, vip, service string
		ok                bool
	}{
		{"10.10.0.100:http", "10.10.0.100", "http", true},
		{"2001:db8::100:http", "2001:db8::100", "http", true},
		{"[2001:db8::100]:http", "2001:db8::100", "http", true},
		{"2001:DB8::100:http", "2001:db8::100", "http", true},
		{"2001:db8::1:100", "2001:db8::1", "100", true}, // the last group reads as the service
		{"2001:db8::100", "", "", false},
		{"10.10.0.100", "", "", false},
		{"10.10.0.100:", "", "", false},
		{"[2001:db8::100:http", "", "", false},
		{"fe80::1%eth0:http", "", "", false},
		{"web:http", "", "", false},
	} {
		vip, service, ok := SplitServiceRef(tt.ref)
		if ok != tt.ok || ok && (vip.String() != tt.vip || service != tt.service) {
			t.Errorf("SplitServiceRef(%q) = %v, %q, %v; want %s, %q, %v", tt.ref, vip, service, ok, tt.vip, tt.service, tt.ok)
		}
	}
}

// The manager's advisors and rules name an IPv6 cluster's service by its
// VIP, bare or bracketed.
func TestManagerNamesIPv6Services(t *testing.T) {
	doc := mustParse(t, dualStackYAML)
	for _, ref := range []string{"2001:db8::100:web6", "[2001:db8::100]:web6"} {
		cfg := doc.Clone()
		cfg.Manager.Enabled = true
		cfg.Manager.Rules = []Rule{{Name: "quiet", Service: ref, Type: "always", Servers: []string{"s2"}, Weight: new(0)}}
		live := mustLive(t, cfg)
		if r := live.Manager.Rules; len(r) != 1 || live.Services[r[0].Service].Name != "web6" {
			t.Errorf("%s: rules %+v, want one on service web6", ref, r)
		}
	}
}
