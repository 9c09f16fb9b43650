package netnullbench

import (
	"strconv"
	"testing"

	"vec/dpdk"
	"vec/internal/testenv"
)

// The tests run off the main goroutine: dpdk.Init must run on it.
func TestMain(m *testing.M) { testenv.RunTestsOffMain(m) }

// withEAL initialises the EAL for the calling test, with vdev as its
// port, and cleans it up when the test ends. The EAL initialises once per
// process: one test of the package at most may call it.
func withEAL(t *testing.T) {
	t.Helper()
	testenv.RequireDPDK(t)
	cpus, err := dpdk.ThreadAffinity()
	if err == nil {
		// The main lcore is the first CPU the process may use, so that a
		// restricted cpuset does not fail EAL.
		args := []string{"netnullbench.test", "--in-memory", "--no-pci", "--no-telemetry", "-l", strconv.Itoa(cpus[0]),
			"--vdev=" + vdev + ",size=64"}
		testenv.OnMain(func() { err = dpdk.Init(args) })
	}
	if err != nil {
		testenv.SkipOrFail(t, "EAL cannot initialise (%v); this test needs root and hugepages (see scripts/setup.sh)", err)
	}
	t.Cleanup(func() { testenv.OnMain(func() { dpdk.Cleanup() }) })
}
