package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/netnstest"
	"vec/agent/wire"
	"vec/internal/privdrop"
	"vec/internal/testenv"
)

// build compiles vec-agent as it ships: static, CGO_ENABLED=0.
func build(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "vec-agent")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type daemon struct {
	cmd  *exec.Cmd
	logs *testenv.SyncBuffer
	done chan error
}

// TestDaemon runs the built agent inside a namespace with a VIP and real
// connections, queries it with the gateway client, checks that, started as
// root, it switched to the user nobody and dropped every capability and
// still lists the sockets (root's: sock_diag needs no privilege) and reads
// the host metrics, that a hanging and a failing metric
// script give "no value" while it keeps answering, and that SIGTERM and
// SIGINT stop it cleanly.
func TestDaemon(t *testing.T) {
	ns := netnstest.New(t)
	ns.AddLoopbackAddr(t, "10.66.0.1/32") // VIP
	ns.AddLoopbackAddr(t, "10.66.1.1/32") // client
	ns.AddLoopbackAddr(t, "10.66.9.1/32") // the server's own address: the agent listens here
	bin := build(t)
	dir := t.TempDir()

	secret := bytes.Repeat([]byte{0x42}, 32)
	keyFile := filepath.Join(dir, "agent.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := auth.NewKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "vec-agent.yaml")
	err = os.WriteFile(config, []byte(fmt.Sprintf(`
name: server-1
listen: "10.66.9.1:10004"
vips: ["10.66.0.1"]
log_level: debug
auth:
  key_files: [%q]
witness:
  max_lease: %s
metrics:
  cpu_interval: 200ms
  scripts:
    - {name: queue, command: ["/bin/sh", "-c", "echo 17"], interval: 200ms, timeout: 200ms}
    - {name: hangs, command: ["/bin/sleep", "60"], interval: 300ms, timeout: 300ms}
    - {name: fails, command: ["/bin/sh", "-c", "echo oops >&2; exit 2"], interval: 200ms, timeout: 200ms}
`, keyFile, maxLease)), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	// The gateway side reaches the agent inside the namespace.
	httpClient := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = ns.Do(func() error {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	gw, err := client.New(client.Options{HTTPClient: httpClient})
	if err != nil {
		t.Fatal(err)
	}
	target := client.Target{Name: "server-1", URL: "http://10.66.9.1:10004", Key: key}

	// Real connections to the VIP.
	ns.Listen(t, "tcp4", "10.66.0.1:80", nil)
	var want []wire.Entry
	for range 5 {
		var c net.Conn
		err := ns.Do(func() (err error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(10, 66, 1, 1)}}
			c, err = d.Dial("tcp4", "10.66.0.1:80")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want = append(want, wire.Entry{Proto: wire.ProtoTCP, State: wire.StateActive,
			Client: c.LocalAddr().(*net.TCPAddr).AddrPort(), VIP: c.RemoteAddr().(*net.TCPAddr).AddrPort()})
	}
	slices.SortFunc(want, wire.Compare)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			started := time.Now()
			d := start(t, ns, bin, config)
			waitReady(t, d, gw, target)
			checkWitness(t, gw, target, started)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			sh, err := gw.Connections(ctx, target, []netip.Addr{netip.MustParseAddr("10.66.0.1")})
			if err != nil {
				t.Fatalf("connections: %v\nlogs:\n%s", err, d.logs)
			}
			if !slices.Equal(sh.Entries, want) {
				t.Errorf("listing after the capability drop:\n got  %v\n want %v", sh.Entries, want)
			}
			checkNoCapabilities(t, d.cmd.Process.Pid)

			// Scripts: one value, one timeout, one failure, and quick answers
			// while the hanging script runs.
			var m wire.MetricsReply
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				start := time.Now()
				m, err = gw.Metrics(ctx, target)
				if err != nil {
					t.Fatalf("metrics: %v", err)
				}
				if took := time.Since(start); took > time.Second {
					t.Fatalf("metrics took %s while a script hangs", took)
				}
				if m.CPUPercent != nil && m.Custom[1].Error != "not run yet" && m.Custom[0].Value != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("metrics never complete: %+v", m)
				}
			}
			if *m.Custom[0].Value != 17 {
				t.Errorf("queue = %v", *m.Custom[0].Value)
			}
			if m.Custom[1].Value != nil || m.Custom[1].Error != "timed out after 300ms" {
				t.Errorf("hanging script: %+v", m.Custom[1])
			}
			if m.Custom[2].Value != nil || m.Custom[2].Error != `exit status 2: "oops"` {
				t.Errorf("failing script: %+v", m.Custom[2])
			}
			if len(m.Connections) != 1 || m.Connections[0].Active != len(want) || m.MemTotalBytes == 0 {
				t.Errorf("host metrics %+v", m)
			}

			// A gateway with the wrong key is refused.
			wrongKey := target
			wrongKey.Key, _ = auth.NewKey(bytes.Repeat([]byte{1}, 32))
			if _, err := gw.Metrics(ctx, wrongKey); !errors.Is(err, client.ErrRefused) || !strings.Contains(err.Error(), "401") {
				t.Errorf("wrong key: %v", err)
			}

			stopped := time.Now()
			if err := d.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-d.done:
				if err != nil {
					t.Fatalf("exit after %s: %v\nlogs:\n%s", sig, err, d.logs)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10s after %s\nlogs:\n%s", sig, d.logs)
			}
			t.Logf("stopped %s after %s", time.Since(stopped).Round(time.Millisecond), sig)
			logs := d.logs.String()
			for _, line := range []string{"capabilities dropped on every thread", "shutting down", "vec-agent stopped"} {
				if !strings.Contains(logs, line) {
					t.Errorf("log lacks %q:\n%s", line, logs)
				}
			}
		})
	}
}

