package e2e

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/control/config"
	"vec/e2e/traffic"
)

// These tests run vecd, the real gateway, on the namespace cluster: vecgw0
// driven as netns.sh set it up (net_af_xdp unless --port-driver), real TCP
// and UDP clients (vec-loadgen) and servers (vec-backend). Each test brings
// up its own cluster and vecd.

func TestVecdHTTPWeightedSplitAndDSR(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	capt := startCapture(t, c)
	services := standardServices(c, true)
	v := startVecd(t, c, vecdYAML(c, services), false)

	// vecd answers ARP for its own address too (startVecd checked the VIP).
	if macs, err := c.ARPing(c.GatewayAddr(), 1); err != nil || len(macs) != 1 || macs[0].String() != c.GatewayMAC().String() {
		t.Errorf("ARP for the gateway address %s answered by %v (%v), want %s", c.GatewayAddr(), macs, err, c.GatewayMAC())
	}

	const n = 2000
	rep := mustLoadgen(t, c, "-mode", "http", "-n", strconv.Itoa(n), "-c", "32")
	h := rep.HTTP
	t.Logf("%d requests over fresh connections in %.2f s: %.0f conn/s, p50 %.2f ms, p99 %.2f ms",
		h.OK, rep.DurationSec, h.ConnsPerSec, h.LatencyP50Ms, h.LatencyP99Ms)
	if h.OK != n {
		t.Fatalf("%d of %d requests succeeded: %+v", h.OK, n, h)
	}
	checkSplit(t, "HTTP connections through vecd", h.PerServer, services[0].Servers)

	st := v.stop()
	g := classifyGatewayTraffic(c, capt.stop())
	t.Logf("gateway port: %d ARP, %d client→VIP frames (%d SYNs, %d connections, %d reusing an earlier connection's ports), %d sent on to servers, %d server→client, %d other",
		g.ARP, g.FromClient, g.SYNsFromClient, g.Connections, g.Reused, g.ToServer, g.ServerToClient, g.Other)
	if g.ServerToClient != 0 || g.Other != 0 {
		t.Errorf("the gateway's port carried %d server→client and %d other frames (want only client→server and ARP): %v",
			g.ServerToClient, g.Other, g.Examples)
	}
	// The capture saw the traffic it vouches for: every connection's SYN.
	if g.Connections != n || g.ARP == 0 {
		t.Errorf("the capture on the gateway port holds %d connections and %d ARP frames, want %d and some", g.Connections, g.ARP, n)
	}

	// Every connection was a new one for vecd, except those that reused
	// the ports of a connection whose entry was still in the table: by the
	// state machine their SYN revives that entry and goes to its server.
	var newConns uint64
	for _, s := range services[0].Servers {
		sc, ok := st.server("http", s.Name)
		if !ok {
			t.Fatalf("vecd's counters lack http/%s: %s", s.Name, st.brief())
		}
		newConns += sc.New
		if sc.New > uint64(h.PerServer[s.Name]) {
			t.Errorf("vecd counted %d new connections to %s, which answered only %d", sc.New, s.Name, h.PerServer[s.Name])
		}
	}
	if newConns > n || newConns < uint64(n-g.Reused) {
		t.Errorf("vecd counted %d new connections for %d connections, %d of them on reused ports", newConns, n, g.Reused)
	}
	for _, reason := range []string{"no_server", "table_full", "non_syn_miss"} {
		if d := st.drops(reason); d != 0 {
			t.Errorf("vecd dropped %d packets as %s: %s", d, reason, st.brief())
		}
	}
}

