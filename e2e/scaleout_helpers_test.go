package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/internal/testcert"
)

// The scale-out tests (scaleout_test.go) run several active gateways behind
// a BGP router with ECMP (scripts/ecmp.sh): every vecd announces the VIP
// with its own data-plane address as the next hop, the router spreads the
// remote clients' flows over them by L4 hash, and every vecd schedules new
// flows by the same Maglev table, so whichever gateway a flow reaches, it
// goes to the same server (docs/scale-out.md).

const (
	// soRemoteClients is the number of source addresses behind the router.
	soRemoteClients = 32
	// soGatewayAS and soRouterAS are scripts/ecmp.sh's.
	soGatewayAS = 65001
	soRouterAS  = 65000
)

// soCluster is the cluster of a scale-out test: three servers with
// vec-backend, up to four gateway namespaces, the router and the remote
// clients. Gateways are started by the test (recGateway.start).
type soCluster struct {
	*recCluster
	router   netip.Addr
	remoteNS string
	ecmp     string // scripts/ecmp.sh
	vecctl   string
	adminTok string // vecctl's admin token file
}

// startScaleOutCluster brings up the topology with `gateways` gateway
// namespaces, the router (BIRD) and the remote clients, and writes one
// vecd configuration per gateway; none is started.
func startScaleOutCluster(t *testing.T, gateways int) *soCluster {
	t.Helper()
	requireHugepages(t)
	c := startLockedCluster(t, Options{Servers: 3, Gateways: gateways, Backends: true})
	Binary(t, "vecd")
	Binary(t, "vec-loadgen")
	sc := &soCluster{recCluster: &recCluster{Cluster: c, t: t, dir: t.TempDir()}, vecctl: Binary(t, "vecctl")}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sc.ecmp = filepath.Join(root, "scripts", "ecmp.sh")
	// Removed before the cluster (netns.sh down would remove it too).
	t.Cleanup(func() {
		if _, err := ExecErr("", sc.ecmp, "down"); err != nil {
			t.Errorf("ecmp.sh down: %v", err)
		}
	})
	c.Exec("", sc.ecmp, "up", "--clients", fmt.Sprint(soRemoteClients))
	st := sc.ecmpStatus()
	sc.router = netip.MustParseAddr(st["ROUTER_ADDR"])
	sc.remoteNS = st["REMOTE_NS"]

	tokens := filepath.Join(sc.dir, "tokens")
	writeFile(t, tokens, "admin e2e-admin "+ctlAdminToken+"\n", 0o600)
	sc.adminTok = filepath.Join(sc.dir, "admin.token")
	writeFile(t, sc.adminTok, ctlAdminToken+"\n", 0o600)
	cert, key, _ := testcert.Write(t, sc.dir, "127.0.0.1")
	for k := 1; k <= gateways; k++ {
		g := &recGateway{rc: sc.recCluster, K: k, Name: fmt.Sprintf("gw%d", k), GW: c.GatewayN(k),
			config: filepath.Join(sc.dir, fmt.Sprintf("vecd-gw%d.yaml", k))}
		writeFile(t, g.config, sc.vecdConfig(g, tokens, cert, key), 0o644)
		sc.gws = append(sc.gws, g)
	}
	return sc
}

// vecdConfig is gateway g's configuration: its own port and address, the
// BGP session from its management address to the router, the control API
// on its socket and (with the status page) on statusListen in its
// namespace, and the VIP's HTTP service over s1..s3 (3:2:1) scheduled by
// the Maglev table. Workers on core 1, control planes on core 0: four
// gateways share the machine because idle workers nap (workers.poll
// adaptive, the default).
func (sc *soCluster) vecdConfig(g *recGateway, tokens, cert, key string) string {
	var b strings.Builder
	b.WriteString(PortYAML(g.GW))
	fmt.Fprintf(&b, "gateway:\n  ip: %s\n", g.GW.Addr)
	b.WriteString("workers:\n  cores: [1]\n  control_core: 0\n  table_capacity: 65536\n")
	b.WriteString("log:\n  level: info\n")
	fmt.Fprintf(&b, "control:\n  tokens_file: %s\n  socket: %s\n  listen: %s\n  tls_cert: %s\n  tls_key: %s\n",
		tokens, sc.socket(g), statusListen, cert, key)
	fmt.Fprintf(&b, "metrics:\n  listen: %s\n", recMetricsAddr)
	fmt.Fprintf(&b, "bgp:\n  local_as: %d\n  router_id: %s\n  local_address: %s\n  peers:\n    - {address: %s, as: %d}\n",
		soGatewayAS, g.GW.MgmtAddr, g.GW.MgmtAddr, sc.router, soRouterAS)
	writeHTTPCluster(&b, sc.Cluster, "scheduler: maglev")
	return b.String()
}

