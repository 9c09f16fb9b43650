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
		cfg.Witness.MaxLease != DefaultMaxLease || cfg.User != DefaultUser {
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

// TestLoadConfigStrict: the decoder rejects what viper alone lets through,
// and names the field path of each problem.
func TestLoadConfigStrict(t *testing.T) {
	const base = "name: a\nvips: [10.0.0.1]\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"upper-case key", base + "Listen: \":1\"\n", []string{`"Listen"`, "unknown field"}},
		{"nested upper-case key", base + "auth:\n  Key_Files: [k]\n", []string{`auth."Key_Files"`, "unknown field"}},
		{"dotted key", base + "auth.key_files: [k]\n", []string{`"auth.key_files"`, "unknown field"}},
		{"nested unknown key", base + "auth: {key_files: [k], max_skew: 1s}\n", []string{"auth.max_skew", "unknown field"}},
		{"unknown key in a list item", base + "metrics: {scripts: [{name: m, command: [x], every: 1s}]}\n",
			[]string{"metrics.scripts[0].every", "unknown field"}},
		{"duration without unit", base + "auth: {max_clock_skew: 30}\n", []string{"auth.max_clock_skew", "30 needs a unit"}},
		{"script duration without unit", base + "metrics: {scripts: [{name: m, command: [x], timeout: 2}]}\n",
			[]string{"metrics.scripts[0].timeout", "needs a unit"}},
		{"duration not a duration", base + "witness: {max_lease: soon}\n", []string{"witness.max_lease", `"soon" is not a duration`}},
		{"quoted number", base + "limits: {max_entries_per_page: \"100\"}\n",
			[]string{"limits.max_entries_per_page", `expected a whole number, got text "100"`}},
		{"fraction", base + "limits: {max_reply_bytes: 1.5}\n", []string{"limits.max_reply_bytes", "not a whole number"}},
		{"string for a bool", base + "drop_capabilities: \"false\"\n", []string{"drop_capabilities", "expected true or false"}},
		{"number for a string", "name: 7\nvips: [10.0.0.1]\n", []string{"name", "expected text, got the number 7"}},
		{"comma list for a list", "name: a\nvips: \"10.0.0.1,10.0.0.2\"\n", []string{"vips", "expected a list"}},
		{"two documents", base + "---\nname: b\n", []string{"more than one YAML document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// TestLoadConfigTooLarge: a wrong path (a log, a disk image) is not read
// into memory.
func TestLoadConfigTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("name: a\n# "+strings.Repeat("x", MaxConfigFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}
