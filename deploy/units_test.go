package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/internal/testenv"
)

// unit is a systemd unit file: each section's settings, in order, a
// setting given twice keeping both.
type unit map[string][][2]string

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a setting: %q", name, line)
			}
			u[section] = append(u[section], [2]string{k, v})
		}
	}
	return u
}

// all is every value of key in section.
func (u unit) all(section, key string) []string {
	var vs []string
	for _, kv := range u[section] {
		if kv[0] == key {
			vs = append(vs, kv[1])
		}
	}
	return vs
}

// TestUnitFiles checks the settings the units promise (docs/deployment.md):
// ordering after the network, restart on failure with a start limit, the
// binaries where the packages install them, and for vecd the hugepage
// mount, locked memory, the capability bounding set and a reload that
// checks the file before the SIGHUP. systemd-analyze verify runs on the
// installed units in TestDebianPackages.
func TestUnitFiles(t *testing.T) {
	for _, tc := range []struct {
		file, binary string
	}{
		{"vecd.service", "/usr/sbin/vecd"},
		{"vec-agent.service", "/usr/sbin/vec-agent"},
	} {
		u := readUnit(t, tc.file)
		want := func(section, key, value string) {
			t.Helper()
			if !slices.Contains(u.all(section, key), value) {
				t.Errorf("%s: [%s] %s=%s missing (has %q)", tc.file, section, key, value, u.all(section, key))
			}
		}
		if !strings.Contains(strings.Join(u.all("Unit", "After"), " "), "network-online.target") {
			t.Errorf("%s: not After=network-online.target", tc.file)
		}
		want("Unit", "Wants", "network-online.target")
		want("Service", "Type", "exec")
		want("Service", "Restart", "on-failure")
		if len(u.all("Unit", "StartLimitBurst")) != 1 || len(u.all("Unit", "StartLimitIntervalSec")) != 1 {
			t.Errorf("%s: no start limit (StartLimitBurst, StartLimitIntervalSec in [Unit])", tc.file)
		}
		if starts := u.all("Service", "ExecStart"); len(starts) != 1 || !strings.HasPrefix(starts[0], tc.binary+" ") {
			t.Errorf("%s: ExecStart=%q, want %s (where the package installs it)", tc.file, starts, tc.binary)
		}
		want("Install", "WantedBy", "multi-user.target")
	}

	u := readUnit(t, "vecd.service")
	if after := strings.Join(u.all("Unit", "After"), " "); !strings.Contains(after, "dev-hugepages.mount") {
		t.Errorf("vecd.service: not After=dev-hugepages.mount (%q)", after)
	}
	if got := u.all("Service", "LimitMEMLOCK"); !slices.Equal(got, []string{"infinity"}) {
		t.Errorf("vecd.service: LimitMEMLOCK=%q, want infinity (VFIO pins the hugepages)", got)
	}
	reload := u.all("Service", "ExecReload")
	if len(reload) != 2 || !strings.HasPrefix(reload[0], "/usr/sbin/vecd -check-config /etc/vec/vecd.yaml") ||
		reload[1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("vecd.service: ExecReload=%q, want the -check-config of the started file, then kill -HUP $MAINPID", reload)
	}
	if start := u.all("Service", "ExecStart"); len(start) == 1 && len(reload) > 0 &&
		strings.TrimPrefix(start[0], "/usr/sbin/vecd -config ") != strings.TrimPrefix(reload[0], "/usr/sbin/vecd -check-config ") {
		t.Errorf("vecd.service: the reload checks %q, the service runs %q: not the same file and arguments", reload[0], start[0])
	}
	caps := vecdBoundingSet(t)
	for _, c := range []string{"CAP_SYS_ADMIN", "CAP_IPC_LOCK", "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SETPCAP"} {
		if !slices.Contains(caps, c) {
			t.Errorf("vecd.service: CapabilityBoundingSet lacks %s", c)
		}
	}
	for _, c := range []string{"CAP_DAC_OVERRIDE", "CAP_SYS_MODULE", "CAP_SYS_PTRACE"} {
		if slices.Contains(caps, c) {
			t.Errorf("vecd.service: CapabilityBoundingSet has %s, which vecd does not need", c)
		}
	}
	a := readUnit(t, "vec-agent.service")
	if got := a.all("Service", "CapabilityBoundingSet"); len(got) != 1 || got[0] != "" {
		t.Errorf("vec-agent.service: CapabilityBoundingSet=%q, want empty", got)
	}
}

