package bgp

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"vec/control/config"
)

// The tests run two GoBGP instances on loopback: the speaker under test
// (vec's, from 127.0.0.1) and a router listening on 127.0.0.2 that keeps
// the routes it learns in its RIB, which the tests read.

const (
	speakerAS = 65001
	routerAS  = 65000
	speakerIP = "127.0.0.1"
	routerIP  = "127.0.0.2"
	// unusedIP is a peer nobody listens on: its session never comes up.
	unusedIP = "127.0.0.3"
)

var (
	vip1    = netip.MustParseAddr("192.0.2.10")
	vip2    = netip.MustParseAddr("192.0.2.11")
	nextHop = netip.MustParseAddr("198.51.100.7") // the data-plane address, not the session's
	comm1   = uint32(speakerAS)<<16 | 100
	comm2   = uint32(speakerAS)<<16 | 200
)

// freePort returns a TCP port free on ip at the time of the call.
func freePort(t *testing.T, ip string) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("finding a free port on %s: %v", ip, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// startRouter starts the router's GoBGP on routerIP:port, passive, with
// the speaker as its one neighbour.
func startRouter(t *testing.T, port uint16) *server.BgpServer {
	t.Helper()
	r := server.NewBgpServer(server.LoggerOption(zapLogger{zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("router")}))
	go r.Serve()
	ctx := context.Background()
	if err := r.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: routerAS, RouterId: routerIP,
		ListenPort: int32(port), ListenAddresses: []string{routerIP}}}); err != nil {
		t.Fatalf("starting the router: %v", err)
	}
	err := r.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: speakerIP, PeerAsn: speakerAS},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 3, KeepaliveInterval: 1}},
		Transport: &api.Transport{PassiveMode: true},
	}})
	if err != nil {
		t.Fatalf("router: adding the speaker as a peer: %v", err)
	}
	return r
}

func speakerConfig(routerPort, unusedPort uint16) config.BGPRuntime {
	return config.BGPRuntime{LocalAS: speakerAS, RouterID: netip.MustParseAddr("192.0.2.1"), NextHop: nextHop,
		LocalAddress: netip.MustParseAddr(speakerIP), HoldTime: config.DefaultBGPHoldTime,
		ConnectRetry: config.DefaultBGPConnectRetry, Communities: []uint32{comm1, comm2},
		Peers: []config.BGPPeerRuntime{
			{Address: netip.MustParseAddr(routerIP), AS: routerAS, Port: routerPort},
			{Address: netip.MustParseAddr(unusedIP), AS: routerAS, Port: unusedPort},
		}}
}

// route is a prefix in the router's RIB.
type route struct {
	nextHop     string
	communities []uint32
}

// rib reads the router's IPv4 unicast RIB.
func rib(t *testing.T, r *server.BgpServer) map[string]route {
	t.Helper()
	out := map[string]route{}
	err := r.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast},
		func(d *api.Destination) {
			if len(d.Paths) == 0 {
				return
			}
			var rt route
			for _, a := range d.Paths[0].Pattrs {
				m, err := a.UnmarshalNew()
				if err != nil {
					t.Errorf("router: path attribute of %s: %v", d.Prefix, err)
					continue
				}
				switch v := m.(type) {
				case *api.NextHopAttribute:
					rt.nextHop = v.NextHop
				case *api.CommunitiesAttribute:
					rt.communities = v.Communities
				}
			}
			out[d.Prefix] = rt
		})
	if err != nil {
		t.Fatalf("router: listing its RIB: %v", err)
	}
	return out
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// wantRIB waits until the router holds exactly the VIPs given, each with
// the speaker's next hop and communities.
func wantRIB(t *testing.T, r *server.BgpServer, what string, vips ...netip.Addr) {
	t.Helper()
	var got map[string]route
	waitFor(t, 5*time.Second, what, func() bool {
		got = rib(t, r)
		return len(got) == len(vips)
	})
	for _, vip := range vips {
		rt, ok := got[vip.String()+"/32"]
		if !ok {
			t.Fatalf("%s: %s/32 is not in the router's RIB: %v", what, vip, got)
		}
		if rt.nextHop != nextHop.String() || !slices.Equal(rt.communities, []uint32{comm1, comm2}) {
			t.Fatalf("%s: %s/32 arrived with next hop %s and communities %v, want %s and %v",
				what, vip, rt.nextHop, rt.communities, nextHop, []uint32{comm1, comm2})
		}
	}
}

// routerPeer returns the router's view of its session to the speaker.
func routerPeer(t *testing.T, r *server.BgpServer) *api.Peer {
	t.Helper()
	var out *api.Peer
	if err := r.ListPeer(context.Background(), &api.ListPeerRequest{Address: speakerIP}, func(p *api.Peer) { out = p }); err != nil || out == nil {
		t.Fatalf("router: its peer %s: %v", speakerIP, err)
	}
	return out
}

func established(s *Speaker) bool {
	st := s.Status()
	return len(st.Peers) > 0 && st.Peers[0].State == "established"
}

