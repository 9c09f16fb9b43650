package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"vec/dpdk"
	"vec/internal/testenv"
)

// ealChildEnv names, in a child process started by withEAL, the test it
// runs.
const ealChildEnv = "VEC_GATEWAY_EAL_TEST"

// testVdev is the net_null port of the tests that forward packets.
const testVdev = "net_null0"

// withEAL gives the calling test an EAL of its own. The EAL initialises
// once per process, and other tests of this package start theirs
// (Gateway.Start), so the test runs again in a child process: in this
// process withEAL runs the child, reports its outcome and returns false;
// in the child it initialises the EAL (on the main goroutine, runOnMain)
// and returns true, and the test goes on. Without root and hugepages the
// test fails when CI=true and is skipped otherwise.
func withEAL(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ealChildEnv) == t.Name() {
		cpus, err := dpdk.ThreadAffinity()
		if err == nil {
			// The main lcore is the first CPU the process may use, so
			// that a restricted cpuset does not fail EAL.
			args := []string{"gateway.test", "--in-memory", "--no-pci", "--no-telemetry", "-l", strconv.Itoa(cpus[0]),
				"--vdev=" + testVdev + ",size=64"}
			runOnMain(func() { err = dpdk.Init(args) })
		}
		if err != nil {
			why := fmt.Sprintf("EAL cannot initialise (%v); this test needs root and hugepages (see scripts/setup.sh)", err)
			testenv.SkipOrFail(t, "%s", why)
		}
		t.Cleanup(func() { runOnMain(func() { dpdk.Cleanup() }) })
		return true
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), ealChildEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in a process of its own:\n%s", out)
	switch {
	case err != nil:
		t.Fatalf("the test's process: %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skip("skipped in its process")
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatal("the test did not run in its process")
	}
	return false
}
