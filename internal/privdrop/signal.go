package privdrop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// resignal is how long a thread that has not dropped yet is given before
// it is sent the signal again.
const resignal = 20 * time.Millisecond

// DropAllSignalled is DropAll for a binary that links cgo, where the Go
// runtime refuses AllThreadsSyscall (and where C libraries start threads
// of their own that Go knows nothing of). The caller has installed, in C,
// a handler for sig that makes the thread it runs on drop its capabilities
// as DropAll does (no_new_privs, ambient, bounding when it holds
// CAP_SETPCAP, then capset to empty sets). DropAllSignalled sends sig to
// every thread of the process that has not dropped yet, as listed in
// /proc/self/task, again and again until none is left (a thread that a
// not yet dropped thread starts inherits its sets, so it is found on a
// later pass) or timeout passes, then checks every thread.
func DropAllSignalled(sig syscall.Signal, timeout time.Duration) error {
	before, err := ThreadSets("self")
	if err != nil {
		return err
	}
	boundingEmpty := before.Bounding == 0 || before.Effective&(1<<unix.CAP_SETPCAP) != 0
	pid := os.Getpid()
	sent := map[int]time.Time{}
	deadline := time.Now().Add(timeout)
	for {
		pending, err := pendingThreads(boundingEmpty)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("privdrop: threads %v did not drop their capabilities within %s of signal %d (is it blocked?)", pending, timeout, sig)
		}
		for _, tid := range pending {
			if time.Since(sent[tid]) < resignal {
				continue
			}
			if err := unix.Tgkill(pid, tid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("privdrop: signal thread %d: %w", tid, err)
			}
			sent[tid] = time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	return verify(boundingEmpty, nil)
}

// pendingThreads lists the threads that still hold a capability or lack
// no_new_privs.
func pendingThreads(boundingEmpty bool) ([]int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("privdrop: list threads: %w", err)
	}
	var pending []int
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited
			}
			return nil, fmt.Errorf("privdrop: %w", err)
		}
		s, nnp, err := parseStatus(string(status))
		if err != nil {
			return nil, fmt.Errorf("privdrop: thread %s: %w", task.Name(), err)
		}
		if dropped(s, nnp, boundingEmpty) {
			continue
		}
		tid, err := strconv.Atoi(strings.TrimSpace(task.Name()))
		if err != nil {
			return nil, fmt.Errorf("privdrop: thread %q: %w", task.Name(), err)
		}
		pending = append(pending, tid)
	}
	return pending, nil
}
