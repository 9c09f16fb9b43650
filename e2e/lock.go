package e2e

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// clusterLock is held, machine-wide, for as long as a vecd test's cluster
// lives. The cluster has fixed names, so two users at once (a second go
// test, scripts/demo.sh, which takes the same lock) would tear down
// each other's namespaces and processes.
const clusterLock = "/run/vec-cluster.lock"

// clusterLockHeldEnv tells a child test process that its parent holds
// clusterLock for it.
const clusterLockHeldEnv = "VEC_CLUSTER_LOCK_HELD"

// lockCluster takes clusterLock, waiting up to 5 minutes for another user,
// and releases it at cleanup.
func lockCluster(t testing.TB) {
	t.Helper()
	if os.Getenv(clusterLockHeldEnv) == "1" {
		return
	}
	// Re-entrant within the process: StartCluster takes the lock, and
	// tests that need it for longer than the cluster take it first.
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockDepth > 0 {
		lockDepth++
		t.Cleanup(func() { lockMu.Lock(); lockDepth--; lockMu.Unlock() })
		return
	}
	f, err := os.OpenFile(clusterLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("cluster lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("cluster lock %s: %v (someone else is using the namespace cluster)", clusterLock, err)
		}
		if !logged {
			t.Logf("waiting for %s: another test or demo is using the namespace cluster", clusterLock)
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	lockDepth = 1
	// Closing the file releases the lock.
	t.Cleanup(func() {
		lockMu.Lock()
		defer lockMu.Unlock()
		if lockDepth--; lockDepth == 0 {
			f.Close()
		}
	})
}

var (
	lockMu    sync.Mutex
	lockDepth int // how many holders in this process share the open lock
)
