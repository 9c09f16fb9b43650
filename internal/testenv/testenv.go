// Package testenv lets tests that need the machine's privileges — root and
// reserved hugepages for DPDK — check for them in one way: a missing one
// fails the test in CI (CI=true: the project's set-up script provides all
// of them, so their absence is a defect) and skips it elsewhere.
package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// MinFreeHugepages is how many free 2 MiB hugepages a DPDK process of the
// tests needs.
const MinFreeHugepages = 64

// Strict reports whether the tests run in CI (CI=true), where every
// privilege and facility a test needs is provided: a missing one is a
// failure, not a reason to skip. It is the only reader of CI in the
// module (internal/repotest checks that).
func Strict() bool { return os.Getenv("CI") == "true" }

// SkipOrFail stops the test: t.Fatal in CI, t.Skip elsewhere.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RequireDPDK stops the test unless it runs as root with enough free
// hugepages.
func RequireDPDK(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "DPDK needs root")
	}
	if free, err := FreeHugepages(); err != nil || free < MinFreeHugepages {
		SkipOrFail(t, "DPDK needs %d free 2 MiB hugepages: %d free, %v (run scripts/setup.sh)", MinFreeHugepages, free, err)
	}
}

// FreeHugepages reads HugePages_Free from /proc/meminfo.
func FreeHugepages() (int, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "HugePages_Free:"); ok {
			return strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return 0, fmt.Errorf("no HugePages_Free in /proc/meminfo")
}
