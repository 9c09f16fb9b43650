package dpdk

/*
#cgo pkg-config: libdpdk
#include <stdlib.h>
#include "vecdpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// rte_eal_init pins the thread that calls it to the main lcore, and EAL's
// per-thread state (lcore id, mempool cache) belongs to that OS thread: keep
// the main goroutine on the main thread for the life of the process, so
// that Init called from main (or TestMain) runs there and stays there.
func init() {
	runtime.LockOSThread()
}

// Init initialises the EAL with args (args[0] is the program name), e.g.
// {"vecd", "--in-memory", "-l", "0", "--vdev=net_ring0"}.
//
// It must be called from the main goroutine (main or TestMain): the package
// locks that goroutine to the main OS thread in init, and Init refuses to
// run on any other thread.
//
// Besides rte_eal_init, Init:
//   - restores the calling thread's CPU affinity as it was before
//     rte_eal_init pinned it to the main lcore's CPU, so that the control
//     plane on the main goroutine, and threads it spawns, are not squeezed
//     onto one core (narrow it with SetControlAffinity if wanted);
//   - sets GOMAXPROCS explicitly to its value before the call: Go lowers
//     GOMAXPROCS by itself when the affinity it observes shrinks unless it
//     was set explicitly.
//
// Only the main lcore should be given to EAL (-l 0): fast-path workers are
// goroutines registered with RegisterWorkerThread, not EAL lcore threads.
// Use --in-memory (or otherwise disable multi-process) so that
// RegisterWorkerThread works. The argument strings are handed to EAL and
// never freed, as EAL may keep pointers into them.
func Init(args []string) error {
	if syscall.Gettid() != os.Getpid() {
		return errors.New("dpdk.Init: not on the main OS thread; call it from the main goroutine (main or TestMain)")
	}
	if len(args) == 0 {
		return errors.New("dpdk.Init: args must hold at least the program name")
	}
	procs := runtime.GOMAXPROCS(0)
	affinity, err := ThreadAffinity()
	if err != nil {
		return err
	}

	argv := unsafe.Slice((**C.char)(C.malloc(C.size_t(len(args)+1)*C.size_t(unsafe.Sizeof((*C.char)(nil))))), len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	argv[len(args)] = nil
	ret := C.vec_eal_init(C.int(len(args)), &argv[0])

	runtime.GOMAXPROCS(procs)
	if aerr := SetControlAffinity(affinity); aerr != nil && ret >= 0 {
		return fmt.Errorf("dpdk.Init: restoring the main thread's CPU affinity: %w", aerr)
	}
	if ret < 0 {
		return callError("rte_eal_init", ret)
	}
	return nil
}

// Cleanup releases the EAL's resources (rte_eal_cleanup). Free every
// port, mempool, ring and allocation first; no DPDK call is valid after it.
func Cleanup() error {
	if ret := C.vec_eal_cleanup(); ret < 0 {
		return callError("rte_eal_cleanup", ret)
	}
	return nil
}
