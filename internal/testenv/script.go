package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteScript writes an executable shell script named name, "#!/bin/sh"
// and then body, into a fresh temporary directory of t and returns its
// path.
func WriteScript(t testing.TB, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
