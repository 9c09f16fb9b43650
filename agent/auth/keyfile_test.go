package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadKeyFile: a key file is read through internal/secretfile's checks
// (which its own tests cover in full): an owner-only file loads, one its
// group may read is refused with the file named.
func TestLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("01", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyFile(path)
	if err != nil || k.IsZero() {
		t.Fatalf("owner-only key file: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("group-readable key file: %v", err)
	}
}
