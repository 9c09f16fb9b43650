package dpdk

/*
#include "vecdpdk.h"
*/
import "C"

import (
	"errors"
	"syscall"
)

// ErrNoRSS is wrapped by OpenPort's error for several RX queues on a
// device that cannot spread flows by RSS through a redirection table.
var ErrNoRSS = errors.New("the device has no RSS with a redirection table to keep each flow on one queue")

// Error is a failed DPDK call. Its text names the call and its subject and
// carries rte_strerror's text, e.g.
// "rte_eth_dev_configure(port 0): Invalid argument".
type Error struct {
	// Op is the DPDK call and its subject, e.g. "rte_eth_dev_configure(port 0)".
	Op string
	// Errno is the positive error number: rte_errno, or the negated
	// return value of a call that returns -errno.
	Errno int
}

func (e *Error) Error() string {
	var buf [256]C.char
	C.vec_strerror(C.int(e.Errno), &buf[0], C.int(len(buf)))
	return e.Op + ": " + C.GoString(&buf[0])
}

// Unwrap exposes the error number so that errors.Is(err, syscall.EEXIST)
// and the like work. DPDK's own codes (above 1000) have no syscall name.
func (e *Error) Unwrap() error { return syscall.Errno(e.Errno) }

// callError builds the error for a helper that returned ret < 0 (-errno).
func callError(op string, ret C.int) error {
	return &Error{Op: op, Errno: int(-ret)}
}
