package e2e

import (
	"net/netip"
	"testing"
	"time"

	"vec/e2e/traffic"
)

// TestRestartKeepsIPv6Connections is TestRestartKeepsConnections on the
// dual-stack cluster: with an IPv6 cluster in vecd's configuration (servers
// by IPv6 address, resolved by Neighbor Discovery) beside the IPv4 one, both
// VIPs in every agent's VIP list, and each agent given by its server's IPv4
// address and its IPv6 one (recovery.agents[].ip6), kill -9 of a lone vecd
// and an immediate restart keep every one of recStreams long-lived streams
// to the IPv6 VIP and as many to the IPv4 VIP: the new vecd installs them
// from the agents' sockets of both families before it forwards a segment of
// an unknown flow as a miss.
func TestRestartKeepsIPv6Connections(t *testing.T) {
	rc := startRecoveryCluster(t, recOptions{IPv6: true})
	vip6 := rc.VIP6()
	target := netip.AddrPortFrom(vip6, traffic.HTTPPort)
	g := rc.gw(1)
	g.start()
	g.waitMode("active", 30*time.Second)
	// The client finds the IPv6 VIP by a Neighbor Solicitation, which vecd
	// answers once a server of its cluster is resolved.
	if err := WaitTCP(rc.ClientNS(), target.String(), 15*time.Second); err != nil {
		t.Fatalf("the IPv6 VIP: %v\n%s", err, tail(g.proc.Output(), 30))
	}

	capture := rc.startForwardCaptureOf(1, "ip6 and tcp")
	conns := rc.startNewConnsTo(target, recStreamLength+3*time.Second)
	streams := rc.startPacedStreamsTo(rc.ClientNS(), target, recStreams, recStreamRate, recStreamLength, recStreamsTimeout)
	streams4 := rc.startPacedStreamsTo(rc.ClientNS(), netip.AddrPortFrom(rc.VIP(), traffic.HTTPPort), recStreams, recStreamRate,
		recStreamLength, recStreamsTimeout)
	before := g.waitEntries(2*recStreams, 20*time.Second)
	time.Sleep(time.Second) // every stream well under way
	union6, perAgent6, err := rc.agentUnionOf(vip6)
	if err != nil {
		t.Fatalf("asking the agents for the IPv6 VIP: %v", err)
	}
	union4, _, err := rc.agentUnionOf(rc.VIP())
	if err != nil {
		t.Fatalf("asking the agents for the IPv4 VIP: %v", err)
	}
	t.Logf("before the kill: vecd holds %d entries, per server %v; the agents list %d connections to %s %v and %d to %s",
		before.entries(), before.activePerServer(), union6, vip6, perAgent6, union4, rc.VIP())
	if union6 < recStreams {
		t.Fatalf("the agents list %d connections to %s, want at least the %d open streams", union6, vip6, recStreams)
	}
	if union4 < recStreams {
		t.Fatalf("the agents list %d connections to the IPv4 VIP, want at least the %d open streams", union4, recStreams)
	}

	killAt := g.kill()
	g.start()
	activeAt := g.waitMode("active", 15*time.Second)
	after := g.mustCounters()
	tl := g.lastTakeover()
	t.Logf("restarted: vecd started %s after the kill, its workers active %s after the kill", ms(g.startedAt.Sub(killAt)), ms(activeAt.Sub(killAt)))
	t.Logf("rebuild: %s; invalid %v, foreign %v, install_invalid %v", tl.brief(), tl.Fields["invalid"], tl.Fields["foreign"], tl.Fields["install_invalid"])

	// Every open stream is in the agents' tables, so every one is
	// installed, the IPv6 ones as entries of the IPv6 cluster's servers:
	// none is foreign, which an agent known by its IPv4 address alone
	// would make them.
	if inst := after.installed(); inst < 2*recStreams {
		t.Errorf("the restarted vecd installed %d entries, want at least the %d open streams: %s", inst, 2*recStreams, after.brief())
	}
	if n := tl.num("invalid") + tl.num("install_invalid") + tl.num("foreign"); n != 0 {
		t.Errorf("the rebuild refused %v of the agents' entries: %s", n, tl.Line)
	}
	var active6 int64
	for _, s := range after.Servers {
		if addr, err := netip.ParseAddr(s.VIP); err == nil && addr == vip6 {
			active6 += s.Active
		}
	}
	t.Logf("the restarted vecd holds %d live connections on %s's servers", active6, vip6)
	if active6 < recStreams {
		t.Errorf("the restarted vecd holds %d live connections on the IPv6 cluster's servers, want at least the %d streams", active6, recStreams)
	}
	later, laterAt := g.checkTakeoverMissStops(after)
	d := streams.check(t, "IPv6 streams across kill -9 and restart", killAt, activeAt)
	streams4.check(t, "IPv4 streams beside them", killAt, activeAt)
	if failed := conns.result(t, "new IPv6 connections across the restart"); failed != 0 {
		t.Errorf("%d new IPv6 connections failed although each had 5 s for TCP to retransmit its SYN", failed)
	}
	final := g.mustCounters()
	logRestartMisses(t, after, later, final, laterAt.Before(d.FirstDone))
	// As over IPv4, a SYN that arrives before the servers' first Neighbor
	// Advertisement is dropped as server_unresolved and sent again by TCP.
	// Reported, not a failure.
	t.Logf("segments dropped before the servers answered Neighbor Discovery: %d", final.drops("server_unresolved"))
	for _, reason := range []string{"ipv6_extension", "malformed_ndp", "table_full"} {
		if n := final.drops(reason); n != 0 {
			t.Errorf("the restarted vecd dropped %d packets as %s", n, reason)
		}
	}
	times := capture.times()
	gapFrom, gapTo := longestGap(times, killAt, activeAt)
	if gapTo.IsZero() {
		t.Errorf("the capture holds no IPv6 TCP frame vecd forwarded around the restart (%d in all)", len(times))
		return
	}
	t.Logf("IPv6 forwarding stopped for %s: from kill %s to kill %s (vecd restarted at kill %s)",
		ms(gapTo.Sub(gapFrom)), rel(gapFrom.Sub(killAt)), rel(gapTo.Sub(killAt)), rel(g.startedAt.Sub(killAt)))
}
