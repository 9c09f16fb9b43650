package ids

import (
	"net/netip"
	"testing"
	"time"

	"vec/control/config"
	"vec/fastpath"
	"vec/internal/limits"
)

var (
	vipA = netip.MustParseAddr("10.0.0.100")
	vipB = netip.MustParseAddr("10.0.0.200")
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func server(name, ip string, weight int) config.ServerSpec {
	return config.ServerSpec{Name: name, IP: netip.MustParseAddr(ip), MAC: [6]byte{2, 0, 0, 0, 0, 1}, Weight: weight}
}

func service(vip netip.Addr, name string, port uint16, servers ...config.ServerSpec) config.ServiceSpec {
	return config.ServiceSpec{VIP: vip, Name: name, Proto: fastpath.ProtoTCP, Port: port, StaleTimeout: time.Minute,
		FinTimeout: time.Second, DrainTimeout: 30 * time.Second, WeightBound: 20, Servers: servers}
}

// ids returns name → ServerID for every server, and the service IDs by name.
func ids(s State) (map[string]fastpath.ServerID, map[string]fastpath.ServiceID) {
	srv, svc := map[string]fastpath.ServerID{}, map[string]fastpath.ServiceID{}
	for _, sv := range s.Services {
		svc[sv.Spec.Name] = sv.ID
		for _, x := range sv.Servers {
			srv[sv.Spec.Name+"/"+x.Spec.Name] = x.ID
		}
	}
	return srv, svc
}

func mustPlan(t *testing.T, s State, specs []config.ServiceSpec, now time.Time) State {
	t.Helper()
	out, err := s.Plan(specs, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fastpath.NewSnapshot(&fastpath.Config{GatewayMAC: [6]byte{2, 0, 0, 0, 0, 9}, Services: out.Fastpath(config.Live{GatewayMAC: [6]byte{2, 0, 0, 0, 0, 9}}).Services}); err != nil {
		t.Fatalf("the planned state does not compile: %v", err)
	}
	return out
}

func TestKeptIdentitiesKeepTheirIDs(t *testing.T) {
	first := []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 1), server("s2", "10.0.0.12", 1)),
		service(vipA, "https", 443, server("s1", "10.0.0.11", 1)),
	}
	s1 := mustPlan(t, State{}, first, t0)
	srv1, svc1 := ids(s1)
	if svc1["http"] != 0 || svc1["https"] != 1 || srv1["http/s1"] != 0 || srv1["http/s2"] != 1 || srv1["https/s1"] != 2 {
		t.Fatalf("first IDs: services %v servers %v", svc1, srv1)
	}
	// A new service first in the file, servers reordered, renamed and
	// re-weighted, a new server: nothing kept is renumbered.
	second := []config.ServiceSpec{
		service(vipB, "dns", 53, server("n1", "10.0.0.31", 1)),
		service(vipA, "web", 80, server("s3", "10.0.0.13", 2), server("s2", "10.0.0.12", 4), server("first", "10.0.0.11", 1)),
		service(vipA, "https", 443, server("s1", "10.0.0.11", 1)),
	}
	s2 := mustPlan(t, s1, second, t0.Add(time.Second))
	srv2, svc2 := ids(s2)
	if svc2["web"] != svc1["http"] || svc2["https"] != svc1["https"] || svc2["dns"] != 2 {
		t.Errorf("service IDs after the change: %v (before %v)", svc2, svc1)
	}
	if srv2["web/first"] != srv1["http/s1"] || srv2["web/s2"] != srv1["http/s2"] || srv2["https/s1"] != srv1["https/s1"] {
		t.Errorf("server IDs after the change: %v (before %v)", srv2, srv1)
	}
	if srv2["dns/n1"] != 3 || srv2["web/s3"] != 4 {
		t.Errorf("new servers got %d and %d, want the lowest free IDs 3 and 4", srv2["dns/n1"], srv2["web/s3"])
	}
	if len(s2.Draining()) != 0 {
		t.Errorf("nothing was removed, yet %v drain", s2.Draining())
	}
	// The same server address in another service is another server.
	if srv2["https/s1"] == srv2["web/first"] {
		t.Error("one address in two services shares an ID")
	}
	// Plan changed nothing in s1.
	if again, _ := ids(s1); len(again) != 3 {
		t.Errorf("Plan changed its receiver: %v", again)
	}
}

