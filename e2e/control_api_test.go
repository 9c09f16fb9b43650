package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/e2e/traffic"
)

// TestControlAPIAndCLI drives every other capability of the control API
// through vecctl against vecd in the cluster, parsing --output json:
// authentication and roles, bad changes through the API and through the
// file (rejected with the problem named, nothing changed, traffic
// unaffected), reload by file watch and SIGHUP, save, services, the log
// level, paged connections, counters and the Prometheus endpoint.
func TestControlAPIAndCLI(t *testing.T) {
	const vip = "10.99.0.100"
	c := StartCluster(t, Options{Servers: 3, Backends: true})
	dir := t.TempDir()
	base := httpCluster(c, vip, 3, 2, 1)
	cfgText := ctlYAML(c, dir, []int{1}, base)
	v := startCtlVecd(t, c, dir, cfgText, vip)
	weights := map[string]int{"s1": 3, "s2": 2, "s3": 1}

	t.Run("auth", func(t *testing.T) {
		// No token at all: refused, with a JSON error.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", v.socket)
			}}}
		resp, err := client.Get("http://vecd/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.Error.Code != "unauthorized" {
			t.Errorf("no token: %d %s", resp.StatusCode, body)
		}
		// A wrong token: vecctl exits 3.
		wrong := dir + "/wrong.token"
		os.WriteFile(wrong, []byte("not-a-valid-token-at-all\n"), 0o600)
		if _, code, stderr := v.run(wrong, "status"); code != 3 || !strings.Contains(stderr, "not valid") {
			t.Errorf("wrong token: exit %d: %s", code, stderr)
		}
		// Read-only: may look, may not change anything.
		out, code, stderr := v.run(v.viewFile, "status", "--output", "json")
		var st apiwire.Status
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Generation != 1 {
			t.Errorf("read-only status: exit %d %s %s", code, stderr, out)
		}
		for _, args := range [][]string{
			{"server", "set", vip + ":http:s1", "--weight", "5"},
			{"server", "quiesce", vip + ":http:s2"},
			{"cluster", "remove", vip},
			{"log", "level", "debug"},
			{"config", "save"},
		} {
			if _, code, stderr := v.run(v.viewFile, args...); code != 3 || !strings.Contains(stderr, "read-only") {
				t.Errorf("read-only %v: exit %d: %s", args, code, stderr)
			}
		}
		if g := v.status().Generation; g != 1 {
			t.Errorf("generation %d after read-only attempts, want 1", g)
		}
		// Bad usage exits 2.
		if _, code, _ := v.run(v.adminFile, "server", "set", "no-colons", "--weight", "1"); code != 2 {
			t.Errorf("bad usage: exit %d, want 2", code)
		}
	})

	t.Run("metrics agree with traffic", func(t *testing.T) {
		// The first traffic of this vecd. UDP flows (a socket each, alive
		// for the whole run) give exact counts per server; HTTP requests
		// come from random source ports, and a SYN that reuses the
		// 5-tuple of a connection still in FIN state re-activates that
		// entry instead of opening a new one (patent Fig. 7A), so there
		// the counts may fall short by the few such reuses.
		v.change("service", "add", vip+":echo", "--protocol", "udp", "--port", fmt.Sprint(traffic.UDPPort), "--stale-timeout", "30s",
			"--server", "name=s1,ip="+c.ServerAddr(1).String()+",mac="+c.ServerMAC(1).String()+",weight=1",
			"--server", "name=s2,ip="+c.ServerAddr(2).String()+",mac="+c.ServerMAC(2).String()+",weight=1",
			"--server", "name=s3,ip="+c.ServerAddr(3).String()+",mac="+c.ServerMAC(3).String()+",weight=1")
		before := v.scrape()
		beforeCounters := v.counters()
		udp := mustLoadgen(t, c, "-mode", "udp", "-n", "120", "-flows", "60")
		mid := v.scrape()
		for _, s := range []string{"s1", "s2", "s3"} {
			labels := fmt.Sprintf(`{ip="%s",server="%s",service="echo",vip="%s"}`, c.ServerAddr(int(s[1]-'0')), s, vip)
			flows := mid["vec_server_new_connections_total"+labels] - before["vec_server_new_connections_total"+labels]
			packets := mid["vec_server_packets_total"+labels] - before["vec_server_packets_total"+labels]
			datagrams := 0
			for _, f := range udp.UDP.FlowList {
				datagrams += f.Servers[s]
			}
			if int(flows) != udp.UDP.PerServer[s] || int(packets) != datagrams {
				t.Errorf("echo/%s: the metrics count %v flows and %v packets, the servers answered %d flows and %d datagrams",
					s, flows, packets, udp.UDP.PerServer[s], datagrams)
			}
		}
		const n = 600
		rep := mustLoadgen(t, c, "-mode", "http", "-target", vip, "-n", fmt.Sprint(n), "-c", "16")
		stray, err := c.Loadgen("-mode", "stray", "-target", vip, "-n", "5", "-reply-wait", "1s")
		if err != nil || stray.Stray.Sent != 5 {
			t.Fatalf("stray: %v %+v", err, stray)
		}
		unknown, err := c.Loadgen("-mode", "udp", "-target", vip+":9999", "-n", "10", "-flows", "10", "-reply-wait", "200ms")
		if err != nil || unknown.UDP.Sent != 10 || unknown.UDP.Received != 0 {
			t.Fatalf("udp to an unknown port: %v %+v", err, unknown)
		}
		after := v.scrape()
		afterCounters := v.counters()
		for _, s := range []string{"s1", "s2", "s3"} {
			key := fmt.Sprintf(`vec_server_new_connections_total{ip="%s",server="%s",service="http",vip="%s"}`,
				c.ServerAddr(int(s[1]-'0')), s, vip)
			got := after[key] - mid[key]
			answered := float64(rep.HTTP.PerServer[s])
			if got > answered || got < answered*0.98-1 {
				t.Errorf("%s: the metric counts %v new connections, the servers answered %v", key, got, answered)
			}
			api := newConns(afterCounters, vip, "http")[s] - newConns(beforeCounters, vip, "http")[s]
			if float64(api) != got {
				t.Errorf("vecctl counters: %s got %d new connections, the metric %v", s, api, got)
			}
		}
		vipKey := `vec_vip_new_connections_total{vip="` + vip + `"}`
		t.Logf("%d HTTP requests answered, %v new connections counted (a shortfall is SYNs that re-used a 5-tuple still in the table)",
			n, after[vipKey]-mid[vipKey])
		for reason, sent := range map[string]int{"non_syn_miss": stray.Stray.Sent, "not_for_cluster": unknown.UDP.Sent} {
			key := `vec_core_drops_total{core="1",reason="` + reason + `"}`
			if got := after[key] - before[key]; got < float64(sent) || got > float64(sent)+2 {
				t.Errorf("%s moved by %v for %d packets sent", key, got, sent)
			} else {
				t.Logf("%s moved by %v for %d packets sent", key, got, sent)
			}
		}
		for _, key := range []string{`vec_config_generation`, `vec_workers_up`, `vec_core_table_capacity{core="1"}`, `vec_worker_mailbox_depth{core="1"}`} {
			if _, ok := after[key]; !ok {
				t.Errorf("the scrape lacks %s", key)
			}
		}
		if after["vec_config_generation"] != float64(v.status().Generation) {
			t.Errorf("vec_config_generation %v, status says %d", after["vec_config_generation"], v.status().Generation)
		}
		t.Logf("scrape: %d vec_ series; requests per server %v", len(after), rep.HTTP.PerServer)
	})

	t.Run("bad changes", func(t *testing.T) {
		loop := startHTTPLoop(c, vip, 300, 8)
		var before apiwire.Status
		v.json(&before, "status")
		var cfgBefore struct{ YAML string }
		v.json(&cfgBefore, "config", "show")
		bad := []struct {
			args []string
			want string
		}{
			{[]string{"cluster", "add", vip, "--service", "x", "--port", "81", "--server", "name=a,ip=10.99.0.11,weight=1"}, "cluster 10.99.0.100 already exists"},
			{[]string{"server", "set", vip + ":http:s1", "--weight", "50"}, "clusters[0].services[0].servers[0].weight: 50 is above the default weight_bound 20"},
			{[]string{"server", "remove", vip + ":http:nope"}, "server nope of service http in cluster 10.99.0.100 does not exist"},
			{[]string{"server", "add", vip + ":http:s9", "--ip", "10.99.0.300", "--weight", "1"}, `clusters[0].services[0].servers[3].ip: "10.99.0.300" is not an IPv4 address`},
			{[]string{"service", "add", vip + ":dns", "--protocol", "udp", "--port", "53"}, "an enabled service needs at least one server"},
		}
		for _, b := range bad {
			_, code, stderr := v.run(v.adminFile, b.args...)
			if code != 1 || !strings.Contains(stderr, b.want) {
				t.Errorf("vecctl %s: exit %d, %q; want exit 1 naming %q", strings.Join(b.args, " "), code, stderr, b.want)
			} else {
				t.Logf("vecctl %s → exit 1: %s", strings.Join(b.args, " "), strings.TrimSpace(stderr))
			}
		}
		// Bad files: a reload names the problem and changes nothing.
		goodFile, _ := os.ReadFile(v.config)
		badFiles := []struct{ text, want string }{
			{strings.Replace(string(goodFile), "weight: 3}", "weight: 3", 1), "not valid YAML"},
			{strings.Replace(string(goodFile), "clusters:\n", "clusters:\n  - vip: "+vip+"\n    services: [{name: y, protocol: udp, port: 9, servers: [{name: a, ip: 10.99.0.11, mac: \"02:99:00:00:03:01\", weight: 1}]}]\n", 1), "clusters[1].vip: 10.99.0.100 is already the VIP of clusters[0]"},
			{strings.Replace(string(goodFile), "weight: 3}", "weight: 30}", 1), "weight: 30 is above the default weight_bound 20"},
		}
		for _, bf := range badFiles {
			if err := os.WriteFile(v.config, []byte(bf.text), 0o600); err != nil {
				t.Fatal(err)
			}
			// The file watch rejects it first (logged)…
			waitUntil(t, "vecd to log the rejected file", 10*time.Second, func() bool {
				return strings.Contains(v.proc.Output(), bf.want)
			})
			// …and an explicit reload says why.
			if _, code, stderr := v.run(v.adminFile, "config", "reload"); code != 1 || !strings.Contains(stderr, bf.want) {
				t.Errorf("reload of a bad file: exit %d, %q; want exit 1 naming %q", code, stderr, bf.want)
			}
		}
		if err := os.WriteFile(v.config, goodFile, 0o600); err != nil {
			t.Fatal(err)
		}
		var after apiwire.Status
		v.json(&after, "status")
		var cfgAfter struct{ YAML string }
		v.json(&cfgAfter, "config", "show")
		if after.Generation != before.Generation || cfgAfter.YAML != cfgBefore.YAML {
			t.Errorf("bad changes changed the configuration: generation %d → %d", before.Generation, after.Generation)
		}
		checkWeights(t, "after the rejected changes", v.splitWindow(vip, "http", 1200, 60*time.Second), weights)
		loop.finish(t, "HTTP during the rejected changes")
	})

	t.Run("reload save and sighup", func(t *testing.T) {
		gen := v.status().Generation
		// An edit of the file is picked up by the watch.
		even := ctlYAML(c, dir, []int{1}, httpCluster(c, vip, 1, 1, 1))
		if err := os.WriteFile(v.config, []byte(even), 0o600); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the file watch to apply the edited file", 10*time.Second, func() bool { return v.status().Generation == gen+1 })
		// A runtime change, then SIGHUP: the file wins.
		v.change("server", "set", vip+":http:s1", "--weight", "7")
		if err := v.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "SIGHUP to reload the file", 10*time.Second, func() bool { return v.status().Generation == gen+3 })
		var servers []apiwire.ServerCounters
		v.json(&servers, "server", "list", vip+":http")
		if len(servers) != 3 || servers[0].Weight != 1 {
			t.Errorf("after SIGHUP s1 has weight %+v, want the file's 1", servers)
		}
		// Saved, a runtime change survives a reload.
		v.change("server", "set", vip+":http:s1", "--weight", "3")
		v.change("server", "set", vip+":http:s2", "--weight", "2")
		var saved struct {
			File       string `json:"file"`
			Generation uint64 `json:"generation"`
		}
		v.json(&saved, "config", "save")
		text, _ := os.ReadFile(v.config)
		if saved.File != v.config || !strings.Contains(string(text), "weight: 3") {
			t.Errorf("saved %+v:\n%s", saved, text)
		}
		ch := v.change("config", "reload")
		v.json(&servers, "server", "list", vip+":http")
		if servers[0].Weight != 3 || servers[1].Weight != 2 || ch.Generation != saved.Generation+1 {
			t.Errorf("after save and reload: %+v", servers)
		}
		checkWeights(t, "after save and reload", func() map[string]int {
			loop := startHTTPLoop(c, vip, 300, 8)
			defer loop.finish(t, "HTTP after the reload")
			return v.splitWindow(vip, "http", 1200, 60*time.Second)
		}(), weights)
	})

	t.Run("services, log level, connections", func(t *testing.T) {
		// A UDP service whose servers run nothing on its port: datagrams
		// are forwarded (and get entries), nobody answers.
		v.change("service", "add", vip+":sink", "--protocol", "udp", "--port", "9000", "--stale-timeout", "30s", "--drain-timeout", "3s",
			"--server", "name=s1,ip="+c.ServerAddr(1).String()+",mac="+c.ServerMAC(1).String()+",weight=1",
			"--server", "name=s2,ip="+c.ServerAddr(2).String()+",mac="+c.ServerMAC(2).String()+",weight=1")
		var rows []struct {
			VIP          string `json:"vip"`
			Name         string `json:"name"`
			Protocol     string `json:"protocol"`
			Port         int    `json:"port"`
			StaleTimeout string `json:"stale_timeout"`
		}
		v.json(&rows, "service", "list", vip)
		// http, and sink (echo, added at run time before, went with the
		// reload of the file).
		if len(rows) != 2 || rows[1].Name != "sink" || rows[1].Protocol != "udp" || rows[1].Port != 9000 || rows[1].StaleTimeout != "30s" {
			t.Errorf("services %+v", rows)
		}
		v.change("service", "set", vip+":sink", "--stale-timeout", "45s")
		v.json(&rows, "service", "list")
		if len(rows) != 2 || rows[1].StaleTimeout != "45s" {
			t.Errorf("services after set: %+v", rows)
		}
		v.change("log", "level", "debug")
		var lvl struct{ Level string }
		v.json(&lvl, "log", "level")
		if lvl.Level != "debug" {
			t.Errorf("log level %q after setting debug", lvl.Level)
		}
		sink, err := c.Loadgen("-mode", "udp", "-target", vip+":9000", "-n", "50", "-flows", "50", "-reply-wait", "100ms")
		if err != nil || sink.UDP.Sent != 50 {
			t.Fatalf("udp to the sink: %v %+v", err, sink)
		}
		// Fifty UDP flows, fifty entries: page through them by cursor.
		seen := map[string]bool{}
		cursor, listed := "", 0
		for page := 1; ; page++ {
			var p apiwire.Connections
			args := []string{"connections", "list", "--vip", vip, "--service", "sink", "--limit", "20"}
			if cursor != "" {
				args = append(args, "--cursor", cursor)
			}
			v.json(&p, args...)
			if len(p.Connections) > 20 || p.More != (p.NextCursor != "") {
				t.Errorf("page %d: %d connections, more %v, next cursor %q", page, len(p.Connections), p.More, p.NextCursor)
			}
			for _, cn := range p.Connections {
				if cn.Proto != "udp" || cn.Service != "sink" || cn.State != "ACTIVE" || cn.Port != 9000 {
					t.Errorf("connection %+v", cn)
				}
				seen[cn.Client] = true
			}
			listed += len(p.Connections)
			if !p.More || page > 1000 {
				break
			}
			cursor = p.NextCursor
		}
		if len(seen) != 50 || listed != 50 {
			t.Errorf("%d connections listed, %d distinct, want 50", listed, len(seen))
		}
		var s1 apiwire.Connections
		v.json(&s1, "connections", "list", "--all", "--service", "sink", "--server", "s1", "--state", "active")
		if len(s1.Connections) != 25 {
			t.Errorf("%d sink connections on s1, want 25", len(s1.Connections))
		}
		if !strings.Contains(v.proc.Output(), "control API request") {
			t.Error("no debug log of API requests after setting the level to debug")
		}
		v.change("log", "level", "info")
		// Removed, the sink drains; its 50 entries outlive the 3 s drain
		// limit and are purged.
		v.change("service", "remove", vip+":sink")
		waitUntil(t, "the sink's drain to end", 15*time.Second, func() bool {
			for _, d := range v.status().Draining {
				if d.Service == "sink" {
					return false
				}
			}
			return true
		})
		var purged uint64
		for _, k := range v.counters().Cores {
			purged += k.Purged
		}
		if purged != 50 {
			t.Errorf("%d entries purged at the sink's drain limit, want 50", purged)
		}
	})

}
