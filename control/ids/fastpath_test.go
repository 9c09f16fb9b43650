package ids

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"vec/control/config"
	"vec/fastpath"
	"vec/internal/limits"
)

// fullYAMLFile uses every field of vecd's configuration (control/config's
// tests embed it).
const fullYAMLFile = "../config/testdata/full.yaml"

var portMAC = [6]byte{0x02, 0, 0, 0, 0, 0x99}

// config keeps its own names for the fastpath's protocol numbers,
// schedulers and forwarding modes so as not to import it; they must agree.
func TestConfigAgreesWithFastpath(t *testing.T) {
	for _, c := range []struct {
		name          string
		config, fpath any
	}{
		{"ProtoTCP", config.ProtoTCP, fastpath.ProtoTCP},
		{"ProtoUDP", config.ProtoUDP, fastpath.ProtoUDP},
		{"SchedulerWRR", config.SchedulerWRR, fastpath.SchedulerWRR.String()},
		{"SchedulerMaglev", config.SchedulerMaglev, fastpath.SchedulerMaglev.String()},
		{"ForwardDSR", config.ForwardDSR, fastpath.ForwardDSR.String()},
		{"ForwardIPIP", config.ForwardIPIP, fastpath.ForwardIPIP.String()},
		{"ForwardGUE", config.ForwardGUE, fastpath.ForwardGUE.String()},
	} {
		if c.config != c.fpath {
			t.Errorf("config.%s = %v, fastpath.%[1]s = %v", c.name, c.config, c.fpath)
		}
	}
}

// FileOrder numbers the services and servers in file order, disabled ones
// included, fills in every default and takes gateway.mac over the port's.
func TestFileOrder(t *testing.T) {
	cfg, err := config.Load(fullYAMLFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FileOrder(cfg, portMAC)
	if err != nil {
		t.Fatal(err)
	}
	vip1 := netip.MustParseAddr("10.10.0.100")
	vip2 := netip.MustParseAddr("10.10.0.200")
	want := fastpath.Config{
		GatewayMAC: portMAC, // gateway.mac is empty
		GatewayIP:  netip.MustParseAddr("10.10.0.1"),
		GatewayIP6: netip.MustParseAddr("2001:db8::1"),
		Services: []fastpath.ServiceConfig{
			{
				ID: 0, VIP: vip1, Proto: fastpath.ProtoTCP, Port: 80,
				StaleTimeout: 600 * time.Second, FinTimeout: time.Minute, WeightBound: 10,
				SynTimeout: 5 * time.Second, ResetTimeout: 2 * time.Second, Scheduler: fastpath.SchedulerMaglev,
				Servers: []fastpath.ServerConfig{
					{ID: 0, Name: "web1", IP: netip.MustParseAddr("10.10.0.11"), MAC: [6]byte{2, 0, 0, 0, 0, 0x11}, Weight: 3},
					{ID: 1, Name: "web2", IP: netip.MustParseAddr("10.10.0.12"), MAC: [6]byte{2, 0, 0, 0, 0, 0x12}, Weight: 0},
				},
			},
			withDefaults(fastpath.ServiceConfig{
				ID: 1, VIP: vip1, Proto: fastpath.ProtoUDP, Port: 53,
				Servers: []fastpath.ServerConfig{
					{ID: 2, Name: "web1", IP: netip.MustParseAddr("10.10.0.11"), MAC: [6]byte{2, 0, 0, 0, 0, 0x11}, Weight: 1},
				},
			}),
			// The disabled service took ServiceID 2 and ServerID 3.
			withDefaults(fastpath.ServiceConfig{
				ID: 3, VIP: vip2, Proto: fastpath.ProtoTCP, Port: 22,
				Servers: []fastpath.ServerConfig{
					{ID: 4, Name: "b1", IP: netip.MustParseAddr("10.10.0.21"), MAC: [6]byte{2, 0, 0, 0, 0, 0x21}, Weight: 20},
				},
			}),
		},
		EchoVIPs: []netip.Addr{vip1}, // answer_ping on the first cluster only
		Encap:    fastpath.Encapsulation{Source: netip.MustParseAddr("10.10.0.2"), NextHop: netip.MustParseAddr("10.10.0.254"), MTU: 1480},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FileOrder() =\n%+v\nwant\n%+v", got, want)
	}

	cfg.Gateway.MAC = "02:00:00:00:00:01"
	got, err = FileOrder(cfg, portMAC)
	if err != nil {
		t.Fatal(err)
	}
	if want := [6]byte{2, 0, 0, 0, 0, 1}; got.GatewayMAC != want {
		t.Errorf("with gateway.mac set, GatewayMAC = %x, want %x", got.GatewayMAC, want)
	}
}

// withDefaults is sc with the fastpath's default timeouts and weight bound,
// what FileOrder gives a service that sets none.
func withDefaults(sc fastpath.ServiceConfig) fastpath.ServiceConfig {
	sc.StaleTimeout, sc.FinTimeout = limits.DefaultStaleTimeout, limits.DefaultFinTimeout
	sc.SynTimeout, sc.ResetTimeout = limits.DefaultSynTimeout, limits.DefaultResetTimeout
	sc.WeightBound = limits.DefaultWeightBound
	return sc
}

// Every configuration shipped in configs/ compiles into a snapshot the
// fastpath accepts.
func TestExampleConfigsCompile(t *testing.T) {
	for _, f := range exampleConfigs(t) {
		cfg, err := config.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		fc, err := FileOrder(cfg, portMAC)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := compiles(fc); err != nil {
			t.Errorf("%s: the fastpath rejects it: %v", f, err)
		}
	}
}

// compiles makes a snapshot of fc as the manager does, with a neighbor
// table for the servers resolved by ARP.
func compiles(fc fastpath.Config) error {
	fc.Neighbors = fastpath.NewNeighbors(limits.MaxServers)
	_, err := fastpath.NewSnapshot(&fc)
	return err
}

// exampleConfigs lists vecd's configurations in configs/ (not the server
// agent's).
func exampleConfigs(t testing.TB) []string {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "vec-agent") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no configuration in configs/")
	}
	return out
}

