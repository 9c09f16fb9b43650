package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vec/agent/wire"
)

func TestLoadShippedConfig(t *testing.T) {
	cfg, err := LoadConfig("../configs/vec-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "server-1" || len(cfg.VIPs) != 2 || !cfg.DropCapabilities || cfg.Auth.MaxClockSkew != 30*time.Second ||
		len(cfg.Metrics.Scripts) != 2 || cfg.Metrics.Scripts[0].Timeout != 2*time.Second || cfg.Witness.MaxLease != 2*time.Second {
		t.Fatalf("%+v", cfg)
	}
}

func TestLoadConfigDefaultsAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg, err := LoadConfig(write("name: a\nvips: [10.0.0.1]\nauth: {key_files: [k]}\nmetrics: {scripts: [{name: m, command: [x]}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.Limits.MaxEntriesPerPage != wire.DefaultMaxEntries || cfg.LogLevel != "info" ||
		cfg.Metrics.Scripts[0].Interval != DefaultScriptInterval || cfg.Metrics.Scripts[0].Timeout != DefaultScriptTimeout ||
		cfg.Witness.MaxLease != DefaultMaxLease {
		t.Fatalf("defaults: %+v", cfg)
	}

	if _, err := LoadConfig(write("name: a\nvipz: [10.0.0.1]\n")); err == nil || !strings.Contains(err.Error(), "vipz") {
		t.Errorf("unknown key: %v", err)
	}
	cfg, err = LoadConfig(write("name: a\nvips: [10.0.0.1]\nauth: {key_files: [k]}\nwitness: {max_lease: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "witness.max_lease 0s") {
		t.Errorf("max_lease 0: %v", err)
	}

	cfg, err = LoadConfig(write(`
name: "bad name"
listen: "10.0.0.1"
vips: [10.0.0.1, 10.0.0.1, "::ffff:10.0.0.2"]
auth: {max_clock_skew: 1h}
limits: {max_entries_per_page: 0, max_reply_bytes: 10}
log_level: loud
witness: {max_lease: 2m}
metrics:
  cpu_interval: 1ms
  scripts:
    - {name: "a b", command: [], interval: 1s, timeout: 2s}
    - {name: ok, command: [x]}
    - {name: ok, command: [x]}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	for _, want := range []string{"name \"bad name\"", "listen \"10.0.0.1\"", "listed twice", "auth.key_files", "max_clock_skew",
		"max_entries_per_page 0", "max_reply_bytes 10", "cpu_interval", "name must match", "command is required",
		"timeout (2s) <= interval (1s)", "duplicate name", "log_level", "witness.max_lease 2m0s: want (0, 1m0s]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q: %v", want, err)
		}
	}
}
