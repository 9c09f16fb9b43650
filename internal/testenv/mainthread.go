package testenv

import (
	"os"
	"testing"
)

// onMain carries functions to the main goroutine (RunTestsOffMain).
var onMain = make(chan func())

// RunTestsOffMain runs m's tests on another goroutine and exits with their
// code; meanwhile the main goroutine, which package dpdk keeps on the main
// OS thread, runs what OnMain hands it: dpdk.Init must run there. Call it
// from TestMain.
func RunTestsOffMain(m *testing.M) {
	code := make(chan int)
	go func() { code <- m.Run() }()
	for {
		select {
		case f := <-onMain:
			f()
		case c := <-code:
			os.Exit(c)
		}
	}
}

// OnMain runs f on the main goroutine of a test binary whose TestMain
// called RunTestsOffMain, and returns when it has.
func OnMain(f func()) {
	done := make(chan struct{})
	onMain <- func() {
		defer close(done)
		f()
	}
	<-done
}