// FuzzFileOrder: whatever configuration control/config accepts translates
// into a fastpath.Config that holds what the fastpath relies on without
// checking itself, and that fastpath.NewSnapshot accepts.
func FuzzFileOrder(f *testing.F) {
	for _, name := range append(exampleConfigs(f), fullYAMLFile) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.ParseBytes(data)
		if err != nil {
			return // control/config's FuzzParse checks the rejections
		}
		fc, err := FileOrder(cfg, portMAC)
		if err != nil {
			t.Fatalf("FileOrder of an accepted configuration: %v", err)
		}
		checkFastpath(t, fc)
		if err := compiles(fc); err != nil {
			t.Fatalf("the fastpath rejects an accepted configuration: %v", err)
		}
	})
}

// checkFastpath asserts what the fastpath relies on without checking itself.
func checkFastpath(t *testing.T, fc fastpath.Config) {
	t.Helper()
	type key struct {
		vip   netip.Addr
		proto uint8
		port  uint16
	}
	services := map[fastpath.ServiceID]bool{}
	servers := map[fastpath.ServerID]bool{}
	keys := map[key]bool{}
	for _, s := range fc.Services {
		if s.ID >= limits.MaxServices || services[s.ID] {
			t.Fatalf("service ID %d out of range or repeated", s.ID)
		}
		services[s.ID] = true
		if !s.VIP.IsValid() || s.VIP.Is4In6() || s.VIP.Zone() != "" || (s.Proto != fastpath.ProtoTCP && s.Proto != fastpath.ProtoUDP) || s.Port == 0 {
			t.Fatalf("bad service %+v", s)
		}
		k := key{s.VIP, s.Proto, s.Port}
		if keys[k] {
			t.Fatalf("service %v/%d/%d defined twice", s.VIP, s.Proto, s.Port)
		}
		keys[k] = true
		if s.StaleTimeout <= 0 || s.FinTimeout <= 0 || s.WeightBound < 1 || s.WeightBound > limits.MaxWeightBound {
			t.Fatalf("service %d has timeouts %v/%v and bound %d", s.ID, s.StaleTimeout, s.FinTimeout, s.WeightBound)
		}
		if len(s.Servers) == 0 {
			t.Fatalf("service %d has no servers", s.ID)
		}
		if (s.Forwarding == fastpath.ForwardGUE) != (s.GUEPort != 0) {
			t.Fatalf("service %d forwards by %v with GUE port %d", s.ID, s.Forwarding, s.GUEPort)
		}
		encapsulates := s.Forwarding != fastpath.ForwardDSR
		if encapsulates && (!s.VIP.Is4() || !fc.Encap.Source.Is4() || fc.Encap.MTU < config.MinEncapMTU) {
			t.Fatalf("service %d encapsulates with %+v", s.ID, fc.Encap)
		}
		for _, sv := range s.Servers {
			if sv.ID >= limits.MaxServers || servers[sv.ID] {
				t.Fatalf("server ID %d out of range or repeated", sv.ID)
			}
			servers[sv.ID] = true
			// A zero MAC is resolved by ARP (IPv6: Neighbor Discovery),
			// which needs the gateway's address of the server's family.
			gatewayIP := fc.GatewayIP
			if sv.IP.Is6() {
				gatewayIP = fc.GatewayIP6
			}
			if sv.IP.Is6() != s.VIP.Is6() || sv.IP.Is4In6() || (sv.MAC == [6]byte{} && !gatewayIP.IsValid()) || sv.MAC[0]&1 != 0 {
				t.Fatalf("bad server %+v", sv)
			}
			if encapsulates && fc.Encap.NextHop.IsValid() && sv.MAC != [6]byte{} {
				t.Fatalf("server %d is sent to through the next hop but has MAC %x", sv.ID, sv.MAC)
			}
			if sv.Weight < 0 || sv.Weight > s.WeightBound {
				t.Fatalf("server %d weight %d outside 0..%d", sv.ID, sv.Weight, s.WeightBound)
			}
		}
	}
}

