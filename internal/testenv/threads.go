package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// CPUsAllowed is the Cpus_allowed_list of thread tid of this process, as
// /proc shows it ("0-1", "0,2"): the CPUs the thread may run on. The main
// thread's tid is the process ID.
func CPUsAllowed(t testing.TB, tid int) string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", tid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in the status of thread %d", tid)
	return ""
}
