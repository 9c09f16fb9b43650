package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serverSetupNS is the test's own namespace. netns.sh's names do not match
// it, so neither the cluster's `up` nor `down` touches it, and it needs no
// cluster lock; the test removes it itself.
const serverSetupNS = "vecsetuptest"

// TestServerSetup runs scripts/server-setup.sh in a fresh namespace that
// starts like an untouched server (strict rp_filter, one address of its
// own on lo): twice with the same arguments (the second run changes
// nothing), with fewer VIPs (the dropped one goes), then --undo, which must
// give back the namespace as it was, the address that was there before
// included. netns.sh's servers are set up by the same script, which
// TestTopology's sysctls and check steps cover.
func TestServerSetup(t *testing.T) {
	RequireRoot(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "server-setup.sh")
	const ns, iface = serverSetupNS, "eth0"
	removeNS := func() {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			if _, err := ExecErr("", "ip", "netns", "del", ns); err != nil {
				t.Errorf("removing %s: %v", ns, err)
			}
		}
	}
	removeNS() // a leftover of an interrupted run
	Exec(t, "", "ip", "netns", "add", ns)
	t.Cleanup(removeNS)
	Exec(t, ns, "ip", "link", "set", "lo", "up")
	Exec(t, ns, "ip", "link", "add", iface, "type", "veth", "peer", "name", "eth1")
	Exec(t, ns, "ip", "link", "set", iface, "up")
	Exec(t, ns, "ip", "addr", "add", "192.0.2.200/32", "dev", "lo") // not the script's: must stay
	for _, kv := range []string{"net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf." + iface + ".rp_filter=1"} {
		Exec(t, ns, "sysctl", "-qw", kv)
	}

	keys := []string{}
	for _, dev := range []string{"all", "default", "lo", iface} {
		for _, name := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			keys = append(keys, "net.ipv4.conf."+dev+"."+name)
		}
	}
	snapshot := func() map[string]string {
		t.Helper()
		s := map[string]string{}
		var lo []string
		for _, line := range strings.Split(strings.TrimSpace(Exec(t, ns, "ip", "-4", "-o", "addr", "show", "dev", "lo")), "\n") {
			if f := strings.Fields(line); len(f) >= 4 {
				lo = append(lo, f[3])
			}
		}
		slices.Sort(lo)
		s["lo"] = strings.Join(lo, " ")
		for _, k := range keys {
			s[k] = strings.TrimSpace(Exec(t, ns, "sysctl", "-n", k))
		}
		return s
	}
	diff := func(a, b map[string]string) string {
		var d []string
		for k := range a {
			if a[k] != b[k] {
				d = append(d, fmt.Sprintf("%s: %q → %q", k, a[k], b[k]))
			}
		}
		slices.Sort(d)
		return strings.Join(d, "\n")
	}
	setup := func(args ...string) {
		t.Helper()
		Exec(t, ns, append([]string{script, "--quiet"}, args...)...)
	}
	inode := strings.TrimSpace(Exec(t, "", "stat", "-L", "-c", "%i", "/run/netns/"+ns))
	stateFile := "/run/vec-server-setup/net-" + inode + ".state"

	before := snapshot()
	setup("--vip", "10.250.0.1,10.250.0.2", "--iface", iface)
	once := snapshot()
	want := map[string]string{
		"lo":                                       "10.250.0.1/32 10.250.0.2/32 127.0.0.1/8 192.0.2.200/32",
		"net.ipv4.conf.all.arp_ignore":             "1",
		"net.ipv4.conf." + iface + ".arp_ignore":   "1",
		"net.ipv4.conf.all.arp_announce":           "2",
		"net.ipv4.conf." + iface + ".arp_announce": "2",
		// loose: strict reverse-path filtering becomes loose.
		"net.ipv4.conf.all.rp_filter":           "2",
		"net.ipv4.conf." + iface + ".rp_filter": "2",
	}
	for k, v := range want {
		if once[k] != v {
			t.Errorf("after one run %s = %q, want %q", k, once[k], v)
		}
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Errorf("no state file: %v", err)
	}
	setup("--vip", "10.250.0.1", "--vip", "10.250.0.2", "--iface", iface)
	if d := diff(once, snapshot()); d != "" {
		t.Errorf("a second run changed:\n%s", d)
	}
	setup("--vip", "10.250.0.2", "--iface", iface)
	if got := snapshot()["lo"]; got != "10.250.0.2/32 127.0.0.1/8 192.0.2.200/32" {
		t.Errorf("with one VIP left, lo holds %s", got)
	}

	Exec(t, ns, script, "--quiet", "--undo")
	if d := diff(before, snapshot()); d != "" {
		t.Errorf("--undo did not restore:\n%s", d)
	}
	if _, err := os.Stat(stateFile); !os.IsNotExist(err) {
		t.Errorf("state file left after --undo: %v", err)
	}
	// Nothing recorded: a second --undo changes nothing.
	Exec(t, ns, script, "--quiet", "--undo")
	if d := diff(before, snapshot()); d != "" {
		t.Errorf("a second --undo changed:\n%s", d)
	}
	if _, err := ExecErr(ns, script, "--vip", "10.250.0.300", "--iface", iface); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("bad VIP: %v, want exit status 2", err)
	}
	// An advertised MSS is for encapsulation only: DSR's packets are not longer.
	if _, err := ExecErr(ns, script, "--vip", "10.250.0.1", "--iface", iface, "--mss", "1400"); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("--mss with DSR: %v, want exit status 2", err)
	}
	if d := diff(before, snapshot()); d != "" {
		t.Errorf("a refused run changed:\n%s", d)
	}
}
