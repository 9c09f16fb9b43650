package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/wire"
)

// TestAgentsShadowTheClientsConnections opens 500 long-lived connections
// through vecd to the VIP and asks every server's vec-agent for its
// connections: the union of their answers must be, entry for entry, the
// connections the client holds (its own socket list), each on exactly one
// server; after the client closes half of them, the next answers hold the
// other half only.
func TestAgentsShadowTheClientsConnections(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	services := standardServices(c, true)
	startVecd(t, c, vecdYAML(c, services), false)

	key := make([]byte, 32)
	rand.Read(key)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "agent.key")
	if err := os.WriteFile(keyPath, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agentBin := buildStaticAgent(t, dir)
	var targets []client.Target
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("s%d", i)
		listen := netip.AddrPortFrom(c.ServerAddr(i), 10004)
		cfgPath := filepath.Join(dir, name+".yaml")
		cfg := fmt.Sprintf("name: %s\nlisten: %q\nvips: [%s]\ndrop_capabilities: true\nauth:\n  key_files: [%s]\n",
			name, listen, c.VIP(), keyPath)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Start(c.ServerNS(i), "vec-agent-"+name, agentBin, "--config", cfgPath)
		if err := WaitTCP(c.ClientNS(), listen.String(), 10*time.Second); err != nil {
			t.Fatalf("agent %s: %v", name, err)
		}
		targets = append(targets, client.Target{Name: name, URL: "http://" + listen.String()})
	}
	k, err := auth.NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	agents, err := client.New(client.Options{Key: k, HTTPClient: HTTPClient(c.ClientNS(), 10*time.Second)})
	if err != nil {
		t.Fatal(err)
	}

	// 500 connections through vecd, held open by this test.
	const n = 500
	vip := netip.AddrPortFrom(c.VIP(), 80)
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n {
		conn, err := DialContext(ctx, c.ClientNS(), "tcp", vip.String())
		if err != nil {
			t.Fatalf("connection %d of %d to %s: %v", len(conns)+1, n, vip, err)
		}
		conns = append(conns, conn)
	}
	clientSide := func(held []net.Conn) []wire.Entry {
		var want []wire.Entry
		for _, conn := range held {
			local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
			want = append(want, wire.Entry{Proto: wire.ProtoTCP, Client: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
				VIP: vip, State: wire.StateActive})
		}
		slices.SortFunc(want, wire.Compare)
		return want
	}

	// The agents' union, with a check that no connection is on two servers.
	shadow := func() ([]wire.Entry, error) {
		qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer qcancel()
		var union []wire.Entry
		seen := map[wire.Entry]string{}
		for _, r := range agents.ConnectionsAll(qctx, targets, []netip.Addr{c.VIP()}) {
			if r.Err != nil {
				return nil, fmt.Errorf("agent %s: %w", r.Target.Name, r.Err)
			}
			if r.Shadow.Dropped.ForeignVIP+r.Shadow.Dropped.Invalid != 0 || !r.Shadow.Complete {
				return nil, fmt.Errorf("agent %s: dropped %+v, complete %v", r.Target.Name, r.Shadow.Dropped, r.Shadow.Complete)
			}
			for _, e := range r.Shadow.Entries {
				if other, dup := seen[e]; dup {
					return nil, fmt.Errorf("connection %v listed by %s and %s", e, other, r.Target.Name)
				}
				seen[e] = r.Target.Name
				union = append(union, e)
			}
		}
		slices.SortFunc(union, wire.Compare)
		return union, nil
	}
	// waitFor polls the agents until their union is want (the last ACK of a
	// handshake or of a close may still be on its way through vecd).
	waitFor := func(what string, want []wire.Entry) {
		t.Helper()
		var got []wire.Entry
		var err error
		start := time.Now()
		for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if got, err = shadow(); err == nil && slices.Equal(got, want) {
				t.Logf("%s: the agents list exactly the %d connections the client holds (after %v)", what, len(want), time.Since(start).Round(time.Millisecond))
				return
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Fatalf("%s: agents list %d connections, the client holds %d; first differences:\n%s", what, len(got), len(want), entryDiff(got, want))
	}
	waitFor("all open", clientSide(conns))

	// Close every other connection; the rest stay open.
	var kept []net.Conn
	for i, conn := range conns {
		if i%2 == 0 {
			conn.Close()
		} else {
			kept = append(kept, conn)
		}
	}
	conns = kept
	waitFor("half closed", clientSide(conns))
}

// buildStaticAgent builds vec-agent as it ships (CGO_ENABLED=0), which it
// needs to drop its capabilities on every thread.
func buildStaticAgent(t testing.TB, dir string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vec-agent")
	cmd := exec.Command(goTool(), "build", "-o", bin, "./cmd/vec-agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building vec-agent: %v\n%s", err, out)
	}
	return bin
}

// entryDiff lists up to ten entries in one list and not the other.
func entryDiff(got, want []wire.Entry) string {
	in := func(list []wire.Entry, e wire.Entry) bool {
		_, found := slices.BinarySearchFunc(list, e, wire.Compare)
		return found
	}
	var lines []string
	for _, e := range got {
		if !in(want, e) && len(lines) < 10 {
			lines = append(lines, fmt.Sprintf("  agents only: %+v", e))
		}
	}
	for _, e := range want {
		if !in(got, e) && len(lines) < 20 {
			lines = append(lines, fmt.Sprintf("  client only: %+v", e))
		}
	}
	return strings.Join(lines, "\n")
}