// vecdBoundingSet is the capability bounding set of configs/vecd.service.
func vecdBoundingSet(t *testing.T) []string {
	t.Helper()
	set := readUnit(t, "vecd.service").all("Service", "CapabilityBoundingSet")
	if len(set) != 1 {
		t.Fatalf("vecd.service: CapabilityBoundingSet=%q, want one line", set)
	}
	return strings.Fields(set[0])
}

// afPacketConfig is a vecd configuration for one net_af_packet port on
// iface v0, with gateway.mac set apart from the port's MAC so the port must
// be made promiscuous: start-up then needs CAP_NET_RAW (the AF_PACKET
// socket) and CAP_NET_ADMIN (promiscuous mode) as well as what EAL needs.
const afPacketConfig = `
dpdk: {eal_args: ["--in-memory", "--no-pci"], vdevs: ["net_af_packet0,iface=v0"], mempool_size: 4095}
ports: [{device: net_af_packet0}]
gateway: {ip: 10.1.0.1, mac: "02:00:00:00:00:01"}
workers: {cores: [1], control_core: 0, table_capacity: 4096}
clusters:
  - vip: 10.1.0.100
    services:
      - {name: http, protocol: tcp, port: 80, servers: [{name: s1, ip: 10.1.0.11, mac: "02:00:00:00:00:11", weight: 1}]}
`

// startUnderBoundingSet runs vecd as root in a network namespace of its
// own (a veth pair v0/v1, its own loopback for the metrics listener) under
// the bounding set caps and no_new_privs, as vecd.service starts it, and
// waits until it has dropped its capabilities (nil) or exited (its log).
func startUnderBoundingSet(t *testing.T, vecd, cfg string, caps []string) (started bool, log string) {
	t.Helper()
	bounding := "-all"
	for _, c := range caps {
		bounding += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	script := `ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up &&
exec setpriv --bounding-set "$1" --inh-caps -all --no-new-privs -- "$2" -config "$3"`
	cmd := exec.Command("unshare", "--net", "--", "bash", "-c", script, "start", bounding, vecd, cfg)
	var buf testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case err := <-exited:
			return false, fmt.Sprintf("vecd exited (%v):\n%s", err, buf.String())
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("vecd under bounding set %s neither dropped its capabilities nor exited in 90s:\n%s", bounding, buf.String())
		case <-time.After(100 * time.Millisecond):
			if strings.Contains(buf.String(), "capabilities dropped on every thread") {
				cmd.Process.Signal(syscall.SIGTERM)
				if err := <-exited; err != nil {
					t.Errorf("vecd under bounding set %s: exit after SIGTERM: %v\n%s", bounding, err, buf.String())
				}
				return true, buf.String()
			}
		}
	}
}

// TestVecdStartsWithUnitCapabilities runs vecd as root under exactly the
// bounding set and no_new_privs of configs/vecd.service (setpriv instead
// of systemd, which does not run the test machine), with an af_packet port
// that must be made promiscuous: it must start, drop every capability
// itself (the bounding set too: CAP_SETPCAP) and stop cleanly on SIGTERM.
// Without CAP_NET_RAW, or CAP_NET_ADMIN, it must not start: the set is
// what start-up needs, not just something that happens to suffice. (The
// capabilities of PCI NICs, CAP_SYS_ADMIN for physical addresses and
// CAP_IPC_LOCK for VFIO, need the hardware: docs/security.md.)
func TestVecdStartsWithUnitCapabilities(t *testing.T) {
	requireRootAndTools(t, "setpriv", "unshare", "ip")
	testenv.RequireDPDK(t)
	dir := t.TempDir()
	vecd := filepath.Join(dir, "vecd")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	build := exec.Command(goTool, "build", "-o", vecd, "./cmd/vecd")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build vecd: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "vecd.yaml")
	if err := os.WriteFile(cfg, []byte(afPacketConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	caps := vecdBoundingSet(t)
	ok, log := startUnderBoundingSet(t, vecd, cfg, caps)
	if !ok {
		t.Fatalf("vecd does not start under vecd.service's bounding set %v: %s", caps, log)
	}
	for line := range strings.Lines(log) {
		if strings.Contains(line, "capabilities dropped") {
			t.Logf("under %v: %s", caps, strings.TrimSpace(line))
		}
	}
	for _, missing := range []string{"CAP_NET_RAW", "CAP_NET_ADMIN"} {
		fewer := slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == missing })
		if ok, log := startUnderBoundingSet(t, vecd, cfg, fewer); ok {
			t.Errorf("vecd started without %s: the test does not show that the unit needs it\n%s", missing, log)
		}
	}
}
