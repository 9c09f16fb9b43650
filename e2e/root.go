package e2e

import (
	"os"
	"os/exec"
	"testing"

	"vec/internal/testenv"
)

// RequireRoot stops the test when it cannot build namespaces: not root, or a
// tool the cluster needs is missing. Under CI (CI=true) that is a failure,
// elsewhere a skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "ethtool", "arping", "ping", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			SkipOrFail(t, "needs %s (apt-get install iproute2 ethtool iputils-arping iputils-ping util-linux)", tool)
		}
	}
}

// SkipOrFail is t.Fatalf when CI=true and t.Skipf otherwise: a test must not
// pass in CI by skipping what it cannot do.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.SkipOrFail(t, format, args...)
}
