package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/control/apiwire"
)

// TestVecdRunsWithoutCapabilities: vecd, started as root in the gateway
// namespace with its control API and an af_packet port (as the cluster and
// the demo run it), drops every capability once it is up: every thread,
// DPDK's own included, has empty capability sets (bounding set too) and
// no_new_privs, and still runs as uid 0. Then it still forwards by weight,
// serves the API and the metrics endpoint, reloads its configuration and
// its tokens file on SIGHUP, saves its configuration into its directory,
// and stops on SIGTERM with exit status 0 and no failure closing its port
// or the EAL.
func TestVecdRunsWithoutCapabilities(t *testing.T) {
	const vip = "10.99.0.100"
	c := StartCluster(t, Options{Servers: 2, Backends: true})
	dir := t.TempDir()
	v := startCtlVecd(t, c, dir, ctlYAML(c, dir, []int{1}, httpCluster(c, vip, 1, 1)), vip)
	// The API answers a moment before the drop (its listener must be open
	// first).
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(v.proc.Output(), "capabilities dropped on every thread"); {
		if time.Now().After(deadline) {
			t.Error("vecd did not log that it dropped its capabilities within 10 s")
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if checkVecdThreads(t, v.proc.PID()); t.Failed() {
		t.FailNow()
	}

	loop := startHTTPLoop(c, vip, 200, 4)
	split := v.splitWindow(vip, "http", 400, 60*time.Second)
	loop.finish(t, "HTTP through vecd without capabilities")
	if split["s1"] == 0 || split["s2"] == 0 {
		t.Errorf("new connections per server %v: want both servers used", split)
	}
	if m := v.scrape(); len(m) == 0 {
		t.Error("the metrics endpoint served no sample")
	}

	// SIGHUP: the edited file and a token added to the tokens file (both
	// root's, owner-only) are read again.
	const laterToken = "e2e-later-token-3c9d17a05e42"
	tokens := "# role name token\nadmin e2e-admin " + ctlAdminToken + "\nread-only e2e-viewer " + ctlViewerToken +
		"\nread-only e2e-later " + laterToken + "\n"
	laterFile := filepath.Join(dir, "later.token")
	for path, text := range map[string]string{
		filepath.Join(dir, "tokens"): tokens,
		laterFile:                    laterToken + "\n",
		v.config:                     ctlYAML(c, dir, []int{1}, httpCluster(c, vip, 1, 3)),
	} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reload to give s2 weight 3", 10*time.Second, func() bool {
		var servers []apiwire.ServerCounters
		v.json(&servers, "server", "list", vip+":http")
		return len(servers) == 2 && servers[1].Weight == 3
	})
	if _, code, stderr := v.run(laterFile, "status"); code != 0 {
		t.Errorf("the token added to the tokens file: exit %d: %s", code, stderr)
	}

	// Save: a new file in the configuration's directory, renamed over it.
	v.change("server", "set", vip+":http:s1", "--weight", "2")
	var saved struct {
		File string `json:"file"`
	}
	v.json(&saved, "config", "save")
	if text, err := os.ReadFile(v.config); err != nil || saved.File != v.config || !strings.Contains(string(text), "weight: 2") {
		t.Errorf("config save %+v: %v\n%s", saved, err, text)
	}
	checkVecdThreads(t, v.proc.PID())

	stopped := time.Now()
	if err := v.proc.Stop(); err != nil {
		t.Fatalf("vecd stopped with %v\n%s", err, tail(v.proc.Output(), 40))
	}
	out := v.proc.Output()
	for _, bad := range []string{"stopping port", "closing port", "EAL clean-up", "\terror\t"} {
		if strings.Contains(out, bad) {
			t.Errorf("vecd's output at shutdown holds %q:\n%s", bad, tail(out, 40))
		}
	}
	t.Logf("vecd stopped cleanly %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
}

// checkVecdThreads reads /proc/<pid>/task/*/status: every thread of vecd
// holds no capability in any set and has no_new_privs, and runs as root
// (it keeps uid 0 for the root-owned files it reads and writes); DPDK's
// interrupt thread must be among them.
func checkVecdThreads(t *testing.T, pid int) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, task := range tasks {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			if os.IsNotExist(err) {
				continue // the thread exited
			}
			t.Fatal(err)
		}
		fields := map[string]string{}
		for line := range strings.SplitSeq(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		names = append(names, fields["Name"])
		for _, f := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if fields[f] != "0000000000000000" {
				t.Errorf("thread %s (%s): %s = %q", task.Name(), fields["Name"], f, fields[f])
			}
		}
		if fields["NoNewPrivs"] != "1" {
			t.Errorf("thread %s (%s): NoNewPrivs = %q", task.Name(), fields["Name"], fields["NoNewPrivs"])
		}
		if uids := strings.Fields(fields["Uid"]); len(uids) != 4 || uids[0] != "0" || uids[1] != "0" {
			t.Errorf("thread %s (%s): Uid %q, want root", task.Name(), fields["Name"], fields["Uid"])
		}
	}
	if !strings.Contains(strings.Join(names, " "), "eal-intr-thread") {
		t.Errorf("no DPDK interrupt thread among vecd's threads %v", names)
	}
	t.Logf("vecd (pid %d): %d threads, none with a capability: %v", pid, len(names), names)
}