func TestRemovedServerDrainsThenItsIDIsReused(t *testing.T) {
	s1 := mustPlan(t, State{}, []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 3), server("s2", "10.0.0.12", 2)),
	}, t0)
	// s2 removed: it stays, weight 0, until its drain deadline.
	s2 := mustPlan(t, s1, []config.ServiceSpec{service(vipA, "http", 80, server("s1", "10.0.0.11", 3))}, t0.Add(time.Second))
	d := s2.Draining()
	if len(d) != 1 || d[0].ID != 1 || d[0].Spec.Name != "s2" || !d[0].DrainUntil.Equal(t0.Add(31*time.Second)) {
		t.Fatalf("draining %+v, want s2 (ID 1) until t0+31s", d)
	}
	fc := s2.Fastpath(config.Live{GatewayMAC: [6]byte{2}})
	if len(fc.Services) != 1 || len(fc.Services[0].Servers) != 2 || fc.Services[0].Servers[1].ID != 1 || fc.Services[0].Servers[1].Weight != 0 ||
		fc.Services[0].Servers[1].MAC == ([6]byte{}) {
		t.Fatalf("fastpath config while draining: %+v", fc.Services)
	}
	// A new server while s2 drains does not get its ID.
	s3 := mustPlan(t, s2, []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 3), server("s4", "10.0.0.14", 1)),
	}, t0.Add(2*time.Second))
	srv3, _ := ids(s3)
	if srv3["http/s4"] != 2 {
		t.Errorf("a new server while ID 1 drains got %d, want 2", srv3["http/s4"])
	}
	// Another change keeps s2's first deadline.
	if d := s3.Draining(); len(d) != 1 || !d[0].DrainUntil.Equal(t0.Add(31*time.Second)) {
		t.Errorf("draining after a second change: %+v", d)
	}
	// Released, the ID is free for the next new server.
	s4 := s3.Release(map[fastpath.ServerID]bool{1: true, 0: true})
	if len(s4.Draining()) != 0 {
		t.Fatalf("still draining after release: %+v", s4.Draining())
	}
	if srv, _ := ids(s4); srv["http/s1"] != 0 {
		t.Errorf("Release removed a live server: %v", srv)
	}
	s5 := mustPlan(t, s4, []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 3), server("s4", "10.0.0.14", 1), server("s5", "10.0.0.15", 1)),
	}, t0.Add(3*time.Second))
	if srv, _ := ids(s5); srv["http/s5"] != 1 {
		t.Errorf("the first new server after the release got %d, want the freed ID 1", srv["http/s5"])
	}
}

func TestReAddedWhileDrainingKeepsItsID(t *testing.T) {
	full := []config.ServiceSpec{service(vipA, "http", 80, server("s1", "10.0.0.11", 3), server("s2", "10.0.0.12", 2))}
	s1 := mustPlan(t, State{}, full, t0)
	s2 := mustPlan(t, s1, []config.ServiceSpec{service(vipA, "http", 80, server("s1", "10.0.0.11", 3))}, t0)
	s3 := mustPlan(t, s2, full, t0.Add(time.Second))
	if len(s3.Draining()) != 0 {
		t.Fatalf("re-added server still draining: %+v", s3.Draining())
	}
	if srv, _ := ids(s3); srv["http/s2"] != 1 {
		t.Errorf("re-added s2 has ID %d, want its old 1", srv["http/s2"])
	}
}

