package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/wire"
	"vec/e2e/traffic"
	"vec/fastpath/header"
	"vec/internal/pcapfile"
)

// The recovery tests (recovery_test.go) run vecd on one gateway, or on two
// sharing one configuration file (ha), with vec-agent on every server as
// the source of the rebuilt tables and as the witnesses of the split-brain
// rule (docs/recovery.md). Everything here is generated from `netns.sh
// status`; what vecd does is read from its -stats-json file (per-core
// counters and modes) and its Prometheus endpoint (HA role, term, rebuild),
// both inside the gateway's namespace.

// Settings of the generated configurations.
const (
	recHAInterval = 100 * time.Millisecond
	recHASkew     = 50 * time.Millisecond
	// recMasterDown is how long a backup waits without the active's
	// advert before it stands for election (VRRP's 3 × interval + skew).
	recMasterDown   = 3*recHAInterval + recHASkew
	recFetchTimeout = time.Second
	// recAgentMaxLease is the agents' witness.max_lease, and so their
	// quiet period after a start: they grant no lease for that long.
	recAgentMaxLease = time.Second
	recAgentPort     = 10004
	recHeartbeatPort = 10006
	// recStatsInterval is how often vecd rewrites its counters file.
	recStatsInterval = 100 * time.Millisecond
	recMetricsAddr   = "127.0.0.1:9100" // vecd's default, in each gateway namespace
)

// The long-lived streams: recStreams paced downloads of recStreamRate
// bytes/s lasting recStreamLength each, long enough to stay open across a
// restart or a takeover and the TCP retransmissions that follow it.
const (
	recStreams      = 200
	recStreamRate   = 20_000
	recStreamLength = 10 * time.Second
	// recConnRate is the steady arrival rate of new short connections.
	recConnRate = 50
)

// recOptions shape a recovery cluster.
type recOptions struct {
	// HA runs two gateways, gw1 (priority 200) and gw2 (100), from one
	// configuration with an ha section; without it one vecd runs with
	// recovery only.
	HA           bool
	Preempt      bool
	PreemptDelay time.Duration
	// WrongKeyForGW2 names an agent whose key file in gw2's configuration
	// holds a key that agent does not know (gw2 then gets a file of its
	// own; "" for none).
	WrongKeyForGW2 string
	// IPv6 makes the cluster dual-stack: the agents serve the IPv6 VIP
	// too, and vecd gets gateway.ip6, an IPv6 cluster beside the IPv4
	// one (the same service over the servers' IPv6 addresses), and each
	// agent's IPv6 address (recovery.agents[].ip6).
	IPv6 bool
}

// recCluster is the cluster of a recovery test: three servers with
// vec-backend and vec-agent, and one or two gateways.
type recCluster struct {
	*Cluster
	t        testing.TB
	dir      string
	opts     recOptions
	agentBin string
	// agentKeys[i] and agentKeyFiles[i] are server i+1's agent key.
	agentKeys     [][]byte
	agentKeyFiles []string
	agents        []*Proc
	haKey         []byte
	haKeyFile     string
	gws           []*recGateway
}

// startRecoveryCluster brings up the topology (with a second gateway
// namespace for HA), the backends and the agents, and writes the vecd
// configuration(s). Gateways are started by the test (recGateway.start).
func startRecoveryCluster(t testing.TB, opts recOptions) *recCluster {
	t.Helper()
	requireHugepages(t)
	gateways := 1
	if opts.HA {
		gateways = 2
	}
	c := startLockedCluster(t, Options{Servers: 3, Gateways: gateways, Backends: true, IPv6: opts.IPv6})
	rc := &recCluster{Cluster: c, t: t, dir: t.TempDir(), opts: opts}
	// Build what goroutines will run now: Binary fails the test, which only
	// the test's goroutine may do.
	Binary(t, "vecd")
	Binary(t, "vec-loadgen")
	rc.agentBin = buildStaticAgent(t, rc.dir)

	for i := range c.Servers() {
		key := randomKey(t)
		path := filepath.Join(rc.dir, fmt.Sprintf("agent-s%d.key", i+1))
		writeFile(t, path, hex.EncodeToString(key)+"\n", 0o600)
		rc.agentKeys = append(rc.agentKeys, key)
		rc.agentKeyFiles = append(rc.agentKeyFiles, path)
	}
	rc.haKey = randomKey(t)
	rc.haKeyFile = filepath.Join(rc.dir, "ha.key")
	writeFile(t, rc.haKeyFile, hex.EncodeToString(rc.haKey)+"\n", 0o600)

	rc.agents = make([]*Proc, len(c.Servers()))
	for i := range c.Servers() {
		rc.startAgent(i + 1)
	}
	shared := filepath.Join(rc.dir, "vecd.yaml")
	writeFile(t, shared, rc.vecdConfig(nil), 0o644)
	for k := 1; k <= gateways; k++ {
		g := &recGateway{rc: rc, K: k, Name: fmt.Sprintf("gw%d", k), GW: c.GatewayN(k), Priority: 300 - 100*k, config: shared}
		if k == 2 && opts.WrongKeyForGW2 != "" {
			wrong := filepath.Join(rc.dir, "wrong-"+opts.WrongKeyForGW2+".key")
			writeFile(t, wrong, hex.EncodeToString(randomKey(t))+"\n", 0o600)
			g.config = filepath.Join(rc.dir, "vecd-gw2.yaml")
			writeFile(t, g.config, rc.vecdConfig(map[string]string{opts.WrongKeyForGW2: wrong}), 0o644)
		}
		rc.gws = append(rc.gws, g)
	}
	// The agents grant no lease in their first recAgentMaxLease; and every
	// one must listen before a gateway asks it for its table.
	for i := range c.Servers() {
		addr := netip.AddrPortFrom(c.ServerAddr(i+1), recAgentPort).String()
		if err := WaitTCP(c.GatewayN(1).NS, addr, 10*time.Second); err != nil {
			t.Fatalf("agent s%d: %v\n%s", i+1, err, tail(rc.agents[i].Output(), 20))
		}
	}
	return rc
}