func TestVecdLongTransfersAndTableDrain(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	services := standardServices(c, true)
	v := startVecd(t, c, vecdYAML(c, services), true)

	// Sample the table while the transfers run: it must hold them.
	peak := make(chan uint64, 1)
	stopSampling := make(chan struct{})
	go func() {
		var most uint64
		defer func() { peak <- most }()
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if st, _, err := v.liveCounters(); err == nil && st.entries() > most {
				most = st.entries()
			}
		}
	}()
	const parallel, size = 50, 20_000_000
	rep, err := c.Loadgen("-mode", "download", "-parallel", strconv.Itoa(parallel), "-size", strconv.Itoa(size),
		"-seed", "7", "-timeout", "90s")
	ended := time.Now()
	close(stopSampling)
	peakEntries := <-peak
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Download
	t.Logf("%d × %d B downloads in %.2f s: %.2f Gbit/s, per server %v, table peak %d entries",
		d.OK, d.Size, rep.DurationSec, d.Gbps, d.PerServer, peakEntries)
	if !rep.Passed() || d.OK != parallel || d.Mismatches != 0 || d.Bytes != parallel*size {
		t.Fatalf("downloads: %v: %+v", rep.Failures, d)
	}
	for _, s := range services[0].Servers {
		if d.PerServer[s.Name] == 0 {
			t.Errorf("no download came from %s: %v", s.Name, d.PerServer)
		}
	}
	if peakEntries < parallel {
		t.Errorf("the table held at most %d entries during %d parallel transfers", peakEntries, parallel)
	}

	// The transfers have closed; their entries wait fin_timeout after
	// their last packet, then leave. Watch the live counters.
	var lastBusy, drained time.Time
	deadline := ended.Add(testFinTimeout + 15*time.Second)
	for time.Now().Before(deadline) {
		st, written, err := v.liveCounters()
		if err != nil {
			t.Fatal(err)
		}
		if st.entries() == 0 && written.After(ended) {
			drained = written
			break
		}
		if st.entries() > 0 {
			lastBusy = written
		}
		time.Sleep(50 * time.Millisecond)
	}
	if drained.IsZero() {
		st, _, _ := v.liveCounters()
		t.Fatalf("the table did not drain within %v of the transfers' end: %s", deadline.Sub(ended), st.brief())
	}
	t.Logf("table drained %.2f s after the transfers ended (fin_timeout %v, counters every %v); last seen busy %.2f s after",
		drained.Sub(ended).Seconds(), testFinTimeout, statsInterval, lastBusy.Sub(ended).Seconds())
	// Entries must have waited for the FIN timer, not vanished at the FIN.
	if lastBusy.Sub(ended) < testFinTimeout-2*statsInterval {
		t.Errorf("entries left %.2f s after the transfers ended, before fin_timeout %v", lastBusy.Sub(ended).Seconds(), testFinTimeout)
	}

	st := v.stop()
	var fromClient uint64
	var completed uint64
	for _, s := range st.service("http") {
		fromClient += s.Bytes
		completed += s.Completed
		if s.Active != 0 || s.FIN != 0 {
			t.Errorf("http/%s after draining: %d active, %d fin", s.Server, s.Active, s.FIN)
		}
	}
	// A client that closes before the server's FIN has come may answer it
	// with a RST, which ends the entry at once; every other transfer must
	// have left through the FIN timer.
	expired, reset := st.closedEntries()
	t.Logf("entries closed: %d by the FIN timer, %d by RST", expired, reset)
	if completed != parallel || expired+reset != parallel {
		t.Errorf("%d connections completed, %d FIN entries expired and %d reset, want %d in all: %s",
			completed, expired, reset, parallel, st.brief())
	}
	// Direct server return: only the client's requests and ACKs crossed
	// the gateway, not the gigabyte of replies.
	t.Logf("the gateway forwarded %d bytes for %d bytes downloaded (%.2f %%)", fromClient, d.Bytes, 100*float64(fromClient)/float64(d.Bytes))
	if fromClient == 0 || fromClient*10 > uint64(d.Bytes) {
		t.Errorf("the gateway forwarded %d bytes of a %d byte download", fromClient, d.Bytes)
	}
}

