package gateway

import (
	"syscall"
	"time"
	"unsafe"
)

// napThread blocks the calling thread for d in nanosleep(2), made as a raw
// system call: the Go scheduler does not see it. A worker's thread is
// locked to its goroutine and pinned to its core, so there is nothing to
// hand its P to; with a plain system call the runtime's monitor thread
// would find the P "blocked in a syscall" on every nap, take it away and
// keep waking up every 20 µs to do so — measured at about half of an idle
// gateway's CPU. An hrtimer wakes the thread within the timer slack (50 µs),
// where a Go timer would round a nap below a millisecond up to one. A
// signal (goroutine preemption for the garbage collector) ends the nap
// early, which is harmless.
func napThread(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}