// fastpathRoads returns cfg's live form and the fastpath configurations
// made of cfg by the two roads there, FileOrder and a fresh State's
// Fastpath, by the road's name.
func fastpathRoads(t *testing.T, cfg *config.Config) (config.Live, map[string]fastpath.Config) {
	t.Helper()
	live, err := cfg.Live(portMAC)
	if err != nil {
		t.Fatal(err)
	}
	state, err := State{}.Plan(live.Services, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := FileOrder(cfg, portMAC)
	if err != nil {
		t.Fatal(err)
	}
	return live, map[string]fastpath.Config{"FileOrder": fromFile, "State.Fastpath": state.Fastpath(live)}
}

// An encapsulating service reaches the fastpath with its mode, its GUE
// port (the default filled in) and the gateway-wide encapsulation, from
// FileOrder and from a State alike; its servers depend on the next hop's
// ARP resolution, a dsr service's on their own.
func TestEncapsulatingServices(t *testing.T) {
	cfg, err := config.Load(fullYAMLFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters[0].Services[0].Forwarding = config.ForwardIPIP
	cfg.Clusters[0].Services[0].Servers[0].MAC, cfg.Clusters[0].Services[0].Servers[1].MAC = "", ""
	cfg.Clusters[1].Services[0].Disabled = false
	cfg.Clusters[1].Services[0].GUEPort = 0
	live, byRoad := fastpathRoads(t, cfg)
	hop := netip.MustParseAddr("10.10.0.254")
	wantEncap := fastpath.Encapsulation{Source: netip.MustParseAddr("10.10.0.2"), NextHop: hop, MTU: 1480}
	for name, fc := range byRoad {
		if fc.Encap != wantEncap {
			t.Errorf("%s: Encap %+v, want %+v", name, fc.Encap, wantEncap)
		}
		modes := map[uint16]struct {
			fwd  fastpath.Forwarding
			port uint16
		}{}
		for _, s := range fc.Services {
			modes[s.Port] = struct {
				fwd  fastpath.Forwarding
				port uint16
			}{s.Forwarding, s.GUEPort}
			for _, srv := range s.Servers {
				want := srv.IP
				if s.Forwarding != fastpath.ForwardDSR {
					want = hop
				}
				if got := fc.NeighborAddr(&s, &srv); got != want {
					t.Errorf("%s: service %d server %s depends on %v, want %v", name, s.Port, srv.Name, got, want)
				}
			}
		}
		if m := modes[80]; m.fwd != fastpath.ForwardIPIP || m.port != 0 {
			t.Errorf("%s: http forwards by %v port %d, want ipip port 0", name, m.fwd, m.port)
		}
		if m := modes[8080]; m.fwd != fastpath.ForwardGUE || m.port != limits.DefaultGUEPort {
			t.Errorf("%s: retired forwards by %v port %d, want gue port %d", name, m.fwd, m.port, limits.DefaultGUEPort)
		}
		if m := modes[53]; m.fwd != fastpath.ForwardDSR {
			t.Errorf("%s: dns forwards by %v, want dsr", name, m.fwd)
		}
		checkFastpath(t, fc)
		if err := compiles(fc); err != nil {
			t.Errorf("%s: the fastpath rejects it: %v", name, err)
		}
	}

	// NeighborAddr on the configuration's types follows the same rule.
	for _, s := range live.Services {
		for _, srv := range s.Servers {
			want := srv.IP
			if s.Forwarding != config.ForwardDSR {
				want = hop
			}
			if got := NeighborAddr(live.Encap, s, srv); got != want {
				t.Errorf("NeighborAddr(%s, %s) = %v, want %v", s.Name, srv.Name, got, want)
			}
		}
	}
	onLink := live.Encap
	onLink.NextHop = netip.Addr{}
	if got, srv := NeighborAddr(onLink, live.Services[0], live.Services[0].Servers[0]), live.Services[0].Servers[0]; got != srv.IP {
		t.Errorf("without a next hop, an ipip server depends on %v, want its own %v", got, srv.IP)
	}
}

// An IPv6 cluster reaches the fastpath with its IPv6 VIP and servers and
// the gateway's IPv6 address, beside the IPv4 clusters, from FileOrder and
// from a State alike; a server without a MAC depends on its own address's
// resolution (Neighbor Discovery).
func TestIPv6ClusterMapping(t *testing.T) {
	cfg, err := config.Load(fullYAMLFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters = append(cfg.Clusters, config.Cluster{VIP: "2001:db8::100", AnswerPing: true, Services: []config.Service{{
		Name: "web6", Protocol: "udp", Port: 443,
		Servers: []config.Server{
			{Name: "s1", IP: "2001:db8::11", MAC: "02:00:00:00:00:61", Weight: new(2)},
			{Name: "s2", IP: "2001:db8::12", Weight: new(1)},
		},
	}}})
	_, byRoad := fastpathRoads(t, cfg)
	vip := netip.MustParseAddr("2001:db8::100")
	wantServers := []fastpath.ServerConfig{
		{Name: "s1", IP: netip.MustParseAddr("2001:db8::11"), MAC: [6]byte{2, 0, 0, 0, 0, 0x61}, Weight: 2},
		{Name: "s2", IP: netip.MustParseAddr("2001:db8::12"), Weight: 1},
	}
	for name, fc := range byRoad {
		if want := netip.MustParseAddr("2001:db8::1"); fc.GatewayIP6 != want {
			t.Errorf("%s: GatewayIP6 %v, want %v", name, fc.GatewayIP6, want)
		}
		if want := netip.MustParseAddr("10.10.0.1"); fc.GatewayIP != want {
			t.Errorf("%s: GatewayIP %v, want %v", name, fc.GatewayIP, want)
		}
		if !slices.Contains(fc.EchoVIPs, vip) || !slices.Contains(fc.EchoVIPs, netip.MustParseAddr("10.10.0.100")) {
			t.Errorf("%s: EchoVIPs %v, want both answer_ping clusters' VIPs", name, fc.EchoVIPs)
		}
		var web6 *fastpath.ServiceConfig
		for i := range fc.Services {
			if fc.Services[i].VIP == vip {
				web6 = &fc.Services[i]
			}
		}
		if web6 == nil {
			t.Fatalf("%s: no service of VIP %v in %+v", name, vip, fc.Services)
		}
		if web6.Proto != fastpath.ProtoUDP || web6.Port != 443 || web6.Forwarding != fastpath.ForwardDSR {
			t.Errorf("%s: IPv6 service %+v", name, web6)
		}
		got := slices.Clone(web6.Servers)
		for i := range got {
			got[i].ID = 0 // numbered differently by FileOrder and Plan
		}
		if !reflect.DeepEqual(got, wantServers) {
			t.Errorf("%s: IPv6 servers %+v, want %+v", name, got, wantServers)
		}
		for _, srv := range web6.Servers {
			if got := fc.NeighborAddr(web6, &srv); got != srv.IP {
				t.Errorf("%s: server %s depends on %v, want its own %v", name, srv.Name, got, srv.IP)
			}
		}
		checkFastpath(t, fc)
	}
}
