package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScaleOutSpread runs three active gateways behind the router: it must
// hold one route to the VIP with the three as next hops, and the remote
// clients' new connections must spread over the three gateways (by the
// router's L4 hash) and over the servers by weight (by the Maglev table
// every gateway computes alike).
func TestScaleOutSpread(t *testing.T) {
	sc := startScaleOutCluster(t, 3)
	for _, g := range sc.gws {
		g.start()
	}
	sc.waitNextHops(30*time.Second, sc.gws...)

	// 18 000 connections: the weight-1 server's share (1/6) then varies by
	// ±1.7 % (one standard deviation, relative) from hash to hash, well
	// inside checkSplit's ±5 %.
	const requests = 18000
	rep, err := sc.LoadgenIn(sc.remoteNS, "-mode", "http", "-n", fmt.Sprint(requests), "-c", "64", "-timeout", "120s")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() || rep.HTTP.OK != requests {
		t.Fatalf("%d of %d requests through the router succeeded: %v", rep.HTTP.OK, requests, rep.Failures)
	}
	checkSplit(t, "requests from the remote clients, by the server that answered", rep.HTTP.PerServer, weightedServers(sc.Cluster, false))

	// What each gateway scheduled (its counters reach the file within
	// recStatsInterval).
	time.Sleep(3 * recStatsInterval)
	total := 0
	perGateway := map[string]int{}
	perServer := map[string]int{}
	for _, g := range sc.gws {
		got := newConnsPerServer(g.mustCounters())
		perGateway[g.Name] = sumCounts(got)
		total += perGateway[g.Name]
		for s, n := range got {
			perServer[s] += n
		}
	}
	var b strings.Builder
	for _, g := range sc.gws {
		fmt.Fprintf(&b, " %s %d (%.1f %%)", g.Name, perGateway[g.Name], 100*float64(perGateway[g.Name])/float64(max(total, 1)))
	}
	t.Logf("new connections per gateway (%d in all):%s", total, b.String())
	if total != requests {
		t.Errorf("the gateways scheduled %d new connections for %d requests", total, requests)
	}
	// Three equal next hops: each gateway's share is 1/3; a share under a
	// fifth would mean the router did not spread by the L4 tuple.
	for _, g := range sc.gws {
		if perGateway[g.Name]*5 < total {
			t.Errorf("%s scheduled %d of %d new connections: the router's multipath did not spread them", g.Name, perGateway[g.Name], total)
		}
	}
	checkSplit(t, "new connections the three gateways scheduled, by server", perServer, weightedServers(sc.Cluster, false))

	// gw1's status page shows what it announces and its session; a drain
	// shows there and takes gw1 out of the router's route, an undrain puts
	// it back.
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		SkipOrFail(t, "needs Debian's chromium for the status page (scripts/setup.sh installs it): %v", err)
	}
	gw1 := sc.gws[0]
	if err := WaitTCP(gw1.GW.NS, statusListen, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b2 := startBrowser(t, chromium, gw1.GW.NS)
	if err := chromedp.Do(b2.ctx, chromedp.Navigate("https://"+statusListen+"/status")); err != nil {
		t.Fatalf("opening gw1's status page: %v", err)
	}
	b2.login(ctlAdminToken, "admin")
	announced := fmt.Sprintf(`document.getElementById("bgp").textContent.includes("announcing; announced: %s/32")`, sc.VIP())
	established := fmt.Sprintf(`document.querySelector('#bgp-peers li[data-peer="%s"]')?.dataset.state === "established"`, sc.router)
	b2.waitFor(announced+" && "+established, 10*time.Second, "the BGP section announcing the VIP over an established session")
	sc.vecctlOn(gw1, "gateway", "drain")
	b2.waitFor(`document.getElementById("bgp").textContent.includes("drained: every VIP withdrawn; announced: nothing")`, 10*time.Second, "the BGP section drained")
	sc.waitNextHops(5*time.Second, sc.gws[1], sc.gws[2])
	sc.vecctlOn(gw1, "gateway", "undrain")
	b2.waitFor(announced, 10*time.Second, "the BGP section announcing again")
	sc.waitNextHops(5*time.Second, sc.gws...)
	t.Logf("gw1's status page: %s", b2.eval(`document.getElementById("bgp-section").innerText`))
	if other := slices.DeleteFunc(b2.requests(), func(u string) bool { return strings.HasPrefix(u, "https://"+statusListen+"/") }); len(other) > 0 {
		t.Errorf("the status page asked other hosts: %v", other)
	}
}

