package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// packageNames are the packages make deb builds.
var packageNames = []string{"vecd", "vec-agent"}

// debEntry is one member of a .deb's data archive.
type debEntry struct {
	path string // absolute, without a trailing slash
	mode string // ls-style, e.g. -rwxr-xr-x
}

// debContents lists a .deb's files and directories (dpkg-deb -c).
func debContents(t *testing.T, deb string) []debEntry {
	t.Helper()
	var entries []debEntry
	for line := range strings.Lines(run(t, time.Minute, nil, "dpkg-deb", "-c", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c %s: unexpected line %q", deb, line)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")
		if p != "" {
			entries = append(entries, debEntry{path: p, mode: f[0]})
		}
	}
	return entries
}

// installedPackages is the set of packages dpkg lists as installed (or
// with configuration files left).
func installedPackages(t *testing.T) map[string]string {
	t.Helper()
	set := map[string]string{}
	out := run(t, time.Minute, nil, "dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\n")
	for line := range strings.Lines(out) {
		name, status, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if status = strings.TrimSpace(status); status != "" && status != "un" {
			set[name] = status
		}
	}
	return set
}

// TestDebianPackages builds the packages with make deb's script, installs
// them with dpkg -i, checks their files, the installed binaries and units,
// then purges them and checks that nothing of them is left. It starts no
// service. Whatever happens, the packages (and any dependency the install
// had to add) are purged at the end, leaving the machine as it was.
func TestDebianPackages(t *testing.T) {
	requireRootAndTools(t, "dpkg", "dpkg-deb", "dpkg-shlibdeps", "systemd-analyze", "apt-get")
	before := installedPackages(t)
	for _, p := range packageNames {
		if status, ok := before[p]; ok {
			t.Fatalf("package %s is on this machine already (%s): this test installs and purges it, remove it first", p, status)
		}
	}

	out := t.TempDir()
	timed(t, "build-deb.sh", func() {
		run(t, 15*time.Minute, nil, filepath.Join(repoRoot(t), "packaging/build-deb.sh"), out)
	})
	debs := map[string]string{}
	for _, p := range packageNames {
		m, _ := filepath.Glob(filepath.Join(out, p+"_*.deb"))
		if len(m) != 1 {
			t.Fatalf("build-deb.sh made %v for %s, want one .deb", m, p)
		}
		debs[p] = m[0]
	}
	control := run(t, time.Minute, nil, "dpkg-deb", "-f", debs["vecd"], "Depends")
	for _, want := range []string{"librte-eal23", "librte-ethdev23", "librte-mempool-ring23"} {
		if !strings.Contains(control, want) {
			t.Errorf("vecd Depends %q lacks %s", strings.TrimSpace(control), want)
		}
	}
	if c := run(t, time.Minute, nil, "dpkg-deb", "-f", debs["vec-agent"], "Depends"); strings.Contains(c, "librte") {
		t.Errorf("vec-agent depends on DPDK: %q", c)
	}

	contents := map[string][]debEntry{}
	existedBefore := map[string]bool{}
	for _, p := range packageNames {
		contents[p] = debContents(t, debs[p])
		for _, e := range contents[p] {
			if _, err := os.Lstat(e.path); err == nil {
				existedBefore[e.path] = true
				if e.mode[0] != 'd' {
					t.Fatalf("%s exists before the install of %s: this test would remove it", e.path, p)
				}
			}
		}
	}

	t.Cleanup(func() { purge(t, before) })
	timed(t, "dpkg -i", func() {
		args := []string{"-i"}
		for _, p := range packageNames {
			args = append(args, debs[p])
		}
		if o, err := runErr(5*time.Minute, nil, "dpkg", args...); err != nil {
			// Missing dependencies leave the packages unconfigured: apt
			// installs them (and the cleanup purges what it added).
			t.Logf("dpkg -i: %v\n%s\ninstalling the missing dependencies with apt-get -f install", err, o)
			run(t, 10*time.Minute, []string{"DEBIAN_FRONTEND=noninteractive"},
				"apt-get", "-o", "DPkg::Lock::Timeout=120", "-f", "-y", "--no-install-recommends", "install")
		}
	})
	now := installedPackages(t)
	for _, p := range packageNames {
		if now[p] != "ii" {
			t.Fatalf("package %s after install: status %q, want ii", p, now[p])
		}
	}

	for _, p := range packageNames {
		for _, e := range contents[p] {
			fi, err := os.Lstat(e.path)
			if err != nil {
				t.Errorf("%s of %s not installed: %v", e.path, p, err)
				continue
			}
			if got := fi.Mode().String(); e.mode[0] != 'd' && got != e.mode {
				t.Errorf("%s: mode %s, the package has %s", e.path, got, e.mode)
			}
		}
	}
	for _, f := range []string{"/usr/sbin/vecd", "/usr/bin/vecctl", "/usr/sbin/vec-agent", "/usr/sbin/vec-server-setup",
		"/lib/systemd/system/vecd.service", "/lib/systemd/system/vec-agent.service",
		"/etc/vec/vecd.yaml", "/etc/default/vecd", "/etc/vec-agent/vec-agent.yaml"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("expected file: %v", err)
		}
	}
	conffiles := run(t, time.Minute, nil, "dpkg-query", "-W", "-f", "${Conffiles}\n", "vecd", "vec-agent")
	for _, f := range []string{"/etc/vec/vecd.yaml", "/etc/default/vecd", "/etc/vec-agent/vec-agent.yaml"} {
		if !strings.Contains(conffiles, f+" ") {
			t.Errorf("%s is not a conffile: %q", f, conffiles)
		}
	}

	// The installed binaries run, with the libraries the package pulled in.
	if o := run(t, time.Minute, nil, "ldd", "/usr/sbin/vecd"); strings.Contains(o, "not found") {
		t.Errorf("ldd /usr/sbin/vecd:\n%s", o)
	}
	for _, cfg := range []string{"/etc/vec/vecd.yaml", "/usr/share/doc/vecd/examples/vecd-bare-metal.yaml"} {
		if o := run(t, time.Minute, nil, "/usr/sbin/vecd", "--check-config", cfg, "-skip-files"); !strings.Contains(o, "is valid") {
			t.Errorf("vecd --check-config %s: %s", cfg, o)
		}
	}
	run(t, time.Minute, nil, "/usr/sbin/vec-agent", "--check-config", "/etc/vec-agent/vec-agent.yaml", "--skip-files")
	run(t, time.Minute, nil, "/usr/bin/vecctl", "--help")
	run(t, time.Minute, nil, "/usr/sbin/vec-server-setup", "--help")

	// The units, now that the binaries they run exist (verify checks that).
	timed(t, "systemd-analyze verify", func() {
		o := run(t, time.Minute, nil, "systemd-analyze", "verify", "--man=no",
			"/lib/systemd/system/vecd.service", "/lib/systemd/system/vec-agent.service")
		for line := range strings.Lines(o) {
			if strings.Contains(line, "vecd.service") || strings.Contains(line, "vec-agent.service") {
				t.Errorf("systemd-analyze verify: %s", line)
			}
		}
	})

	// dpkg -r keeps the conffiles, dpkg -P takes them too.
	run(t, 5*time.Minute, nil, "dpkg", "-r", "vecd", "vec-agent")
	if _, err := os.Stat("/usr/sbin/vecd"); err == nil {
		t.Error("/usr/sbin/vecd is still there after dpkg -r")
	}
	if _, err := os.Stat("/etc/vec/vecd.yaml"); err != nil {
		t.Errorf("dpkg -r removed the conffile /etc/vec/vecd.yaml: %v", err)
	}
	run(t, 5*time.Minute, nil, "dpkg", "-P", "vecd", "vec-agent")
	after := installedPackages(t)
	for _, p := range packageNames {
		if s, ok := after[p]; ok {
			t.Errorf("package %s after dpkg -P: status %q", p, s)
		}
	}
	for _, p := range packageNames {
		for _, e := range contents[p] {
			if _, err := os.Lstat(e.path); err == nil && !existedBefore[e.path] {
				t.Errorf("%s of %s left after dpkg -P", e.path, p)
			}
		}
	}
	for _, dir := range []string{"/var/lib/dpkg/info", "/var/lib/systemd/deb-systemd-helper-enabled", "/etc/systemd/system"} {
		for _, p := range packageNames {
			m, _ := filepath.Glob(filepath.Join(dir, p+".*"))
			m2, _ := filepath.Glob(filepath.Join(dir, "*", p+".*"))
			if left := slices.Concat(m, m2); len(left) > 0 {
				t.Errorf("left after dpkg -P: %v", left)
			}
		}
	}
}

// purge removes the packages whatever state they are in, and every package
// installed since before was taken (dependencies apt had to add), so the
// machine ends as it began.
func purge(t *testing.T, before map[string]string) {
	if o, err := runErr(5*time.Minute, nil, "dpkg", "-P", "vecd", "vec-agent"); err != nil {
		t.Errorf("cleanup: dpkg -P: %v\n%s", err, o)
	}
	var added []string
	for p := range installedPackages(t) {
		if _, ok := before[p]; !ok {
			added = append(added, p)
		}
	}
	if len(added) > 0 {
		t.Logf("cleanup: purging the dependencies the install added: %v", added)
		args := append([]string{"-o", "DPkg::Lock::Timeout=120", "-y", "purge"}, added...)
		if o, err := runErr(10*time.Minute, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", args...); err != nil {
			t.Errorf("cleanup: apt-get purge %v: %v\n%s", added, err, o)
		}
	}
}