func TestSpeakerAnnouncesWithdrawsDrains(t *testing.T) {
	port := freePort(t, routerIP)
	router := startRouter(t, port)
	defer router.Stop()
	sp, err := Start(zaptest.NewLogger(t).Named("speaker"), speakerConfig(port, freePort(t, unusedIP)))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	waitFor(t, 10*time.Second, "session established", func() bool { return established(sp) })

	// An IPv6 VIP is left out: the sessions carry IPv4 unicast only.
	if err := sp.Update([]netip.Addr{vip2, vip1, vip1, netip.MustParseAddr("2001:db8::10")}, true); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "both VIPs live", vip1, vip2)
	st := sp.Status()
	if !slices.Equal(st.Announced, []string{"192.0.2.10/32", "192.0.2.11/32"}) || !slices.Equal(st.Eligible, []string{"192.0.2.10", "192.0.2.11"}) || st.Drained || !st.Forwarding ||
		!slices.Equal(st.Communities, []string{"65001:100", "65001:200"}) || st.NextHop != nextHop.String() {
		t.Fatalf("status after announcing: %+v", st)
	}
	if len(st.Peers) != 2 {
		t.Fatalf("status lists %d peers, want 2: %+v", len(st.Peers), st.Peers)
	}
	up, down := st.Peers[0], st.Peers[1]
	if up.Address != routerIP || up.AS != routerAS || up.Port != port || up.Since == nil || up.UpdatesSent == 0 ||
		up.MessagesReceived == 0 || up.HoldTimeSeconds != 3 {
		t.Errorf("established peer's status: %+v", up)
	}
	if down.Address != unusedIP || !slices.Contains([]string{"idle", "connect", "active"}, down.State) || down.UptimeSeconds != 0 {
		t.Errorf("unreachable peer's status: %+v", down)
	}

	// vip1 loses its last live server.
	if err := sp.Update([]netip.Addr{vip2}, true); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "vip1 without a live server", vip2)

	if err := sp.Drain(); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "drained")
	// Drained stays drained whatever the servers do.
	if err := sp.Update([]netip.Addr{vip1, vip2}, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := rib(t, router); len(got) != 0 {
		t.Fatalf("a drained gateway announced %v", got)
	}
	if st := sp.Status(); !st.Drained || len(st.Announced) != 0 || len(st.Eligible) != 2 {
		t.Fatalf("status while drained: %+v", st)
	}
	if err := sp.Undrain(); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "undrained", vip1, vip2)

	// A gateway that stops forwarding (standby, links down) withdraws.
	if err := sp.Update([]netip.Addr{vip1, vip2}, false); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "not forwarding")
	if err := sp.Update([]netip.Addr{vip1, vip2}, true); err != nil {
		t.Fatal(err)
	}
	wantRIB(t, router, "forwarding again", vip1, vip2)

	// Stop withdraws by UPDATE before it closes the session (which would
	// remove the routes too, but withdraws nothing).
	withdrawals := func() uint64 { return routerPeer(t, router).GetState().GetMessages().GetReceived().GetWithdrawPrefix() }
	before := withdrawals()
	sp.Stop()
	waitFor(t, 2*time.Second, "the router counts the two withdrawals sent at Stop", func() bool { return withdrawals() == before+2 })
	wantRIB(t, router, "stopped")
	if err := sp.Drain(); err != ErrStopped {
		t.Errorf("Drain after Stop: %v, want ErrStopped", err)
	}
}

func TestSpeakerReconnectsAfterRouterRestart(t *testing.T) {
	port := freePort(t, routerIP)
	router := startRouter(t, port)
	sp, err := Start(zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("speaker"), speakerConfig(port, freePort(t, unusedIP)))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	if err := sp.Update([]netip.Addr{vip1}, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "session established", func() bool { return established(sp) })
	wantRIB(t, router, "announced", vip1)

	router.Stop()
	waitFor(t, 10*time.Second, "the speaker sees the session down", func() bool { return !established(sp) })
	restarted := time.Now()
	router = startRouter(t, port)
	defer router.Stop()
	waitFor(t, 20*time.Second, "re-announced to the restarted router", func() bool {
		_, ok := rib(t, router)[vip1.String()+"/32"]
		return ok
	})
	t.Logf("the VIP was back in the restarted router's RIB %v after its restart", time.Since(restarted).Round(10*time.Millisecond))
	wantRIB(t, router, "re-announced", vip1)
}

func TestPeerConfigCarriesTimers(t *testing.T) {
	cfg := speakerConfig(1790, 1791)
	cfg.HoldTime, cfg.ConnectRetry = 9*time.Second, 2*time.Second
	cfg.Peers[0].Password = "s3cret"
	p := peerConfig(cfg, cfg.Peers[0])
	tc := p.GetTimers().GetConfig()
	if tc.HoldTime != 9 || tc.KeepaliveInterval != 3 || tc.ConnectRetry != 2 {
		t.Errorf("timers %+v, want hold 9, keepalive 3, connect retry 2", tc)
	}
	if p.GetConf().GetAuthPassword() != "s3cret" || p.GetConf().GetPeerAsn() != routerAS ||
		p.GetTransport().GetLocalAddress() != speakerIP || p.GetTransport().GetRemotePort() != 1790 ||
		p.GetTransport().GetPassiveMode() {
		t.Errorf("peer %v", p)
	}
	cfg.LocalAddress = netip.Addr{}
	if got := peerConfig(cfg, cfg.Peers[0]).GetTransport().GetLocalAddress(); got != "" {
		t.Errorf("no local address: transport local address %q, want the kernel's choice", got)
	}
}
