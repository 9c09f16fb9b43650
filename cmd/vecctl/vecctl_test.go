package main

import (
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/control/api"
	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/pktbuild"
	"vec/internal/testconfig"
)

const testToken = "vecctl-test-token-0123456789"

// serve runs the control API of a manager over a fake dataplane on a Unix
// socket and returns vecctl's connection flags.
func serve(t *testing.T) []string {
	t.Helper()
	flags, _ := serveDataplane(t)
	return flags
}

// serveDataplane is serve that also returns the fake dataplane.
func serveDataplane(t *testing.T) ([]string, *managertest.Dataplane) {
	t.Helper()
	m, dp, cfgPath := managertest.Start(t, `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
workers: {cores: [1], control_core: 0, table_capacity: 64}
clusters:
`+testconfig.HTTPCluster("10.1.0.100", nil, testconfig.S1), manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel()})
	// The socket and tokens go beside the configuration file, where
	// TestManagerCommands finds it.
	dir := filepath.Dir(cfgPath)
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("admin t "+testToken+"\n"), 0o600)
	tk := &api.Tokens{}
	if err := tk.Load(tokens); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "vecd.sock")
	l, err := api.Listen(config.ControlRuntime{Socket: sock}, api.NewHandler(api.Options{Backend: m, Tokens: tk}), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	l.Serve()
	t.Cleanup(func() { l.Close(context.Background()) })
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600)
	return []string{"--socket", sock, "--token-file", tokenFile}, dp
}

// capture runs vecctl and returns its exit status and standard output.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	code := execute(args)
	w.Close()
	os.Stdout = stdout
	return code, <-done
}