func TestVecdDropsStraySegments(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	v := startVecd(t, c, vecdYAML(c, standardServices(c, true)), false)

	rep, err := c.Loadgen("-mode", "stray", "-n", "3", "-reply-wait", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stray.Answered || !rep.Passed() || rep.Stray.Sent != 3 {
		t.Errorf("stray segments through vecd: %+v %v", rep.Stray, rep.Failures)
	}
	// Control: vecd forwards real connections meanwhile, so the silence is
	// its decision and not a dead path.
	ctl := mustLoadgen(t, c, "-mode", "http", "-n", "12", "-c", "4")
	if ctl.HTTP.OK != 12 {
		t.Errorf("control requests: %+v", ctl.HTTP)
	}
	st := v.stop()
	t.Logf("%d stray segments, answered: %v; vecd's non_syn_miss drops: %d", rep.Stray.Sent, rep.Stray.Answered, st.drops("non_syn_miss"))
	if got := st.drops("non_syn_miss"); got < uint64(rep.Stray.Sent) {
		t.Errorf("vecd counted %d non_syn_miss drops for %d stray segments: %s", got, rep.Stray.Sent, st.brief())
	}
}

func TestVecdUDPWeightedAndSticky(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	services := standardServices(c, true)
	v := startVecd(t, c, vecdYAML(c, services), false)

	const n, flows = 1000, 100
	rep := mustLoadgen(t, c, "-mode", "udp", "-n", strconv.Itoa(n), "-flows", strconv.Itoa(flows))
	u := rep.UDP
	t.Logf("%d datagrams in %d flows, %d echoed in %.2f s", u.Sent, u.Flows, u.Received, rep.DurationSec)
	if u.Sent != n || u.Received != n {
		t.Fatalf("udp: %+v", u)
	}
	datagrams := map[string]int{}
	for _, f := range u.FlowList {
		// mustLoadgen already failed on a flow answered by two servers.
		for name, k := range f.Servers {
			datagrams[name] += k
		}
	}
	checkSplit(t, "UDP flows", u.PerServer, services[1].Servers)
	checkSplit(t, "UDP datagrams", datagrams, services[1].Servers)

	st := v.stop()
	var packets uint64
	for _, s := range services[1].Servers {
		sc, _ := st.server("echo", s.Name)
		packets += sc.Packets
		// One entry per flow, and each lived for the whole run.
		if sc.New != uint64(u.PerServer[s.Name]) || sc.Active != int64(u.PerServer[s.Name]) {
			t.Errorf("echo/%s: vecd counted %d new and %d active entries, %d flows were answered by it",
				s.Name, sc.New, sc.Active, u.PerServer[s.Name])
		}
	}
	if packets != n {
		t.Errorf("vecd forwarded %d datagrams to the echo servers, want %d", packets, n)
	}
}

// waitServersResolved sends small batches of requests until every server in
// want has answered one: vecd has resolved their MACs by ARP. Requests that
// fail on the way are expected (no server resolved yet). It logs how long
// the first answer and all servers took.
func waitServersResolved(t *testing.T, c *Cluster, want []string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	seen := map[string]bool{}
	var first time.Duration
	failed := 0
	for {
		rep, err := c.Loadgen("-mode", "http", "-n", "12", "-c", "4", "-req-timeout", "1s", "-timeout", "10s")
		if err != nil {
			t.Fatal(err)
		}
		failed += rep.HTTP.Failed + rep.HTTP.NotRun
		if rep.HTTP.OK > 0 && first == 0 {
			first = time.Since(start)
		}
		for name, k := range rep.HTTP.PerServer {
			if k > 0 {
				seen[name] = true
			}
		}
		if !slices.ContainsFunc(want, func(s string) bool { return !seen[s] }) {
			t.Logf("through vecd: first answer after %.2f s, every server (%v) after %.2f s, %d requests failed meanwhile",
				first.Seconds(), want, time.Since(start).Seconds(), failed)
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v only %v of %v answered through vecd (servers configured by IP, resolved by ARP)", timeout, seen, want)
		}
	}
}

// checkGatewayNeighbour checks that server s learnt the gateway's own
// address with the port's MAC: vecd's ARP request for s came from them.
func checkGatewayNeighbour(t *testing.T, c *Cluster, s Server) {
	t.Helper()
	out := c.Exec(s.NS, "ip", "neigh", "show", "to", c.GatewayAddr().String(), "dev", s.Iface)
	if !strings.Contains(strings.ToLower(out), c.GatewayMAC().String()) {
		t.Errorf("%s has no neighbour entry %s → %s (vecd's ARP requests should come from them): %q",
			s.NS, c.GatewayAddr(), c.GatewayMAC(), out)
	}
}

func TestVecdResolvesServersByARP(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	services := standardServices(c, false)
	v := startVecd(t, c, vecdYAML(c, services), false)

	var names []string
	for _, s := range services[0].Servers {
		names = append(names, s.Name)
	}
	waitServersResolved(t, c, names, 20*time.Second)

	const n = 2000
	rep := mustLoadgen(t, c, "-mode", "http", "-n", strconv.Itoa(n), "-c", "32")
	t.Logf("%d requests at %.0f conn/s", rep.HTTP.OK, rep.HTTP.ConnsPerSec)
	if rep.HTTP.OK != n {
		t.Fatalf("%d of %d requests succeeded", rep.HTTP.OK, n)
	}
	checkSplit(t, "HTTP connections, servers resolved by ARP", rep.HTTP.PerServer, services[0].Servers)
	for _, s := range c.Servers() {
		checkGatewayNeighbour(t, c, s)
	}
	st := v.stop()
	if d := st.drops("no_server"); d != 0 {
		t.Errorf("vecd dropped %d packets as no_server: %s", d, st.brief())
	}
}

func TestVecdUnresolvableServerGetsNoConnections(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	// 10.99.0.19 is in the subnet but no namespace holds it: nobody will
	// ever answer vecd's ARP for it.
	ghost := vecdServer{Name: "ghost", IP: netip.MustParseAddr("10.99.0.19"), Weight: 1}
	for _, s := range c.Servers() {
		if s.Addr == ghost.IP {
			t.Fatalf("the cluster has a server at %s; the test needs that address unused", ghost.IP)
		}
	}
	live := []vecdServer{
		{Name: c.Server(1).Name, IP: c.ServerAddr(1), Weight: 3},
		{Name: c.Server(2).Name, IP: c.ServerAddr(2), Weight: 2},
	}
	services := []vecdService{
		{Name: "http", Proto: "tcp", Port: traffic.HTTPPort, Servers: append(slices.Clone(live), ghost)},
		// A service whose only server never resolves.
		{Name: "ghost-only", Proto: "tcp", Port: 8080, Servers: []vecdServer{ghost}},
	}
	v := startVecd(t, c, vecdYAML(c, services), false)
	waitServersResolved(t, c, []string{live[0].Name, live[1].Name}, 20*time.Second)

	const n = 1000
	rep := mustLoadgen(t, c, "-mode", "http", "-n", strconv.Itoa(n), "-c", "32")
	if rep.HTTP.OK != n {
		t.Fatalf("%d of %d requests succeeded", rep.HTTP.OK, n)
	}
	// The unresolved server takes no share: the others split 3:2.
	checkSplit(t, "HTTP connections with an unresolvable server", rep.HTTP.PerServer, live)

	ghostRep, err := c.Loadgen("-mode", "http", "-target", c.VIP().String()+":8080", "-n", "4", "-c", "4",
		"-req-timeout", "2s", "-timeout", "10s")
	if err != nil {
		t.Fatal(err)
	}
	if ghostRep.HTTP.OK != 0 {
		t.Errorf("%d requests to a service without a resolved server were answered", ghostRep.HTTP.OK)
	}

	st := v.stop()
	for _, svc := range []string{"http", "ghost-only"} {
		if sc, ok := st.server(svc, ghost.Name); !ok || sc.New != 0 || sc.Packets != 0 {
			t.Errorf("%s/%s (unresolvable) got connections or packets: %+v (found %v)", svc, ghost.Name, sc, ok)
		}
	}
	if d := st.drops("server_unresolved"); d < 4 {
		t.Errorf("vecd counted %d server_unresolved drops for 4 connections to a service without a resolved server: %s", d, st.brief())
	}
}

// TestClusterDemoConfig checks that configs/cluster-demo.yaml, which
// scripts/demo.sh runs vecd with, is valid and fits the cluster
// netns.sh builds: its port, addresses, weights 3:2:1 and any MACs it names.
func TestClusterDemoConfig(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3})
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(root + "/configs/cluster-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Ports) != 1 || len(cfg.DPDK.VDevs) != 1 ||
		!strings.HasPrefix(cfg.DPDK.VDevs[0]+",", cfg.Ports[0].Device+",iface="+c.GatewayIface()+",") {
		t.Errorf("the demo's port is %+v over %v, want one port on %s", cfg.Ports, cfg.DPDK.VDevs, c.GatewayIface())
	}
	if cfg.Gateway.IP != c.GatewayAddr().String() || cfg.Gateway.MAC != "" {
		t.Errorf("gateway %+v, want ip %s and the port's MAC", cfg.Gateway, c.GatewayAddr())
	}
	if len(cfg.Clusters) != 1 || cfg.Clusters[0].VIP != c.VIP().String() {
		t.Fatalf("clusters %+v, want one with VIP %s", cfg.Clusters, c.VIP())
	}
	for _, svc := range cfg.Clusters[0].Services {
		if len(svc.Servers) != len(c.Servers()) {
			t.Errorf("service %s has %d servers, the cluster %d", svc.Name, len(svc.Servers), len(c.Servers()))
			continue
		}
		for i, sv := range svc.Servers {
			s := c.Server(i + 1)
			if sv.Name != s.Name || sv.IP != s.Addr.String() || sv.Weight == nil || *sv.Weight != testWeights[i] {
				t.Errorf("service %s server %d: %s %s weight %v, want %s %s weight %d", svc.Name, i+1, sv.Name, sv.IP, sv.Weight,
					s.Name, s.Addr, testWeights[i])
			}
			if sv.MAC != "" && !strings.EqualFold(sv.MAC, s.MAC.String()) {
				t.Errorf("service %s server %s: mac %s, the cluster's is %s", svc.Name, sv.Name, sv.MAC, s.MAC)
			}
		}
	}
}

