package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"vec/control/apiwire"
)

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
func runVecd(t *testing.T, bin, dir, configYAML string) (apiwire.Counters, string) {
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
	var st apiwire.Counters
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st, string(out)
}
