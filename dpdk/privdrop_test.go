package dpdk

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vec/internal/privdrop"
	"vec/internal/testenv"
)

const dropCapsHelperEnv = "VEC_DPDK_DROPCAPS_HELPER"

// TestDropCapabilities drops the capabilities in a child copy of the test
// binary (EAL up, as in every test of the package; the test process keeps
// its capabilities) and checks there that every thread, DPDK's interrupt
// thread included, holds none, that threads started afterwards hold none,
// that a privileged operation is refused, and that DPDK memory still
// works; the child's TestMain then cleans the EAL up.
func TestDropCapabilities(t *testing.T) {
	if os.Getenv(dropCapsHelperEnv) == "1" {
		dropCapsHelper(t)
		return
	}
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "needs root: an unprivileged process has no capability to drop")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropCapabilities$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), dropCapsHelperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestDropCapabilities") {
		t.Fatalf("helper did not pass:\n%s", out)
	}
	t.Logf("helper:\n%s", out)
}

func dropCapsHelper(t *testing.T) {
	sets, err := privdrop.ThreadSets("self")
	if err != nil {
		t.Fatal(err)
	}
	if sets.Effective == 0 {
		t.Fatal("helper started without capabilities")
	}
	before, freeBefore, err := AllocSlice[uint64]("dropcaps_before", 1<<16, -1)
	if err != nil {
		t.Fatal(err)
	}
	// As in vecd: os/signal's thread, which blocks the signals not asked
	// for.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	// Threads parked in Go (locked goroutines), besides the runtime's own.
	release := make(chan struct{})
	defer close(release)
	for range 3 {
		go func() {
			runtime.LockOSThread()
			<-release
		}()
	}
	if err := DropCapabilities(); err != nil {
		t.Fatal(err)
	}
	names := checkThreadsDropped(t)
	if !strings.Contains(names, "eal-intr-thread") {
		t.Errorf("DPDK's interrupt thread not among the threads checked: %s", names)
	}
	t.Logf("before: %s; after, every thread empty: %s", sets, names)
	// A thread started now inherits empty sets.
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(started)
		<-release
	}()
	<-started
	checkThreadsDropped(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err == nil {
		unix.Close(fd)
		t.Fatal("raw socket opened without CAP_NET_RAW")
	}
	// Hugepage memory allocated before the drop stays usable and can be
	// freed; a small allocation is served from pages already mapped.
	// (New pages cannot be mapped in IOVA-PA mode: EAL needs
	// CAP_SYS_ADMIN to read their physical addresses; vecd allocates its
	// DPDK memory at start.)
	before[len(before)-1] = 1
	freeBefore()
	small, freeSmall, err := AllocSlice[uint64]("dropcaps_small", 64, -1)
	if err != nil {
		t.Fatalf("small allocation after the drop: %v", err)
	}
	small[63] = 1
	freeSmall()
	if _, free, err := AllocSlice[uint64]("dropcaps_big", 1<<20, -1); err == nil {
		free()
		t.Log("8 MiB more hugepage memory after the drop: allocated")
	} else {
		t.Logf("8 MiB more hugepage memory after the drop: %v", err)
	}
}

// checkThreadsDropped checks every thread of the process and returns
// their names.
func checkThreadsDropped(t *testing.T) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, task := range tasks {
		s, err := privdrop.ThreadSets(task.Name())
		if err != nil {
			t.Fatal(err)
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%s/status", task.Name()))
		if err != nil {
			t.Fatal(err)
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/self/task/%s/comm", task.Name()))
		name := task.Name() + ":" + strings.TrimSpace(string(comm))
		names = append(names, name)
		if !s.Empty() || !strings.Contains(string(status), "NoNewPrivs:\t1") {
			t.Errorf("thread %s: %s, no_new_privs line present: %v", name, s, strings.Contains(string(status), "NoNewPrivs:\t1"))
		}
	}
	return strings.Join(names, " ")
}
