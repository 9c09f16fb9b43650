package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vec-agent --check-config FILE: 0 for a valid file (key file read), 1
// listing every problem by field, 2 for a file that cannot be read.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "agent.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("cd", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := "name: s1\nlisten: \"127.0.0.1:10004\"\nvips: [10.1.0.100]\nuser: \"\"\nauth: {key_files: [" + key + "]}\n"
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	check := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		code := run(args, &stderr)
		return code, stderr.String()
	}

	if code, out := check("--check-config", write("good.yaml", good)); code != exitOK || !strings.Contains(out, "valid") {
		t.Errorf("valid file: exit %d\n%s", code, out)
	}
	bad := strings.NewReplacer("vips: [10.1.0.100]", "vips: [10.1.0.300]", "listen:", "max_clock_skew: 1s\nlisten:").Replace(good)
	code, out := check("--check-config", write("unknown.yaml", bad))
	if code != checkInvalid || !strings.Contains(out, "max_clock_skew") {
		t.Errorf("misplaced key: exit %d, want %d naming max_clock_skew\n%s", code, checkInvalid, out)
	}
	bad = strings.NewReplacer("vips: [10.1.0.100]", "vips: [10.1.0.300]", "name: s1", "name: \"s 1\"").Replace(good)
	code, out = check("--check-config", write("bad.yaml", bad))
	for _, want := range []string{"vips", "name"} {
		if code != checkInvalid || !strings.Contains(out, want) {
			t.Errorf("bad values: exit %d, want %d naming %s\n%s", code, checkInvalid, want, out)
		}
	}
	missingKey := write("nokey.yaml", strings.Replace(good, key, filepath.Join(dir, "missing.key"), 1))
	if code, out := check("--check-config", missingKey); code != checkInvalid || !strings.Contains(out, "auth.key_files[0]") {
		t.Errorf("missing key file: exit %d, want %d naming auth.key_files[0]\n%s", code, checkInvalid, out)
	}
	if code, out := check("--check-config", missingKey, "--skip-files"); code != exitOK {
		t.Errorf("--skip-files: exit %d\n%s", code, out)
	}
	if code, out := check("--check-config", filepath.Join(dir, "absent.yaml")); code != exitUsage {
		t.Errorf("absent file: exit %d, want %d\n%s", code, exitUsage, out)
	}
}
