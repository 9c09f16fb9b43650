package e2e

import (
	"testing"
	"time"

	"vec/internal/testenv"
)

// TestControlLiveChangesUnderTraffic changes vecd's configuration through
// vecctl while HTTP requests and long checksummed downloads run without
// pause: add a server, remove it while transfers to it are open, change
// the weights 1:1 → 4:1, add a second VIP with a new service, remove it
// while transfers to it are open. No request may fail, every download
// must complete byte-identical, new connections must follow each new
// weighting within ±5 %, every change must be live on both workers within
// 100 ms, and a removed VIP must no longer be answered by ARP.
func TestControlLiveChangesUnderTraffic(t *testing.T) {
	const vip1, vip2 = "10.99.0.100", "10.99.0.101"
	c := StartCluster(t, Options{Servers: 3, Backends: true, VIPs: []string{vip1, vip2}})
	dir := t.TempDir()
	s2, s3 := c.Server(2), c.Server(3)
	cfg := ctlYAML(c, dir, []int{1, 0}, httpCluster(c, vip1, 1, 1))
	v := startCtlVecd(t, c, dir, cfg, vip1)
	if st := v.status(); len(st.Workers) != 2 || st.Generation != 1 {
		t.Fatalf("status at start: %+v", st)
	}

	// Traffic for the whole test: fresh connections without pause, and
	// long downloads (~40 s each at 500 kB/s).
	loop := startHTTPLoop(c, vip1, 400, 8)
	const longSize, longRate = 20_000_000, 500_000
	long := startDownloads(c, vip1, 4, longSize, longRate, 11)
	const window = 1200 // new connections per weighting checked

	// 1. Add s3: 1:1:1.
	v.change("server", "add", vip1+":http:s3", "--ip", s3.Addr.String(), "--mac", s3.MAC.String(), "--weight", "1")
	checkWeights(t, "after adding s3", v.splitWindow(vip1, "http", window, 60*time.Second), map[string]int{"s1": 1, "s2": 1, "s3": 1})

	// 2. Open transfers that s3 will carry, then remove s3: they must
	// finish while s3 gets no new connection.
	// Fifteen downloads interleaved with the HTTP traffic at 1:1:1: some
	// land on s3 (all missing it has odds of (2/3)^15 ≈ 0.2 %).
	const onS3N = 15
	onS3 := startDownloads(c, vip1, onS3N, 3_000_000, 1_000_000, 12)
	v.waitConnections(vip1, "http", "", onS3N, 10*time.Second)
	ch := v.change("server", "remove", vip1+":http:s3")
	if len(ch.Draining) != 1 || ch.Draining[0].Server != "s3" {
		t.Errorf("after removing s3, draining %+v", ch.Draining)
	}
	checkWeights(t, "after removing s3", v.splitWindow(vip1, "http", window, 60*time.Second), map[string]int{"s1": 1, "s2": 1})
	per := onS3.wait(t, "downloads open while s3 was removed", onS3N)
	if per["s3"] == 0 {
		t.Errorf("no download was on s3 when it was removed: %v", per)
	}
	// s3 drains until its last entry is gone. Under this load that is
	// after the traffic stops: vec-loadgen's source ports are random,
	// and a SYN that reuses the 5-tuple of one of s3's entries still in
	// FIN state re-activates that entry for s3 (patent Fig. 7A).

	// 3. Weights 1:1 → 4:1.
	v.change("server", "set", vip1+":http:s1", "--weight", "4")
	checkWeights(t, "after weights 4:1", v.splitWindow(vip1, "http", window, 60*time.Second), map[string]int{"s1": 4, "s2": 1})

	// 4. A second VIP with a new service (port 80 of vec-backend, s2 and
	// s3 at 1:2).
	v.change("cluster", "add", vip2, "--service", "web", "--protocol", "tcp", "--port", "80", "--fin-timeout", "2s",
		"--drain-timeout", "60s",
		"--server", "name=s2,ip="+s2.Addr.String()+",mac="+s2.MAC.String()+",weight=1",
		"--server", "name=s3,ip="+s3.Addr.String()+",mac="+s3.MAC.String()+",weight=2")
	if macs, err := c.ARPing(mustParse(t, vip2), 2); err != nil || len(macs) != 1 || macs[0].String() != c.GatewayMAC().String() {
		t.Fatalf("ARP for the new VIP %s answered by %v (%v), want vecd's %s", vip2, macs, err, c.GatewayMAC())
	}
	loop2 := startHTTPLoop(c, vip2, 300, 8)
	checkWeights(t, "new VIP's service", v.splitWindow(vip2, "web", 600, 60*time.Second), map[string]int{"s2": 1, "s3": 2})
	onVIP2 := startDownloads(c, vip2, 3, 4_000_000, 1_000_000, 13)
	v.waitConnections(vip2, "web", "", 3, 10*time.Second)
	_, perVIP2 := loop2.finish(t, "HTTP to the second VIP")
	if perVIP2["s3"] == 0 || perVIP2["s1"] != 0 {
		t.Errorf("requests to the second VIP went %v, want s2 and s3 only", perVIP2)
	}

	// 5. Remove the second VIP while its downloads run: they finish, and
	// vecd stops answering ARP for it at once.
	ch = v.change("cluster", "remove", vip2)
	drainingVIP2 := 0
	for _, d := range ch.Draining {
		if d.VIP == vip2 {
			drainingVIP2++
		}
	}
	if drainingVIP2 != 2 {
		t.Errorf("after removing %s, draining %+v; want its two servers", vip2, ch.Draining)
	}
	if macs, err := c.ARPing(mustParse(t, vip2), 2); err != nil || len(macs) != 0 {
		t.Errorf("ARP for the removed VIP %s answered by %v (%v)", vip2, macs, err)
	}
	onVIP2.wait(t, "downloads open while the second VIP was removed", 3)
	var clusters []struct {
		VIP string `json:"vip"`
	}
	v.json(&clusters, "cluster", "list")
	if len(clusters) != 1 || clusters[0].VIP != vip1 {
		t.Errorf("clusters after the changes: %+v", clusters)
	}

	long.wait(t, "long downloads across every change", 4)
	loop.finish(t, "HTTP to the first VIP across every change")
	// With the traffic over, every drain ends within the FIN timer (and
	// a drain check) because its connections ended, not by the limit.
	waitUntil(t, "every drain to end", testFinTimeout+10*time.Second, func() bool { return len(v.status().Draining) == 0 })
	st := v.status()
	t.Logf("final generation %d, %d snapshots applied", st.Generation, st.Snapshots)
	if st.Generation != 6 {
		t.Errorf("generation %d after 5 changes, want 6", st.Generation)
	}
	for _, k := range v.counters().Cores {
		if k.Drops["no_server"] != 0 || k.Drops["table_full"] != 0 || k.Purged != 0 {
			t.Errorf("core %d dropped %v, purged %d entries at a drain limit", k.Core, k.Drops, k.Purged)
		}
	}
}

// waitUntil polls cond every 200 ms until it holds or timeout passes.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	took := testenv.WaitFor(t, what, timeout, 200*time.Millisecond, cond)
	t.Logf("%s after %.1f s", what, took.Seconds())
}