// failingHelperEnv makes TestVecdFailingHelper run: it is the child process
// of TestVecdCleansUpAfterFailure.
const failingHelperEnv = "VEC_E2E_FAILING_HELPER"

// TestVecdFailingHelper brings up a cluster with backends and vecd and then
// fails. It does nothing unless run as TestVecdCleansUpAfterFailure's child.
func TestVecdFailingHelper(t *testing.T) {
	if os.Getenv(failingHelperEnv) != "1" {
		return
	}
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	v := startVecd(t, c, vecdYAML(c, standardServices(c, true)), false)
	t.Logf("helper: vecd pid %d", v.proc.PID())
	t.Fatal("helper: deliberate failure with the cluster and vecd running")
}

var helperPID = regexp.MustCompile(`helper: vecd pid (\d+)`)

func TestVecdCleansUpAfterFailure(t *testing.T) {
	RequireRoot(t)
	requireHugepages(t)
	if os.Getenv("VEC_KEEP_CLUSTER") == "1" {
		t.Skip("VEC_KEEP_CLUSTER=1 keeps clusters on purpose")
	}
	// The lock covers the child's cluster and the checks after it.
	lockCluster(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestVecdFailingHelper$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), failingHelperEnv+"=1", clusterLockHeldEnv+"=1")
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err == nil || !strings.Contains(text, "deliberate failure") {
		t.Fatalf("the helper did not fail as planned (%v):\n%s", err, text)
	}
	// The failed test logged vecd's output, counters included.
	if !strings.Contains(text, "--- last output of vecd") {
		t.Errorf("the failed helper did not log vecd's output:\n%s", tail(text, 40))
	}
	m := helperPID.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the helper never reported vecd running:\n%s", text)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("vecd (pid %d) still exists after the failed test: kill -0 says %v", pid, err)
	}
	if ns := vecNamespaces(t); len(ns) != 0 {
		t.Errorf("namespaces %v remain after the failed test", ns)
	}
	if strings.Contains(text, "netns.sh down:") {
		t.Errorf("the failed test's clean-up reported an error:\n%s", tail(text, 20))
	}
	t.Logf("the failed helper left no namespace and no vecd (pid %d)", pid)
}