func (sc *soCluster) socket(g *recGateway) string {
	return filepath.Join(sc.dir, g.Name+".sock")
}

// ecmpStatus is `ecmp.sh status` as a map.
func (sc *soCluster) ecmpStatus() map[string]string {
	sc.t.Helper()
	out := sc.Exec("", sc.ecmp, "status")
	st := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			st[k] = v
		}
	}
	return st
}

// nextHops are the next hops of the router's kernel route to the VIP.
func (sc *soCluster) nextHops() []netip.Addr {
	sc.t.Helper()
	var hops []netip.Addr
	for _, s := range strings.Split(sc.ecmpStatus()["ROUTE_"+strings.ReplaceAll(sc.VIP().String(), ".", "_")], ",") {
		if s != "" {
			hops = append(hops, netip.MustParseAddr(s))
		}
	}
	return hops
}

// waitNextHops waits until the router's route to the VIP has exactly the
// data-plane addresses of these gateways as next hops, and returns when.
func (sc *soCluster) waitNextHops(timeout time.Duration, gws ...*recGateway) time.Time {
	sc.t.Helper()
	var want []netip.Addr
	for _, g := range gws {
		want = append(want, g.GW.Addr)
	}
	slices.SortFunc(want, netip.Addr.Compare)
	start := time.Now()
	var got []netip.Addr
	for {
		got = sc.nextHops()
		if slices.Equal(got, want) {
			sc.t.Logf("router: %s via %v after %.1f s", sc.VIP(), got, time.Since(start).Seconds())
			return time.Now()
		}
		if time.Since(start) > timeout {
			sc.t.Fatalf("router: %s via %v after %v, want %v\n%s", sc.VIP(), got, timeout, want,
				sc.Exec("", sc.ecmp, "birdc", "show", "protocols"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vecctl runs vecctl against gateway g's control socket as admin and
// returns its output; a non-zero exit fails the test.
func (sc *soCluster) vecctlOn(g *recGateway, args ...string) string {
	sc.t.Helper()
	cmd := exec.Command(sc.vecctl, append([]string{"--socket", sc.socket(g), "--token-file", sc.adminTok}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			sc.t.Fatalf("vecctl %s on %s: exit %d: %s", strings.Join(args, " "), g.Name, ee.ExitCode(), stderr.String())
		}
		sc.t.Fatalf("vecctl %s on %s: %v", strings.Join(args, " "), g.Name, err)
	}
	return stdout.String()
}

// secondChances are a gateway's counts of mid-flow packets it forwarded
// without an entry (docs/scale-out.md): by the hash (the tables agree) and
// to the previous table's server.
type secondChances struct {
	Hash, Previous, NonSYNMiss uint64
}

func secondChancesOf(st vecdCounters) secondChances {
	return secondChances{
		Hash:       st.total(func(c apiwire.CoreCounters) uint64 { return c.SecondChanceHash }),
		Previous:   st.total(func(c apiwire.CoreCounters) uint64 { return c.SecondChancePrevious }),
		NonSYNMiss: st.drops("non_syn_miss"),
	}
}

func (s secondChances) minus(o secondChances) secondChances {
	return secondChances{Hash: s.Hash - o.Hash, Previous: s.Previous - o.Previous, NonSYNMiss: s.NonSYNMiss - o.NonSYNMiss}
}

// newConnsPerServer adds the gateway's new connections per server.
func newConnsPerServer(st vecdCounters) map[string]int {
	got := map[string]int{}
	for _, s := range st.Servers {
		got[s.Server] += int(s.New)
	}
	return got
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
