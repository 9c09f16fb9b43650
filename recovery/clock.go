package recovery

import "time"

// Clock is the time source of the HA state machine. Tests drive the machine
// with a fake one; SystemClock is the real one.
type Clock interface {
	// Now returns the current time. The machine compares times taken from
	// it with each other (leases, master-down) and puts its Unix time in
	// heartbeats.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did. A call that has started is not waited for.
	Stop() bool
}

// SystemClock returns the clock of the time package: time.Now (with its
// monotonic reading, so a step of the wall clock moves no deadline) and
// time.AfterFunc.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
