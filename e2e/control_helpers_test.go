package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/e2e/traffic"
)

// The helpers below run vecd with its control API (tokens, a Unix socket
// in the test's directory, metrics on 127.0.0.1:9100 in the gateway
// namespace) and drive it with vecctl, parsing its --output json.

// maxAck is the longest a change may take to be live on every worker.
const maxAck = 100 * time.Millisecond

const (
	ctlAdminToken  = "e2e-admin-token-5f0c2a9d41b7"
	ctlViewerToken = "e2e-viewer-token-8e13b6c07d2a"
	ctlMetricsAddr = "127.0.0.1:9100"
)

// ctlServer and ctlService describe a generated configuration.
type ctlServer struct {
	Name   string
	Server Server
	Weight int
}

type ctlService struct {
	Name    string
	Port    int
	Servers []ctlServer
}

type ctlCluster struct {
	VIP      string
	Services []ctlService
}

// httpCluster is VIP vip with one service, http on TCP/80, on the
// cluster's servers 1, 2, … named s1, s2, …, with the given weights.
func httpCluster(c *Cluster, vip string, weights ...int) []ctlCluster {
	servers := make([]ctlServer, len(weights))
	for i, w := range weights {
		servers[i] = ctlServer{fmt.Sprintf("s%d", i+1), c.Server(i + 1), w}
	}
	return []ctlCluster{{VIP: vip, Services: []ctlService{{Name: "http", Port: 80, Servers: servers}}}}
}

// ctlYAML is a vecd configuration for the cluster's first gateway with
// workers on the given cores (net_af_packet with as many queue pairs:
// the kernel spreads flows over them by hash, hence spread_by_device),
// static server MACs, and
// the control and metrics sections.
func ctlYAML(c *Cluster, dir string, cores []int, clusters []ctlCluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dpdk:\n  eal_args: [\"--no-pci\"]\n  vdevs: [\"net_af_packet0,iface=%s,qpairs=%d\"]\n", c.GatewayIface(), len(cores))
	b.WriteString("ports:\n  - device: net_af_packet0\n    spread_by_device: true\n")
	fmt.Fprintf(&b, "gateway:\n  ip: %s\n", c.GatewayAddr())
	coreList := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(cores)), ", "), "[]")
	fmt.Fprintf(&b, "workers:\n  cores: [%s]\n  control_core: 0\n  table_capacity: 65536\n", coreList)
	b.WriteString("log:\n  level: info\n")
	fmt.Fprintf(&b, "control:\n  tokens_file: %s\n  socket: %s\n", filepath.Join(dir, "tokens"), filepath.Join(dir, "vecd.sock"))
	fmt.Fprintf(&b, "metrics:\n  listen: %s\n", ctlMetricsAddr)
	b.WriteString("clusters:\n")
	for _, cl := range clusters {
		fmt.Fprintf(&b, "  - vip: %s\n    services:\n", cl.VIP)
		for _, s := range cl.Services {
			fmt.Fprintf(&b, "      - name: %s\n        protocol: tcp\n        port: %d\n", s.Name, s.Port)
			fmt.Fprintf(&b, "        fin_timeout: %s\n        stale_timeout: %s\n        drain_timeout: 60s\n        servers:\n", testFinTimeout, testStaleTimeout)
			for _, sv := range s.Servers {
				fmt.Fprintf(&b, "          - {name: %s, ip: %s, mac: \"%s\", weight: %d}\n", sv.Name, sv.Server.Addr, sv.Server.MAC, sv.Weight)
			}
		}
	}
	return b.String()
}

// ctlVecd is a vecd with its control API, and vecctl to drive it.
type ctlVecd struct {
	t         *testing.T
	c         *Cluster
	proc      *Proc
	dir       string
	config    string // the configuration file
	socket    string
	adminFile string // vecctl token files
	viewFile  string
	vecctl    string
}

