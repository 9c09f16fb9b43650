package e2e

import (
	"testing"
	"time"

	"vec/control/apiwire"
)

// TestControlQuiesceUnderTraffic quiesces a server with vecctl while long
// downloads from it are open and new connections keep coming: the server
// gets no new connection, its open downloads finish byte-identical, and
// unquiescing gives it its share again.
func TestControlQuiesceUnderTraffic(t *testing.T) {
	const vip = "10.99.0.100"
	c := StartCluster(t, Options{Servers: 3, Backends: true})
	dir := t.TempDir()
	cfg := ctlYAML(c, dir, []int{1}, httpCluster(c, vip, 1, 1, 1))
	v := startCtlVecd(t, c, dir, cfg, vip)
	weights := map[string]int{"s1": 1, "s2": 1, "s3": 1}

	// Nine downloads, ~10 s each: the first connections, so weighted
	// round robin puts three on each server. Then fresh connections
	// without pause.
	downloads := startDownloads(c, vip, 9, 5_000_000, 500_000, 21)
	v.waitConnections(vip, "http", "", 9, 15*time.Second)
	if n := v.connectionsTo(vip, "http", "s1", "active"); n != 3 {
		t.Fatalf("s1 carries %d of the 9 downloads, want 3", n)
	}
	loop := startHTTPLoop(c, vip, 400, 8)

	v.change("server", "quiesce", vip+":http:s1")
	var servers []apiwire.ServerCounters
	v.json(&servers, "server", "list", vip+":http")
	for _, s := range servers {
		if s.Server == "s1" && (!s.Quiesced || s.EffectiveWeight != 0 || s.Weight != 1 || s.Active == 0) {
			t.Errorf("s1 after quiesce: %+v (want quiesced, weight 0 kept 1, its connections open)", s)
		}
	}
	weights["s1"] = 0
	checkWeights(t, "while s1 is quiesced", v.splitWindow(vip, "http", 1200, 60*time.Second), weights)
	// The downloads s1 had when it was quiesced are still open.
	if n := v.connectionsTo(vip, "http", "s1", "active"); n != 3 {
		t.Errorf("s1 has %d open connections after the quiesced window, want its 3 downloads", n)
	}
	per := downloads.wait(t, "downloads open while s1 was quiesced", 9)
	if per["s1"] != 3 {
		t.Errorf("downloads per server %v, want 3 from s1", per)
	}

	v.change("server", "unquiesce", vip+":http:s1")
	weights["s1"] = 1
	checkWeights(t, "after unquiescing s1", v.splitWindow(vip, "http", 1200, 60*time.Second), weights)
	_, perLoop := loop.finish(t, "HTTP across quiesce and unquiesce")
	if perLoop["s1"] == 0 {
		t.Error("s1 answered no request at all")
	}
}
