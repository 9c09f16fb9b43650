package dpdk

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"vec/internal/testenv"
)

// Virtual devices the tests use; each test that opens a port owns one.
var testVdevs = []string{
	"net_ring0", // loopback round trip
	"net_ring1", // SendKept
	"net_ring2", // multiple queues, TX ring full
	"net_null0", // plain null port
	"net_null1", // allocation test
	"net_null2", // benchmark
	"net_null3", // RSS
	"net_null4", // Close
	"net_ring3", // Alloc, LinkUp
	"net_ring4", // Frames.Send
	"net_ring5", // Link, SetLinkDown/Up
	"net_null5", // SetLinkDown unsupported
	"net_ring6", // SendKept of moved views
}

var (
	procsBeforeInit    int
	affinityBeforeInit []int
)

func TestMain(m *testing.M) {
	// fail ends the run before any test does.
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "dpdk tests:", err)
		os.Exit(1)
	}
	procsBeforeInit = runtime.GOMAXPROCS(0)
	var err error
	if affinityBeforeInit, err = ThreadAffinity(); err != nil {
		fail(err)
	}
	// The main lcore is the first CPU the process may use (CPU 0 on the
	// project's machines), so that a restricted cpuset does not fail EAL.
	args := []string{"dpdk.test", "--in-memory", "--no-pci", "--no-telemetry", "-l", strconv.Itoa(affinityBeforeInit[0])}
	for _, v := range testVdevs {
		args = append(args, "--vdev="+v)
	}
	pcapDir, err := os.MkdirTemp("", "dpdk-test-")
	if err != nil {
		fail(err)
	}
	jumbo, err := jumboPcapVdev(pcapDir)
	if err != nil {
		fail(err)
	}
	args = append(args, "--vdev="+jumbo)
	if err := Init(args); err != nil {
		os.RemoveAll(pcapDir)
		why := fmt.Sprintf("dpdk tests: EAL cannot initialise (%v); they need root and hugepages "+
			"(echo 1024 > /proc/sys/vm/nr_hugepages, hugetlbfs on /dev/hugepages)", err)
		if testenv.Strict() {
			fmt.Fprintln(os.Stderr, why)
			os.Exit(1)
		}
		fmt.Println(why, "- skipping")
		os.Exit(0)
	}
	code := m.Run()
	os.RemoveAll(pcapDir)
	if err := Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "dpdk tests:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func cpuListString(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func TestInitRestoresAffinityAndGOMAXPROCS(t *testing.T) {
	if got := runtime.GOMAXPROCS(0); got != procsBeforeInit {
		t.Errorf("GOMAXPROCS after Init = %d, before = %d", got, procsBeforeInit)
	}
	if got, want := testenv.CPUsAllowed(t, os.Getpid()), cpuListString(affinityBeforeInit); got != want {
		t.Errorf("main thread CPUs after Init = %q, before = %q", got, want)
	}
	if err := Init([]string{"again"}); err == nil {
		t.Error("second Init from a test goroutine succeeded")
	}
}
