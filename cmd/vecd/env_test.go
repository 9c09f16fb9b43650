package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"vec/control/manager"
)

// requireDPDK stops a test that cannot run vecd here: it needs root and
// free hugepages. In CI (CI=true) that is a failure, since the project's
// set-up script provides both; elsewhere it is a skip.
func requireDPDK(t *testing.T) {
	t.Helper()
	problem := ""
	if os.Geteuid() != 0 {
		problem = "vecd needs root"
	} else if free := freeHugepages(); free < 64 {
		problem = "fewer than 64 free 2 MiB hugepages (run scripts/setup.sh)"
	}
	if problem == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run vecd: %s", problem)
	}
	t.Skipf("cannot run vecd: %s", problem)
}

func freeHugepages() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "HugePages_Free:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}

// buildVecd compiles the daemon once per test binary run.
func buildVecd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vecd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building vecd: %v\n%s", err, out)
	}
	return bin
}

// runVecd runs vecd with the configuration text and returns its final
// counters (parsed from -stats-json) and combined output.
func runVecd(t *testing.T, bin, dir, configYAML string) (manager.Counters, string) {
	t.Helper()
	cfgPath := filepath.Join(dir, "vecd.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	statsPath := filepath.Join(dir, "stats.json")
	cmd := exec.Command(bin, "-config", cfgPath, "-stats-json", statsPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vecd failed: %v\n%s", err, out)
	}
	b, err := os.ReadFile(statsPath)
	if err != nil {
		t.Fatalf("reading final counters: %v\n%s", err, out)
	}
	var st manager.Counters
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st, string(out)
}