// TestScaleOutJoinLeaveKill keeps 200 long checksummed downloads open while
// a fourth gateway joins, one of the first three is drained and stopped,
// another is killed with SIGKILL, and the router's BGP sessions all flap:
// every router rehash moves flows to gateways that never saw them, and the
// hash must send them on to the same server. No stream may break.
func TestScaleOutJoinLeaveKill(t *testing.T) {
	sc := startScaleOutCluster(t, 4)
	gw1, gw2, gw3, gw4 := sc.gws[0], sc.gws[1], sc.gws[2], sc.gws[3]
	for _, g := range sc.gws[:3] {
		g.start()
	}
	sc.waitNextHops(30*time.Second, gw1, gw2, gw3)

	// Paced downloads: the data goes straight from the servers to the
	// clients; what crosses the gateways is the clients' ACKs, and every
	// stream sends some each round trip, so every rehash finds them.
	const streamLength = 60 * time.Second
	streams := sc.startPacedStreamsIn(sc.remoteNS, recStreams, recStreamRate, streamLength, streamLength+40*time.Second)
	time.Sleep(5 * time.Second)

	running := func() []*recGateway {
		var gs []*recGateway
		for _, g := range sc.gws {
			if g.proc != nil && g.proc.Running() {
				gs = append(gs, g)
			}
		}
		return gs
	}
	// Each event's second chances, per gateway, from the counters the
	// gateways wrote before it to those they wrote after.
	type event struct {
		name string
		at   time.Time
		per  map[string]secondChances
	}
	var events []event
	snapshot := func() map[string]secondChances {
		time.Sleep(3 * recStatsInterval)
		m := map[string]secondChances{}
		for _, g := range sc.gws {
			if g.proc == nil {
				continue
			}
			if st, _, err := g.counters(); err == nil {
				m[g.Name] = secondChancesOf(st)
			}
		}
		return m
	}
	record := func(name string, at time.Time, before map[string]secondChances) {
		// Let the streams' next round trips cross the new paths.
		time.Sleep(4 * time.Second)
		after := snapshot()
		per := map[string]secondChances{}
		for name, a := range after {
			per[name] = a.minus(before[name])
		}
		events = append(events, event{name, at, per})
	}

	before := snapshot()
	gw4.start()
	at := sc.waitNextHops(30*time.Second, gw1, gw2, gw3, gw4)
	record("gw4 joins", at, before)

	before = snapshot()
	at = time.Now()
	out := sc.vecctlOn(gw1, "gateway", "drain", "--wait", "--quiet", "2s", "--wait-timeout", "30s")
	t.Logf("vecctl gateway drain --wait on gw1:\n%s", out)
	sc.waitNextHops(time.Second, gw2, gw3, gw4)
	gw1.terminate()
	if err := gw1.proc.Wait(15 * time.Second); err != nil {
		t.Errorf("gw1's vecd after drain and SIGTERM: %v\n%s", err, tail(gw1.proc.Output(), 20))
	}
	record("gw1 drained and stopped", at, before)

	before = snapshot()
	killed := gw2.kill()
	// The router notices when gw2's BGP hold time (3 s) runs out.
	sc.waitNextHops(15*time.Second, gw3, gw4)
	record("gw2 killed (SIGKILL)", killed, before)
	if gw2.proc.Running() {
		t.Fatal("gw2's vecd survived SIGKILL")
	}

	before = snapshot()
	flap := time.Now()
	sc.Exec("", sc.ecmp, "bird-restart")
	sc.waitNextHops(30*time.Second, gw3, gw4)
	record("router restarted (every BGP session flaps)", flap, before)

	var ats []time.Time
	var b strings.Builder
	for _, e := range events {
		ats = append(ats, e.at)
		fmt.Fprintf(&b, "\n  %-44s", e.name)
		for _, g := range sc.gws {
			if n, ok := e.per[g.Name]; ok {
				fmt.Fprintf(&b, " %s: hash %d previous %d non_syn_miss %d;", g.Name, n.Hash, n.Previous, n.NonSYNMiss)
			}
		}
	}
	t.Logf("second chances per event (packets forwarded without an entry):%s", b.String())
	streams.check(t, fmt.Sprintf("%d downloads across join, drain, kill and router restart", recStreams), ats...)
	for _, e := range events {
		for name, s := range e.per {
			if s.NonSYNMiss != 0 {
				t.Errorf("%s: %s dropped %d mid-flow packets without an entry (non_syn_miss)", e.name, name, s.NonSYNMiss)
			}
		}
	}
	if len(running()) != 2 {
		t.Errorf("gateways running at the end: %d, want gw3 and gw4", len(running()))
	}
	for _, g := range running() {
		g.terminate()
		if err := g.proc.Wait(15 * time.Second); err != nil {
			t.Errorf("%s's vecd after SIGTERM: %v", g.Name, err)
		}
	}
}
