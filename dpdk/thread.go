package dpdk

/*
#include "vecdpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetControlAffinity sets the CPU affinity of the calling OS thread
// (sched_setaffinity). Call it from a goroutine locked to its thread (the
// main goroutine is): threads created later from this thread inherit the
// set. It does not change GOMAXPROCS.
func SetControlAffinity(cpus []int) error {
	if len(cpus) == 0 {
		return &Error{Op: "sched_setaffinity(no cpus)", Errno: int(syscall.EINVAL)}
	}
	c := make([]C.int, len(cpus))
	for i, cpu := range cpus {
		c[i] = C.int(cpu)
	}
	if ret := C.vec_set_affinity(&c[0], C.int(len(c))); ret < 0 {
		return callError(fmt.Sprintf("sched_setaffinity(cpus %v)", cpus), ret)
	}
	return nil
}

// ThreadAffinity returns the CPUs the calling OS thread may run on
// (sched_getaffinity). Meaningful only on a goroutine locked to its thread.
func ThreadAffinity() ([]int, error) {
	c := make([]C.int, 1024)
	n := C.vec_get_affinity(&c[0], C.int(len(c)))
	if n < 0 {
		return nil, callError("sched_getaffinity", n)
	}
	cpus := make([]int, n)
	for i := range cpus {
		cpus[i] = int(c[i])
	}
	return cpus, nil
}

// RegisterWorkerThread makes the calling goroutine's OS thread a DPDK
// thread (rte_thread_register: it gets an lcore id and so its own mempool
// cache) and pins it to cpu (rte_thread_set_affinity).
//
// It locks the goroutine to its OS thread (runtime.LockOSThread; lock it
// yourself too before calling, as the notes advise) and never unlocks it:
// the thread stays pinned to cpu even after unregister, so let the
// goroutine end while locked and Go will discard the thread. unregister
// (rte_thread_unregister) must be called from the same goroutine; it panics
// otherwise. Needs an EAL without multi-process (--in-memory).
func RegisterWorkerThread(cpu int) (unregister func(), err error) {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	if ret := C.vec_thread_register(); ret < 0 {
		return nil, callError("rte_thread_register", ret)
	}
	if ret := C.vec_thread_set_affinity(C.int(cpu)); ret < 0 {
		C.vec_thread_unregister()
		return nil, callError(fmt.Sprintf("rte_thread_set_affinity(cpu %d)", cpu), ret)
	}
	return func() {
		if syscall.Gettid() != tid {
			panic("dpdk: worker thread unregistered from another OS thread")
		}
		C.vec_thread_unregister()
	}, nil
}

// LcoreID returns the calling thread's lcore id (rte_lcore_id), or -1 if
// the thread is neither an EAL thread nor registered.
func LcoreID() int {
	return int(C.vec_lcore_id())
}

// SetProcessAffinity sets the CPU affinity of every thread the process has
// now (sched_setaffinity per entry of /proc/self/task): the Go runtime's,
// EAL's control threads and the control plane's, which is how a daemon
// keeps them off its worker cores. Threads created later inherit the
// affinity of the thread that creates them; Go creates its own from
// threads pinned here.
func SetProcessAffinity(cpus []int) error {
	var set unix.CPUSet
	for _, cpu := range cpus {
		set.Set(cpu)
	}
	if set.Count() == 0 {
		return &Error{Op: "sched_setaffinity(no cpus)", Errno: int(syscall.EINVAL)}
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("listing the process's threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("sched_setaffinity(thread %d, cpus %v): %w", tid, cpus, err)
		}
	}
	return nil
}