// startCtlVecd writes the tokens and the configuration into dir (made
// with ctlYAML for the same dir), starts vecd in the gateway namespace and
// waits until it answers ARP for firstVIP and vecctl status succeeds.
func startCtlVecd(t *testing.T, c *Cluster, dir, configYAML, firstVIP string) *ctlVecd {
	t.Helper()
	requireHugepages(t)
	v := &ctlVecd{t: t, c: c, dir: dir, config: filepath.Join(dir, "vecd.yaml"), socket: filepath.Join(dir, "vecd.sock"),
		adminFile: filepath.Join(dir, "admin.token"), viewFile: filepath.Join(dir, "viewer.token"), vecctl: Binary(t, "vecctl")}
	files := map[string]string{
		filepath.Join(dir, "tokens"): "# role name token\nadmin e2e-admin " + ctlAdminToken + "\nread-only e2e-viewer " + ctlViewerToken + "\n",
		v.adminFile:                  ctlAdminToken + "\n",
		v.viewFile:                   ctlViewerToken + "\n",
		v.config:                     configYAML,
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v.proc = c.Start(c.GatewayNS(), "vecd", Binary(t, "vecd"), "-config", v.config)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !v.proc.Running() {
			t.Fatalf("vecd exited during start-up: %v\n%s", v.proc.Wait(5*time.Second), tail(v.proc.Output(), 40))
		}
		if _, code, _ := v.run(v.adminFile, "status"); code == 0 {
			macs, err := c.ARPing(netip.MustParseAddr(firstVIP), 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(macs) == 1 && macs[0].String() == c.GatewayMAC().String() {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vecd did not come up with its control API within 30 s\n%s", tail(v.proc.Output(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("vecd running (pid %d), control socket %s", v.proc.PID(), v.socket)
	return v
}

// run runs vecctl with a token file and returns its standard output, exit
// status and standard error.
func (v *ctlVecd) run(tokenFile string, args ...string) (string, int, string) {
	v.t.Helper()
	cmd := exec.Command(v.vecctl, append([]string{"--socket", v.socket, "--token-file", tokenFile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0, stderr.String()
	case errors.As(err, &ee):
		return stdout.String(), ee.ExitCode(), stderr.String()
	}
	v.t.Fatalf("vecctl %s: %v", strings.Join(args, " "), err)
	return "", -1, ""
}

// json runs vecctl as admin with --output json, requires success and
// decodes its output into out.
func (v *ctlVecd) json(out any, args ...string) {
	v.t.Helper()
	stdout, code, stderr := v.run(v.adminFile, append(args, "--output", "json")...)
	if code != 0 {
		v.t.Fatalf("vecctl %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		v.t.Fatalf("vecctl %s --output json: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// ctlChange is a change as vecctl --output json reports it, with the time
// the vecctl call took.
type ctlChange struct {
	apiwire.Change
	Took time.Duration
}

// change runs a vecctl command that changes the configuration and checks
// that vecd replied only once the change was live on every worker, within
// maxAck of posting it.
func (v *ctlVecd) change(args ...string) ctlChange {
	v.t.Helper()
	start := time.Now()
	var ch ctlChange
	v.json(&ch.Change, args...)
	ch.Took = time.Since(start)
	if ch.Generation == 0 || len(ch.PerWorkerMs) == 0 {
		v.t.Fatalf("vecctl %s: reply without generation or acknowledgements: %+v", strings.Join(args, " "), ch.Change)
	}
	if ch.AckLatencyMs > float64(maxAck.Milliseconds()) {
		v.t.Errorf("vecctl %s: the change took %.2f ms to be live on every worker, want < %v", strings.Join(args, " "), ch.AckLatencyMs, maxAck)
	}
	v.t.Logf("vecctl %s → generation %d, live on %d workers after %.3f ms (per worker %v ms), vecctl round trip %.1f ms; %v",
		strings.Join(args, " "), ch.Generation, len(ch.PerWorkerMs), ch.AckLatencyMs, ch.PerWorkerMs,
		float64(ch.Took.Microseconds())/1000, ch.Summary)
	return ch
}

// counters reads the live counters through vecctl.
func (v *ctlVecd) counters() apiwire.Counters {
	v.t.Helper()
	var st apiwire.Counters
	v.json(&st, "counters")
	return st
}

func (v *ctlVecd) status() apiwire.Status {
	v.t.Helper()
	var st apiwire.Status
	v.json(&st, "status")
	return st
}

// newConns is how many new connections each server of vip's service got.
func newConns(st apiwire.Counters, vip, service string) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range st.Servers {
		if s.VIP == vip && s.Service == service && !s.Draining {
			out[s.Server] += s.New
		}
	}
	return out
}

// splitWindow waits until at least n new connections of vip's service
// have been assigned since the change (counted from vecd's counters read
// just after it) and returns them per server.
func (v *ctlVecd) splitWindow(vip, service string, n uint64, timeout time.Duration) map[string]int {
	v.t.Helper()
	before := newConns(v.counters(), vip, service)
	deadline := time.Now().Add(timeout)
	for {
		time.Sleep(200 * time.Millisecond)
		now := newConns(v.counters(), vip, service)
		got, total := map[string]int{}, uint64(0)
		for name, k := range now {
			got[name] = int(k - before[name])
			total += k - before[name]
		}
		if total >= n {
			return got
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("only %d new connections to %s/%s within %v (want %d)", total, vip, service, timeout, n)
		}
	}
}

// scrape reads vecd's /metrics from inside the gateway namespace and
// returns the samples by "name{labels}".
func (v *ctlVecd) scrape() map[string]float64 {
	v.t.Helper()
	m, err := scrapeMetrics(HTTPClient(v.c.GatewayNS(), 5*time.Second), ctlMetricsAddr)
	if err != nil {
		v.t.Fatalf("scraping vecd's metrics: %v", err)
	}
	return m
}

// httpLoop runs vec-loadgen http against target over and over until
// stopped, keeping every report: the continuous traffic of a test.
type httpLoop struct {
	stop    chan struct{}
	done    chan struct{}
	reports []*traffic.Report
	err     error
}

func startHTTPLoop(c *Cluster, target string, n, conc int) *httpLoop {
	l := &httpLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			rep, err := c.Loadgen("-mode", "http", "-target", target, "-n", fmt.Sprint(n), "-c", fmt.Sprint(conc),
				"-req-timeout", "5s", "-timeout", "60s")
			if err != nil {
				l.err = err
				return
			}
			l.reports = append(l.reports, rep)
		}
	}()
	return l
}

// finish stops the loop and fails the test if any request failed; it
// returns how many requests succeeded, per server.
func (l *httpLoop) finish(t *testing.T, what string) (int, map[string]int) {
	t.Helper()
	close(l.stop)
	<-l.done
	if l.err != nil {
		t.Fatalf("%s: %v", what, l.err)
	}
	ok, per := 0, map[string]int{}
	for _, r := range l.reports {
		if !r.Passed() || r.HTTP.Failed != 0 || r.HTTP.NotRun != 0 {
			t.Errorf("%s: a run failed: %v, %d failed, %d not run, errors %v", what, r.Failures, r.HTTP.Failed, r.HTTP.NotRun, r.HTTP.Errors)
		}
		ok += r.HTTP.OK
		for s, k := range r.HTTP.PerServer {
			per[s] += k
		}
	}
	t.Logf("%s: %d runs, %d requests, none failed; per server %v", what, len(l.reports), ok, per)
	return ok, per
}

// download runs parallel checksummed downloads in the background.
type download struct {
	rep  *traffic.Report
	err  error
	done chan struct{}
}

func startDownloads(c *Cluster, target string, parallel int, size, rate int64, seed int) *download {
	d := &download{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.rep, d.err = c.Loadgen("-mode", "download", "-target", target, "-parallel", fmt.Sprint(parallel),
			"-size", fmt.Sprint(size), "-rate", fmt.Sprint(rate), "-seed", fmt.Sprint(seed), "-timeout", "110s")
	}()
	return d
}

// wait waits for the downloads and fails the test unless every one
// completed byte-identical; it returns how many came from each server.
func (d *download) wait(t *testing.T, what string, parallel int) map[string]int {
	t.Helper()
	<-d.done
	if d.err != nil {
		t.Fatalf("%s: %v", what, d.err)
	}
	r := d.rep.Download
	if !d.rep.Passed() || r.OK != parallel || r.Mismatches != 0 || r.Failed != 0 {
		t.Errorf("%s: %d of %d downloads complete, %d mismatched, %d failed: %v %v", what, r.OK, parallel, r.Mismatches, r.Failed,
			d.rep.Failures, r.Errors)
	} else {
		t.Logf("%s: %d downloads of %d B complete and byte-identical (SHA-256), per server %v", what, r.OK, r.Size, r.PerServer)
	}
	return r.PerServer
}

// connectionsTo counts the connections in state ("" for any) that vecd
// lists for a server ("" for every server of the service).
func (v *ctlVecd) connectionsTo(vip, service, server, state string) int {
	v.t.Helper()
	var page apiwire.Connections
	v.json(&page, "connections", "list", "--all", "--vip", vip, "--service", service, "--server", server, "--state", state, "--limit", "1000")
	return len(page.Connections)
}

// waitConnections waits until vecd lists at least n ACTIVE connections
// to a server ("" for any of the service).
func (v *ctlVecd) waitConnections(vip, service, server string, n int, timeout time.Duration) {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	for got := 0; ; {
		if got = v.connectionsTo(vip, service, server, "active"); got >= n {
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("vecd lists %d connections to %s/%s/%s after %v, want %d", got, vip, service, server, timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkWeights checks a split against weights, naming servers as in the
// counters.
func checkWeights(t *testing.T, what string, got map[string]int, weights map[string]int) {
	t.Helper()
	var servers []vecdServer
	for name, w := range weights {
		servers = append(servers, vecdServer{Name: name, Weight: w})
	}
	checkSplit(t, what, got, servers)
}

func mustParse(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