// maxLease is the agent's witness.max_lease in TestDaemon.
const maxLease = time.Second

// checkWitness: the agent started at started or later grants no lease in
// its quiet period, then grants one to the first gateway, capped at
// maxLease, and refuses another gateway while it lasts.
func checkWitness(t *testing.T, gw *client.Client, target client.Target, started time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	asked := wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: 60000}
	var granted time.Time
	for refusals := 0; ; refusals++ {
		rep, err := gw.Lease(ctx, target, asked)
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		if rep.Granted {
			granted = time.Now()
			if since := granted.Sub(started); since < maxLease {
				t.Fatalf("lease granted %s after the agent started, within its %s quiet period", since, maxLease)
			}
			if rep.RemainingMs != maxLease.Milliseconds() || rep.Holder != "gw1" || rep.Term != 1 {
				t.Fatalf("grant %+v, want term 1 for gw1 capped at %s", rep, maxLease)
			}
			t.Logf("lease granted after %d refusals", refusals)
			break
		}
		if time.Since(started) > 5*maxLease {
			t.Fatalf("no lease granted %s after start: %+v", time.Since(started), rep)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep, err := gw.Lease(ctx, target, wire.LeaseRequest{Gateway: "gw2", Term: 2, DurationMs: 60000})
	if err != nil {
		t.Fatalf("lease for gw2: %v", err)
	}
	if (rep.Granted || rep.Holder != "gw1" || rep.Term != 1) && time.Since(granted) < maxLease {
		t.Fatalf("gw2 while gw1 holds the lease: %+v", rep)
	}
}

func start(t *testing.T, ns *netnstest.NS, bin, config string) *daemon {
	t.Helper()
	d := &daemon{logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, "--config", config)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	// Started from a thread in the namespace, the agent runs there.
	if err := ns.Do(d.cmd.Start); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

func waitReady(t *testing.T, d *daemon, gw *client.Client, target client.Target) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := gw.Metrics(ctx, target)
		cancel()
		if err == nil {
			return
		}
		select {
		case err := <-d.done:
			t.Fatalf("agent exited: %v\nlogs:\n%s", err, d.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not answering: %v\nlogs:\n%s", err, d.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkNoCapabilities reads every thread of the agent: no capability in any
// set, bounding set included, no_new_privs, and every uid and gid nobody's.
func checkNoCapabilities(t *testing.T, pid int) {
	t.Helper()
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if v := statusField(string(status), field); strings.Trim(v, "0") != "" || v == "" {
				t.Errorf("thread %s: %s = %q", task.Name(), field, v)
			}
		}
		if v := statusField(string(status), "NoNewPrivs"); v != "1" {
			t.Errorf("thread %s: NoNewPrivs = %q", task.Name(), v)
		}
		// Started as root, the agent runs as the default user, nobody.
		for _, f := range []struct{ name, want string }{{"Uid", nobody.Uid}, {"Gid", nobody.Gid}} {
			if ids := strings.Fields(statusField(string(status), f.name)); len(ids) != 4 || slices.ContainsFunc(ids, func(id string) bool { return id != f.want }) {
				t.Errorf("thread %s: %s %q, want %s (nobody) throughout", task.Name(), f.name, ids, f.want)
			}
		}
		if v := statusField(string(status), "Groups"); v != nobody.Gid {
			t.Errorf("thread %s: groups %q, want nobody's only (%s)", task.Name(), v, nobody.Gid)
		}
	}
	// This process, by contrast, still has its capabilities.
	if s, err := privdrop.ThreadSets("self"); err != nil || s.Effective == 0 {
		t.Errorf("test process capabilities: %v %v", s, err)
	}
}

func statusField(status, name string) string {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestInvalidConfiguration(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(config, []byte("name: x\nvips: [\"10.0.0.1\"]\nlisten_on: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"--config", config}, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "listen_on") {
		t.Errorf("unknown key: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"--name", "srv", "--vip", "10.0.0.1", "--vip", "nonsense", "--key-file", "k"}, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "nonsense") {
		t.Errorf("bad VIP: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"--config", "../../configs/vec-agent.yaml", "--check"}, &stderr); code != exitOK {
		t.Errorf("shipped example configuration: exit %d, %s", code, stderr.String())
	}
}