func TestExitCodesAndJSON(t *testing.T) {
	flags := serve(t)
	code, out := capture(t, append(flags, "server", "set", "10.1.0.100:http:s1", "--weight", "4", "-o", "json")...)
	var ch apiwire.Change
	if code != exitOK || json.Unmarshal([]byte(out), &ch) != nil || ch.Generation != 2 || len(ch.PerWorkerMs) != 1 {
		t.Errorf("server set: exit %d, %s", code, out)
	}
	code, out = capture(t, append(flags, "server", "list", "-o", "json")...)
	var servers []apiwire.ServerCounters
	if code != exitOK || json.Unmarshal([]byte(out), &servers) != nil || len(servers) != 1 || servers[0].Weight != 4 {
		t.Errorf("server list: exit %d, %s", code, out)
	}
	// The server refuses: exit 1, and with -o json the error body.
	code, out = capture(t, append(flags, "server", "set", "10.1.0.100:http:s1", "--weight", "99", "-o", "json")...)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if code != exitServer || json.Unmarshal([]byte(out), &e) != nil || e.Error.Code != "invalid_config" {
		t.Errorf("weight 99: exit %d, %s", code, out)
	}
	if code, _ := capture(t, append(flags, "server", "remove", "10.1.0.100:http:nope")...); code != exitServer {
		t.Errorf("unknown server: exit %d", code)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"server", "set", "10.1.0.100:http", "--weight", "1"},
		{"server", "set", "10.1.0.100:http:s1"},
		{"server", "add", "10.1.0.100:http:s2", "--weight", "1"},
		{"cluster", "add", "10.1.0.200", "--server", "name=a,ip=10.1.0.21"},
		{"status", "extra"},
		{"nonsense"},
		{"status", "--no-such-flag"},
		{"status", "-o", "yaml"},
	} {
		if code, _ := capture(t, append(flags, args...)...); code != exitUsage {
			t.Errorf("vecctl %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
	// No vecd, or a refused token: exit 3.
	if code, _ := capture(t, "--socket", filepath.Join(t.TempDir(), "none.sock"), "--token-file", flags[3], "status"); code != exitNoAccess {
		t.Errorf("no vecd: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("# comment\nadmin x wrong-token-0123456789\n"), 0o600)
	if code, _ := capture(t, "--socket", flags[1], "--token-file", bad, "status"); code != exitNoAccess {
		t.Errorf("refused token: exit %d", code)
	}
	// Table output works too.
	if code, out := capture(t, append(flags, "status")...); code != exitOK {
		t.Errorf("status: exit %d %s", code, out)
	}
}

func TestParseServerSpec(t *testing.T) {
	s, err := parseServerSpec("name=s1,ip=10.0.0.1,weight=3,mac=02:00:00:00:00:01,quiesced=true")
	if err != nil || s.Name != "s1" || s.IP != "10.0.0.1" || *s.Weight != 3 || s.MAC != "02:00:00:00:00:01" || !s.Quiesced {
		t.Errorf("%+v %v", s, err)
	}
	for _, bad := range []string{"name=s1,ip=10.0.0.1", "name=s1,ip=10.0.0.1,weight=x", "name=s1,colour=red,ip=1,weight=1", "s1"} {
		if _, err := parseServerSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// connections list pages by cursor; --all follows the cursors and lists
// every connection once.
func TestConnectionsListFollowsCursors(t *testing.T) {
	flags, dp := serveDataplane(t)
	const conns = 30
	for i := range conns {
		f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC{2, 0, 0, 0, 0, 1},
			SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("10.1.0.100"), SrcPort: uint16(1000 + i), DstPort: 80}
		if v := dp.Process(0, pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)); v[0] != fastpath.VerdictForward {
			t.Fatalf("SYN %d: verdict %v", i, v[0])
		}
	}
	code, out := capture(t, append(flags, "connections", "list", "--limit", "7", "-o", "json")...)
	var page apiwire.Connections
	if code != exitOK || json.Unmarshal([]byte(out), &page) != nil || !page.More || page.NextCursor == "" || len(page.Connections) > 7 {
		t.Fatalf("first page: exit %d, %s", code, out)
	}
	code, out = capture(t, append(flags, "connections", "list", "--limit", "7", "--cursor", page.NextCursor, "-o", "json")...)
	var second apiwire.Connections
	if code != exitOK || json.Unmarshal([]byte(out), &second) != nil || len(second.Connections) == 0 {
		t.Fatalf("second page: exit %d, %s", code, out)
	}
	if second.Connections[0].Client == page.Connections[0].Client {
		t.Errorf("the second page starts with the first page's connection %s", page.Connections[0].Client)
	}
	code, out = capture(t, append(flags, "connections", "list", "--limit", "7", "--all", "-o", "json")...)
	var all apiwire.Connections
	if code != exitOK || json.Unmarshal([]byte(out), &all) != nil || all.More || all.NextCursor != "" {
		t.Fatalf("--all: exit %d, %s", code, out)
	}
	seen := map[string]bool{}
	for _, c := range all.Connections {
		if seen[c.Client] {
			t.Errorf("%s listed twice", c.Client)
		}
		seen[c.Client] = true
	}
	if len(seen) != conns {
		t.Errorf("--all listed %d connections, want %d", len(seen), conns)
	}
	if code, out := capture(t, append(flags, "connections", "list", "--all")...); code != exitOK || !strings.Contains(out, "30 connections") {
		t.Errorf("--all as a table: exit %d, %s", code, out)
	}
}

// VIP:SERVICE[:SERVER] names split at their last colons, so an IPv6 VIP,
// bare or bracketed, keeps its own.
func TestSplitNameTakesIPv6VIPs(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want []string
	}{
		{"10.0.0.100:http", 2, []string{"10.0.0.100", "http"}},
		{"10.0.0.100:http:s1", 3, []string{"10.0.0.100", "http", "s1"}},
		{"2001:db8::100:http", 2, []string{"2001:db8::100", "http"}},
		{"2001:db8::100:http:s1", 3, []string{"2001:db8::100", "http", "s1"}},
		{"[2001:db8::100]:http:s1", 3, []string{"2001:db8::100", "http", "s1"}},
	} {
		if got, err := splitName(tt.s, tt.n); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitName(%q, %d) = %q, %v; want %q", tt.s, tt.n, got, err, tt.want)
		}
	}
	for _, bad := range []string{"10.0.0.100", "10.0.0.100:http:s1:x", "web:http", "2001:db8::100:", "[2001:db8::100:http", ":http"} {
		if got, err := splitName(bad, 2); err == nil {
			t.Errorf("splitName(%q, 2) = %q, want a usage error", bad, got)
		}
	}
}