func TestRemovedServiceDrainsWithItsServers(t *testing.T) {
	s1 := mustPlan(t, State{}, []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 3)),
		service(vipB, "web", 8080, server("b1", "10.0.0.21", 1), server("b2", "10.0.0.22", 1)),
	}, t0)
	s2 := mustPlan(t, s1, []config.ServiceSpec{service(vipA, "http", 80, server("s1", "10.0.0.11", 3))}, t0)
	if len(s2.Services) != 2 || !s2.Services[1].Draining || len(s2.Draining()) != 2 {
		t.Fatalf("after removing web: %+v", s2.Services)
	}
	// Still in the fastpath (its connections need the service's
	// timers), every weight 0.
	fc := s2.Fastpath(config.Live{GatewayMAC: [6]byte{2}})
	if len(fc.Services) != 2 || fc.Services[1].Port != 8080 || fc.Services[1].Servers[0].Weight != 0 || fc.Services[1].Servers[1].Weight != 0 {
		t.Fatalf("fastpath while web drains: %+v", fc.Services)
	}
	// One server released: the service stays for the other.
	s3 := s2.Release(map[fastpath.ServerID]bool{1: true})
	if len(s3.Services) != 2 || len(s3.Services[1].Servers) != 1 {
		t.Fatalf("after releasing b1: %+v", s3.Services)
	}
	// Both released: the service is gone and its ID free.
	s4 := s3.Release(map[fastpath.ServerID]bool{2: true})
	if len(s4.Services) != 1 {
		t.Fatalf("after releasing b2: %+v", s4.Services)
	}
	s5 := mustPlan(t, s4, []config.ServiceSpec{
		service(vipA, "http", 80, server("s1", "10.0.0.11", 3)),
		service(vipA, "ssh", 22, server("x", "10.0.0.41", 1)),
	}, t0)
	if _, svc := ids(s5); svc["ssh"] != 1 {
		t.Errorf("new service after the release got ID %d, want 1", svc["ssh"])
	}
}

func TestDisabledServiceDrains(t *testing.T) {
	on := service(vipA, "http", 80, server("s1", "10.0.0.11", 3))
	s1 := mustPlan(t, State{}, []config.ServiceSpec{on}, t0)
	off := on
	off.Disabled = true
	s2 := mustPlan(t, s1, []config.ServiceSpec{off}, t0)
	if len(s2.Services) != 1 || !s2.Services[0].Draining {
		t.Fatalf("disabled service: %+v", s2.Services)
	}
}

func TestQuiescedAndNames(t *testing.T) {
	q := server("s2", "10.0.0.12", 4)
	q.Quiesced = true
	s := mustPlan(t, State{}, []config.ServiceSpec{service(vipA, "http", 80, server("s1", "10.0.0.11", 3), q)}, t0)
	fc := s.Fastpath(config.Live{GatewayMAC: [6]byte{2}})
	if fc.Services[0].Servers[1].Weight != 0 {
		t.Errorf("quiesced server has fastpath weight %d", fc.Services[0].Servers[1].Weight)
	}
	names := s.Servers()
	if len(names) != 2 || names[1].Server != "s2" || names[1].Weight != 4 || names[1].EffectiveWeight != 0 || !names[1].Quiesced ||
		names[0].VIP != "10.0.0.100" || names[0].Proto != "tcp" || names[0].Port != 80 {
		t.Errorf("names %+v", names)
	}
	if s.MaxServerID() != 2 {
		t.Errorf("MaxServerID %d, want 2", s.MaxServerID())
	}
}

func TestIDsRunOut(t *testing.T) {
	var servers []config.ServerSpec
	for i := range limits.MaxServers + 1 {
		servers = append(servers, config.ServerSpec{Name: "s", IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Weight: 1})
	}
	if _, err := (State{}).Plan([]config.ServiceSpec{service(vipA, "big", 80, servers...)}, t0); err == nil {
		t.Error("more servers than IDs were accepted")
	}
}