func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func writeFile(t testing.TB, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// startAgent starts server i's vec-agent (i from 1) with its own key.
func (rc *recCluster) startAgent(i int) *Proc {
	rc.t.Helper()
	name := rc.Server(i).Name
	listen := netip.AddrPortFrom(rc.ServerAddr(i), recAgentPort)
	cfgPath := filepath.Join(rc.dir, "agent-"+name+".yaml")
	vips := rc.VIP().String()
	if rc.opts.IPv6 {
		vips += fmt.Sprintf(", %q", rc.VIP6())
	}
	cfg := fmt.Sprintf("name: %s\nlisten: %q\nvips: [%s]\ndrop_capabilities: true\nauth:\n  key_files: [%s]\nwitness:\n  max_lease: %s\n",
		name, listen, vips, rc.agentKeyFiles[i-1], recAgentMaxLease)
	writeFile(rc.t, cfgPath, cfg, 0o644)
	p := rc.Start(rc.ServerNS(i), "vec-agent-"+name, rc.agentBin, "--config", cfgPath)
	rc.agents[i-1] = p
	return p
}

// vecdConfig is the vecd configuration of the cluster: the VIP's HTTP
// service over s1..s3 (weights 3:2:1, by address: vecd resolves them by
// ARP), the agents with their own keys (keyOverride replaces an agent's
// key file by name), and with HA the ha section listing both gateways.
// Each vecd's worker runs on core 1 and its control plane on core 0, so
// two fit on the machine (idle workers nap: workers.poll adaptive).
func (rc *recCluster) vecdConfig(keyOverride map[string]string) string {
	var b strings.Builder
	gw1 := rc.GatewayN(1)
	b.WriteString(PortYAML(gw1))
	fmt.Fprintf(&b, "gateway:\n  ip: %s\n", gw1.Addr)
	if rc.opts.IPv6 {
		fmt.Fprintf(&b, "  ip6: %q\n", gw1.Addr6)
	}
	b.WriteString("workers:\n  cores: [1]\n  control_core: 0\n  table_capacity: 65536\n")
	b.WriteString("log:\n  level: info\n")
	fmt.Fprintf(&b, "metrics:\n  listen: %s\n", recMetricsAddr)
	fmt.Fprintf(&b, "recovery:\n  fetch_timeout: %s\n  agents:\n", recFetchTimeout)
	for i, s := range rc.Servers() {
		key := rc.agentKeyFiles[i]
		if k, ok := keyOverride[s.Name]; ok {
			key = k
		}
		if rc.opts.IPv6 {
			fmt.Fprintf(&b, "    - {name: %s, ip: %s, ip6: %q, key_file: %s}\n", s.Name, s.Addr, s.Addr6, key)
			continue
		}
		fmt.Fprintf(&b, "    - {name: %s, ip: %s, key_file: %s}\n", s.Name, s.Addr, key)
	}
	if rc.opts.HA {
		fmt.Fprintf(&b, "ha:\n  key_file: %s\n  interval: %s\n  skew: %s\n  preempt: %v\n", rc.haKeyFile, recHAInterval, recHASkew, rc.opts.Preempt)
		if rc.opts.PreemptDelay > 0 {
			fmt.Fprintf(&b, "  preempt_delay: %s\n", rc.opts.PreemptDelay)
		}
		b.WriteString("  gateways:\n")
		for k, g := range rc.Gateways() {
			ip6 := ""
			if rc.opts.IPv6 {
				ip6 = fmt.Sprintf(", ip6: %q", g.Addr6)
			}
			fmt.Fprintf(&b, "    - {name: gw%d, address: \"%s\", priority: %d, ip: %s%s}\n",
				k+1, netip.AddrPortFrom(g.MgmtAddr, recHeartbeatPort), 300-100*(k+1), g.Addr, ip6)
		}
	}
	writeHTTPCluster(&b, rc.Cluster)
	if rc.opts.IPv6 {
		writeHTTPCluster6(&b, rc.Cluster)
	}
	return b.String()
}

// VIP6 is the first IPv6 VIP of a dual-stack cluster; it fails the test on
// a cluster without one.
func (c *Cluster) VIP6() netip.Addr {
	c.t.Helper()
	if len(c.status.VIPs6) == 0 {
		c.t.Fatalf("the cluster has no IPv6 VIP (netns.sh up without --ipv6?)")
	}
	return c.status.VIPs6[0]
}

// writeHTTPCluster6 appends to writeHTTPCluster's clusters section the
// same service on the IPv6 VIP, over every server by its IPv6 address
// (vecd resolves them by Neighbor Discovery from gateway.ip6).
func writeHTTPCluster6(b *strings.Builder, c *Cluster) {
	fmt.Fprintf(b, "  - vip: %q\n    services:\n", c.VIP6())
	fmt.Fprintf(b, "      - name: http\n        protocol: tcp\n        port: %d\n", traffic.HTTPPort)
	fmt.Fprintf(b, "        fin_timeout: %s\n        stale_timeout: %s\n        servers:\n", testFinTimeout, testStaleTimeout)
	for i, s := range c.Servers() {
		fmt.Fprintf(b, "          - {name: %s, ip: %q, weight: %d}\n", s.Name, s.Addr6, testWeights[i])
	}
}

// writeHTTPCluster writes the clusters section of the recovery and
// scale-out tests: the VIP's HTTP service over every server by address
// (vecd resolves them by ARP) with testWeights and the test timers, plus
// serviceKeys ("scheduler: maglev"), each a line of the service.
func writeHTTPCluster(b *strings.Builder, c *Cluster, serviceKeys ...string) {
	fmt.Fprintf(b, "clusters:\n  - vip: %s\n    services:\n", c.VIP())
	fmt.Fprintf(b, "      - name: http\n        protocol: tcp\n        port: %d\n", traffic.HTTPPort)
	for _, k := range serviceKeys {
		fmt.Fprintf(b, "        %s\n", k)
	}
	fmt.Fprintf(b, "        fin_timeout: %s\n        stale_timeout: %s\n        servers:\n", testFinTimeout, testStaleTimeout)
	for i, s := range c.Servers() {
		fmt.Fprintf(b, "          - {name: %s, ip: %s, weight: %d}\n", s.Name, s.Addr, testWeights[i])
	}
}

// recGateway is one gateway of a recovery cluster; its vecd may be started
// several times (each start writes its own counters file).
type recGateway struct {
	rc       *recCluster
	K        int
	Name     string // gw1, gw2: its name in ha.gateways
	GW       Gateway
	Priority int
	config   string
	// statsEvery is vecd's -stats-interval (default recStatsInterval).
	statsEvery time.Duration
	proc       *Proc
	stats      string
	starts     int
	// startedAt is when the current vecd was started.
	startedAt time.Time
}

// gw is gateway k (from 1).
func (rc *recCluster) gw(k int) *recGateway { return rc.gws[k-1] }

// start runs vecd in the gateway's namespace (with -node under HA) and
// returns at once; wait for what the test needs (waitMode, waitClaim).
func (g *recGateway) start() {
	t := g.rc.t
	t.Helper()
	// A sampler may be reading the gateway's fields.
	gatewayMu.Lock()
	defer gatewayMu.Unlock()
	g.starts++
	g.stats = filepath.Join(g.rc.dir, fmt.Sprintf("stats-%s-%d.json", g.Name, g.starts))
	every := g.statsEvery
	if every == 0 {
		every = recStatsInterval
	}
	args := []string{Binary(t, "vecd"), "-config", g.config, "-stats-json", g.stats, "-stats-interval", every.String()}
	if g.rc.opts.HA {
		args = append(args, "-node", g.Name)
	}
	g.startedAt = time.Now()
	g.proc = g.rc.Start(g.GW.NS, fmt.Sprintf("vecd-%s-%d", g.Name, g.starts), args...)
}

// kill ends vecd with SIGKILL, as a crash would, and returns when.
func (g *recGateway) kill() time.Time {
	g.rc.t.Helper()
	at := time.Now()
	if err := g.proc.Kill(); err != nil && g.proc.Running() {
		g.rc.t.Fatalf("kill -9 %s's vecd: %v", g.Name, err)
	}
	return at
}

// terminate sends SIGTERM (a graceful stop) and returns when; it does not
// wait for the exit.
func (g *recGateway) terminate() time.Time {
	g.rc.t.Helper()
	at := time.Now()
	if err := g.proc.Signal(syscall.SIGTERM); err != nil {
		g.rc.t.Fatal(err)
	}
	return at
}

// counters reads the counters the current vecd last wrote, and when.
func (g *recGateway) counters() (vecdCounters, time.Time, error) {
	var st vecdCounters
	fi, err := os.Stat(g.stats)
	if err != nil {
		return st, time.Time{}, err
	}
	b, err := os.ReadFile(g.stats)
	if err != nil {
		return st, time.Time{}, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, time.Time{}, fmt.Errorf("%s: %w", g.stats, err)
	}
	if len(st.Cores) == 0 {
		return st, time.Time{}, fmt.Errorf("%s lists no worker cores", g.stats)
	}
	return st, fi.ModTime(), nil
}

// mustCounters is counters, failing the test on error.
func (g *recGateway) mustCounters() vecdCounters {
	g.rc.t.Helper()
	st, _, err := g.counters()
	if err != nil {
		g.rc.t.Fatalf("%s's counters: %v\n%s", g.Name, err, tail(g.proc.Output(), 30))
	}
	return st
}

// checkTakeoverMissStops waits a second after a restarted vecd's workers
// went active (after: its counters then) and checks that takeover_miss did
// not grow meanwhile: once the table is rebuilt a miss is no takeover miss
// any more. It returns the counters a second after and when they were read.
func (g *recGateway) checkTakeoverMissStops(after vecdCounters) (vecdCounters, time.Time) {
	t := g.rc.t
	t.Helper()
	time.Sleep(time.Second)
	later, laterAt := g.mustCounters(), time.Now()
	if a, b := after.drops("takeover_miss"), later.drops("takeover_miss"); b != a {
		t.Errorf("takeover_miss grew from %d to %d after the workers went active", a, b)
	}
	return later, laterAt
}

// logRestartMisses logs what a restarted vecd installed and its misses when
// its workers went active (after), a second later (later; streamsOpen:
// whether every stream was still open then) and at the end (final).
func logRestartMisses(t testing.TB, after, later, final vecdCounters, streamsOpen bool) {
	t.Helper()
	t.Logf("restarted vecd: installed %d, takeover_miss %d (%d a second after going active), non_syn_miss %d a second after going active (streams all open: %v), %d at the end; drops %v",
		after.installed(), after.drops("takeover_miss"), later.drops("takeover_miss"), later.drops("non_syn_miss"), streamsOpen,
		final.drops("non_syn_miss"), final.Cores[0].Drops)
}

// waitMode waits until the current vecd's workers are all in mode and
// returns when its counters file first said so (its write time).
func (g *recGateway) waitMode(mode string, timeout time.Duration) time.Time {
	t := g.rc.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if !g.proc.Running() {
			t.Fatalf("%s's vecd exited: %v\n%s", g.Name, g.proc.Wait(time.Second), tail(g.proc.Output(), 40))
		}
		st, at, err := g.counters()
		if err == nil {
			if last = st.mode(); last == mode {
				return at
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's workers not %s within %v (last: %q, %v)\n%s", g.Name, mode, timeout, last, err, tail(g.proc.Output(), 40))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitClaim waits until ARP for the VIP is answered by this gateway only:
// the client's traffic then comes to it.
func (g *recGateway) waitClaim(timeout time.Duration) {
	t := g.rc.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		macs, err := g.rc.ARPing(g.rc.VIP(), 1)
		if err != nil {
			t.Fatalf("arping the VIP: %v", err)
		}
		if len(macs) == 1 && macs[0].String() == g.GW.MAC.String() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ARP for the VIP answered by %v, want %s's %s only, within %v", macs, g.Name, g.GW.MAC, timeout)
		}
	}
}

// waitEntries waits until the gateway's table holds at least n entries.
func (g *recGateway) waitEntries(n uint64, timeout time.Duration) vecdCounters {
	t := g.rc.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, _, err := g.counters()
		if err == nil && st.entries() >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d entries after %v, want %d: %s", g.Name, st.entries(), timeout, n, st.brief())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics scrapes the current vecd's Prometheus endpoint (in its
// namespace) and returns the samples by "name{labels}".
func (g *recGateway) metrics() (map[string]float64, error) {
	return scrapeMetrics(HTTPClient(g.GW.NS, 2*time.Second), recMetricsAddr)
}

// haRole is the HA role the gateway's metrics report ("" when unreadable).
func (g *recGateway) haRole() string {
	m, err := g.metrics()
	if err != nil {
		return ""
	}
	for _, r := range []string{"active", "backup", "candidate", "stopped", "alone"} {
		if m[`vec_ha_role{role="`+r+`"}`] == 1 {
			return r
		}
	}
	return ""
}

// mustMetrics is metrics, failing the test on error.
func (g *recGateway) mustMetrics() map[string]float64 {
	g.rc.t.Helper()
	m, err := g.metrics()
	if err != nil {
		g.rc.t.Fatalf("%s's metrics: %v", g.Name, err)
	}
	return m
}

// recStreamsRun is a vec-loadgen download run of long-lived paced streams
// in the background.
type recStreamsRun struct {
	n       int
	timeout time.Duration
	done    chan struct{}
	rep     *traffic.Report
	err     error
}

// recStreamsTimeout bounds a run of streams that must all complete.
const recStreamsTimeout = recStreamLength + 25*time.Second

// startStreams opens n paced downloads through the VIP, each
// recStreamRate bytes/s for recStreamLength, every one checked by SHA-256.
// A stream still open after timeout fails.
func (c *Cluster) startStreams(n int, timeout time.Duration) *recStreamsRun {
	return c.startPacedStreams(n, recStreamRate, recStreamLength, timeout)
}

// startPacedStreams is startStreams with downloads of rate bytes/s lasting
// length. vec-loadgen must have been built (Binary) by the test first.
func (c *Cluster) startPacedStreams(n int, rate int64, length, timeout time.Duration) *recStreamsRun {
	return c.startPacedStreamsIn(c.ClientNS(), n, rate, length, timeout)
}

// startPacedStreamsIn is startPacedStreams from a client in namespace ns.
func (c *Cluster) startPacedStreamsIn(ns string, n int, rate int64, length, timeout time.Duration) *recStreamsRun {
	return c.startPacedStreamsTo(ns, netip.AddrPort{}, n, rate, length, timeout)
}

// startPacedStreamsTo is startPacedStreamsIn to target (an IPv4 or IPv6
// VIP and port; the zero AddrPort for vec-loadgen's default, the first
// IPv4 VIP), from the client's addresses of the target's family.
func (c *Cluster) startPacedStreamsTo(ns string, target netip.AddrPort, n int, rate int64, length, timeout time.Duration) *recStreamsRun {
	s := &recStreamsRun{n: n, done: make(chan struct{}), timeout: timeout}
	size := rate * int64(length/time.Millisecond) / 1000
	args := []string{"-mode", "download", "-parallel", strconv.Itoa(n), "-size", strconv.FormatInt(size, 10),
		"-rate", strconv.FormatInt(rate, 10), "-seed", "7", "-req-timeout", "10s",
		"-timeout", timeout.String()}
	if target.IsValid() {
		args = append(args, "-target", target.String())
	}
	go func() {
		defer close(s.done)
		s.rep, s.err = c.LoadgenIn(ns, args...)
	}()
	return s
}

// result waits for the streams and logs what became of them.
func (s *recStreamsRun) result(t testing.TB, what string) *traffic.DownloadResult {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(s.timeout + 15*time.Second):
		t.Fatalf("%s: vec-loadgen did not end", what)
	}
	if s.err != nil {
		t.Fatalf("%s: %v", what, s.err)
	}
	d := s.rep.Download
	t.Logf("%s: %d streams: %d complete and byte-identical (SHA-256), %d failed (%d checksum mismatches), errors %v %v; per server %v; run %.1f s",
		what, s.n, d.OK, d.Failed, d.Mismatches, d.Errors.ByClass, d.Errors.Samples, d.PerServer, s.rep.DurationSec)
	return d
}

// check waits for the streams and fails the test unless every one
// completed byte-identical; each moment in across must have found every
// stream open (connected before, ended after), or the test proved nothing.
func (s *recStreamsRun) check(t testing.TB, what string, across ...time.Time) *traffic.DownloadResult {
	t.Helper()
	d := s.result(t, what)
	if !s.rep.Passed() || d.OK != s.n || d.Failed != 0 || d.Mismatches != 0 {
		t.Errorf("%s: %d of %d streams complete, %d failed, %d mismatched: %v", what, d.OK, s.n, d.Failed, d.Mismatches, s.rep.Failures)
	}
	s.openAcross(t, what, across...)
	return d
}

// openAcross fails the test unless every stream was open (connected
// before, ended after) at each moment in across: otherwise the test proved
// nothing about those moments.
func (s *recStreamsRun) openAcross(t testing.TB, what string, across ...time.Time) {
	t.Helper()
	d := s.rep.Download
	for _, at := range across {
		if !d.LastConnected.Before(at) || !d.FirstDone.After(at) {
			t.Errorf("%s: not every stream was open at %s (last connected %s, first ended %s): lengthen the streams",
				what, at.Format("15:04:05.000"), d.LastConnected.Format("15:04:05.000"), d.FirstDone.Format("15:04:05.000"))
		}
	}
}

// takeoverLog is one "takeover done" (or "takeover failed") line of a
// vecd's log: the rebuild report's fields.
type takeoverLog struct {
	Failed bool
	Fields map[string]any
	Line   string
}

// takeoverLogs returns the rebuild reports a vecd logged, in order (the
// console encoder puts the fields as JSON after the message).
func takeoverLogs(output string) []takeoverLog {
	var out []takeoverLog
	for line := range strings.Lines(output) {
		done, failed := strings.Contains(line, "\ttakeover done\t"), strings.Contains(line, "\ttakeover failed\t")
		if !done && !failed {
			continue
		}
		tl := takeoverLog{Failed: failed, Line: strings.TrimSpace(line), Fields: map[string]any{}}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			json.Unmarshal([]byte(line[i:]), &tl.Fields)
		}
		out = append(out, tl)
	}
	return out
}

// num is a numeric field of a takeover log (0 when absent).
func (tl takeoverLog) num(name string) float64 {
	f, _ := tl.Fields[name].(float64)
	return f
}

// brief is the figures of a takeover log that the tests report.
func (tl takeoverLog) brief() string {
	if tl.Fields == nil {
		return "(no takeover report)"
	}
	return fmt.Sprintf("trigger %v: total %.1f ms (fence %.1f, fetch %.1f, rebuild %.1f, install %.1f ms), agents %v/%v answered, down %v, received %v, installed %v, existing %v, conflicts %v/%v",
		tl.Fields["trigger"], 1000*tl.num("total"), 1000*tl.num("fence"), 1000*tl.num("fetch"), 1000*tl.num("rebuild"), 1000*tl.num("install"),
		tl.Fields["agents_answered"], tl.Fields["agents_asked"], tl.Fields["agents_down"], tl.Fields["received"], tl.Fields["installed"],
		tl.Fields["existing"], tl.Fields["conflicts_resolved"], tl.Fields["conflicts_dropped"])
}

// lastTakeover is the gateway's current vecd's last rebuild report; it
// fails the test when there is none.
func (g *recGateway) lastTakeover() takeoverLog {
	g.rc.t.Helper()
	logs := takeoverLogs(g.proc.Output())
	if len(logs) == 0 {
		g.rc.t.Fatalf("%s's vecd logged no takeover report\n%s", g.Name, tail(g.proc.Output(), 30))
	}
	return logs[len(logs)-1]
}

// recConnsRun is a vec-loadgen http run of new short connections at a
// steady rate, in the background.
type recConnsRun struct {
	done chan struct{}
	rep  *traffic.Report
	err  error
}

// startNewConns opens recConnRate new connections per second (GET /, each
// on its own connection) for length. A request may take 5 s: TCP
// retransmits a SYN lost in a takeover after 1 s, then 2 s later.
func (c *Cluster) startNewConns(length time.Duration) *recConnsRun {
	return c.startNewConnsTo(netip.AddrPort{}, length)
}

// startNewConnsTo is startNewConns to target (the zero AddrPort for
// vec-loadgen's default, the first IPv4 VIP).
func (c *Cluster) startNewConnsTo(target netip.AddrPort, length time.Duration) *recConnsRun {
	r := &recConnsRun{done: make(chan struct{})}
	n := int(length.Seconds() * recConnRate)
	args := []string{"-mode", "http", "-n", strconv.Itoa(n), "-c", "64", "-conn-rate", strconv.Itoa(recConnRate),
		"-req-timeout", "5s", "-timeout", (length + 20*time.Second).String()}
	if target.IsValid() {
		args = append(args, "-target", target.String())
	}
	go func() {
		defer close(r.done)
		r.rep, r.err = c.Loadgen(args...)
	}()
	return r
}

// result waits for the run and logs it; it returns how many failed.
func (r *recConnsRun) result(t testing.TB, what string) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: vec-loadgen did not end", what)
	}
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	h := r.rep.HTTP
	t.Logf("%s: %d new connections at %d/s: %d ok, %d failed %v, %d not run; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; per server %v",
		what, h.Requested, recConnRate, h.OK, h.Failed, h.Errors.ByClass, h.NotRun, h.LatencyP50Ms, h.LatencyP99Ms, h.LatencyMaxMs, h.PerServer)
	return h.Failed + h.NotRun
}

// recSample is one reading of a gateway's counters file.
type recSample struct {
	At      time.Time // when the test read it
	Written time.Time // when vecd wrote it
	K       int       // gateway
	Start   int       // which start of its vecd
	St      vecdCounters
}

// recSampler reads every gateway's counters file every period.
type recSampler struct {
	stop    chan struct{}
	done    chan struct{}
	samples []recSample
}

func (rc *recCluster) startSampler(period time.Duration) *recSampler {
	s := &recSampler{stop: make(chan struct{}), done: make(chan struct{})}
	// The gateways' fields change when a test restarts one; the sampler
	// reads them under this snapshot of their identity.
	type source struct {
		k, start int
		path     string
	}
	snapshot := func() []source {
		gatewayMu.Lock()
		defer gatewayMu.Unlock()
		var out []source
		for _, g := range rc.gws {
			out = append(out, source{g.K, g.starts, g.stats})
		}
		return out
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			for _, src := range snapshot() {
				if src.path == "" {
					continue
				}
				g := &recGateway{stats: src.path}
				st, written, err := g.counters()
				if err != nil {
					continue
				}
				s.samples = append(s.samples, recSample{At: time.Now(), Written: written, K: src.k, Start: src.start, St: st})
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns its samples.
func (s *recSampler) finish() []recSample {
	close(s.stop)
	<-s.done
	return s.samples
}

// gatewayMu guards the gateways' fields that a sampler reads while a test
// restarts a gateway.
var gatewayMu sync.Mutex

// forwardTimes derives, from the samples of gateway k, the counter-file
// write times at which its tx counter had grown since the previous write
// of the same vecd.
func forwardTimes(samples []recSample, k int) []time.Time {
	var out []time.Time
	var prev *recSample
	for i := range samples {
		s := &samples[i]
		if s.K != k {
			continue
		}
		if prev != nil && prev.Start == s.Start && s.Written.After(prev.Written) && s.St.tx() > prev.St.tx() {
			out = append(out, s.Written)
		}
		if prev == nil || s.Written.After(prev.Written) || s.Start != prev.Start {
			prev = s
		}
	}
	return out
}

// lastBefore and firstAfter pick from sorted times.
func lastBefore(ts []time.Time, at time.Time) (time.Time, bool) {
	var out time.Time
	for _, x := range ts {
		if x.After(at) {
			break
		}
		out = x
	}
	return out, !out.IsZero()
}

func firstAfter(ts []time.Time, at time.Time) (time.Time, bool) {
	for _, x := range ts {
		if x.After(at) {
			return x, true
		}
	}
	return time.Time{}, false
}

// fwdCapture records, on a gateway's bridge port, every IPv4 frame that
// gateway sent (source MAC its port's): what it forwarded to the servers,
// timestamped by the kernel. DPDK's af_packet transmits past the capture
// taps of vecgw0 itself, hence the bridge side (docs/test-cluster.md).
// startFrameCapture makes one of any interface and filter.
type fwdCapture struct {
	t    testing.TB
	proc *Proc
	path string
}

func (c *Cluster) startForwardCapture(k int) *fwdCapture {
	c.t.Helper()
	return c.startForwardCaptureOf(k, "ip")
}

// startForwardCaptureOf records only the frames gateway k sent that filter
// matches.
func (c *Cluster) startForwardCaptureOf(k int, filter string) *fwdCapture {
	c.t.Helper()
	return c.startFrameCapture(c.Status().BridgeNS, fmt.Sprintf("vecpg%d", k), "ether src "+c.GatewayN(k).MAC.String()+" and ("+filter+")")
}

// startFrameCapture runs tcpdump on iface in namespace ns, recording the
// headers (64 bytes) of the frames filter matches, with tcpdump's options
// opts added, and waits until it listens.
func (c *Cluster) startFrameCapture(ns, iface, filter string, opts ...string) *fwdCapture {
	t := c.t
	t.Helper()
	cp := &fwdCapture{t: t, path: filepath.Join(t.TempDir(), iface+".pcap")}
	args := append([]string{"-s", "64", "-B", "16384"}, opts...)
	cp.proc = startTcpdump(t, ns, iface, cp.path, append(args, filter)...)
	return cp
}

// times stops the capture and returns the frames' timestamps, in order.
func (cp *fwdCapture) times() []time.Time {
	cp.t.Helper()
	pkts, complete := cp.packets()
	if !complete {
		cp.t.Logf("capture %s may be incomplete: %q", cp.path, strings.TrimSpace(cp.proc.Output()))
	}
	out := make([]time.Time, len(pkts))
	for i, p := range pkts {
		out[i] = p.Time
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// packets stops the capture and returns its frames, and whether tcpdump
// says the kernel dropped none. (Its count "received by filter" may be
// higher than the frames captured: it includes the frames that arrived
// while tcpdump was installing its filter, which libpcap discards.)
func (cp *fwdCapture) packets() ([]pcapfile.Packet, bool) {
	cp.t.Helper()
	cp.proc.Stop()
	m := tcpdumpStats.FindStringSubmatch(cp.proc.Output())
	pkts, err := pcapfile.Read(cp.path)
	if err != nil {
		cp.t.Fatalf("reading the capture: %v", err)
	}
	return pkts, m != nil && m[3] == "0"
}

// agentUnion asks every live agent, as a gateway would, for its
// connections to the VIP and returns the union's size and each agent's
// count (an agent that fails is left out and named in the error).
func (rc *recCluster) agentUnion() (int, map[string]int, error) {
	return rc.agentUnionOf(rc.VIP())
}

// agentUnionOf is agentUnion for the connections to vips.
func (rc *recCluster) agentUnionOf(vips ...netip.Addr) (int, map[string]int, error) {
	var targets []client.Target
	for i, s := range rc.Servers() {
		k, err := auth.NewKey(rc.agentKeys[i])
		if err != nil {
			return 0, nil, err
		}
		targets = append(targets, client.Target{Name: s.Name, URL: "http://" + netip.AddrPortFrom(s.Addr, recAgentPort).String(), Key: k})
	}
	cl, err := client.New(client.Options{HTTPClient: HTTPClient(rc.GatewayN(1).NS, 3*time.Second)})
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	union := map[wire.Entry]bool{}
	per := map[string]int{}
	var errs []error
	for _, r := range cl.ConnectionsAll(ctx, targets, vips) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("agent %s: %w", r.Target.Name, r.Err))
			continue
		}
		per[r.Target.Name] = len(r.Shadow.Entries)
		for _, e := range r.Shadow.Entries {
			union[e] = true
		}
	}
	return len(union), per, errors.Join(errs...)
}

// procCPU is the CPU time (user + system, all threads) process pid has
// used so far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	_, cpu, err := statCPU(fmt.Sprintf("/proc/%d/stat", pid))
	return cpu, err
}

// threadCPU is the CPU time each thread of process pid has used so far,
// by "name/tid".
func threadCPU(pid int) (map[string]time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Duration{}
	for _, task := range tasks {
		name, cpu, err := statCPU(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		out[name+"/"+task.Name()] = cpu
	}
	return out, nil
}

// busiestThreads lists the threads that used the most CPU between two
// threadCPU readings, over elapsed.
func busiestThreads(before, after map[string]time.Duration, elapsed time.Duration) string {
	type use struct {
		name string
		cpu  time.Duration
	}
	var uses []use
	for name, cpu := range after {
		if d := cpu - before[name]; d > 0 {
			uses = append(uses, use{name, d})
		}
	}
	slices.SortFunc(uses, func(a, b use) int { return int(b.cpu - a.cpu) })
	var parts []string
	for _, u := range uses[:min(len(uses), 6)] {
		parts = append(parts, fmt.Sprintf("%s %.2f %%", u.name, 100*float64(u.cpu)/float64(elapsed)))
	}
	return strings.Join(parts, ", ")
}

// statCPU reads the command name and utime+stime of a /proc stat file.
func statCPU(path string) (string, time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: state is field 3, utime 14, stime 15.
	s := string(b)
	open, i := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || i < open {
		return "", 0, fmt.Errorf("%s: %q", path, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("%s: %d fields after the name", path, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	// USER_HZ is 100 on every Linux ABI Go supports.
	return s[open+1 : i], time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// sendUDP sends each datagram to dst from inside namespace ns.
func sendUDP(ns string, dst netip.AddrPort, datagrams ...[]byte) error {
	var conn *net.UDPConn
	err := InNetns(ns, func() error {
		var err error
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write(d); err != nil {
			return err
		}
	}
	return nil
}

// heartbeatCapture records the heartbeats arriving at gateway k's
// management interface, for replaying them.
type heartbeatCapture struct {
	t    testing.TB
	proc *Proc
	path string
}

func (rc *recCluster) startHeartbeatCapture(k int) *heartbeatCapture {
	t := rc.t
	t.Helper()
	g := rc.GatewayN(k)
	cp := &heartbeatCapture{t: t, path: filepath.Join(rc.dir, fmt.Sprintf("heartbeats-gw%d.pcap", k))}
	cp.proc = startTcpdump(t, g.NS, g.MgmtIface, cp.path, "-s", "512",
		fmt.Sprintf("udp and dst host %s and dst port %d", g.MgmtAddr, recHeartbeatPort))
	return cp
}

// payloads stops the capture and returns the UDP payloads it recorded.
func (cp *heartbeatCapture) payloads() [][]byte {
	cp.t.Helper()
	cp.proc.Stop()
	pkts, err := pcapfile.Read(cp.path)
	if err != nil {
		cp.t.Fatalf("reading the heartbeat capture: %v", err)
	}
	var out [][]byte
	for _, p := range pkts {
		eth := header.Ethernet(p.Data)
		if !eth.IsValid() || eth.Type() != header.EtherTypeIPv4 {
			continue
		}
		ip := header.IPv4(eth.Payload())
		if !ip.IsValid() || ip.Protocol() != header.UDPProtocolNumber {
			continue
		}
		udp := header.UDP(ip.Payload())
		if !udp.IsValid() {
			continue
		}
		out = append(out, append([]byte(nil), udp.Payload()...))
	}
	return out
}

// waitFor polls cond every 20 ms until it holds or timeout passes, and
// returns whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ms formats a duration in milliseconds for the logs; rel the same with a
// sign, for a moment relative to an event.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func rel(d time.Duration) string {
	return fmt.Sprintf("%+.0f ms", float64(d)/float64(time.Millisecond))
}

// longestGap returns the longest silence between two consecutive capture
// times around a restart: from a second before killAt to a second after
// activeAt (both zero when the capture holds nothing there).
func longestGap(times []time.Time, killAt, activeAt time.Time) (from, to time.Time) {
	for i := 1; i < len(times); i++ {
		if times[i].Before(killAt.Add(-time.Second)) || times[i-1].After(activeAt.Add(time.Second)) {
			continue
		}
		if times[i].Sub(times[i-1]) > to.Sub(from) {
			from, to = times[i-1], times[i]
		}
	}
	return from, to
}
