package gateway

import (
	"os"
	"testing"
)

// onMain carries functions to the main goroutine, which package dpdk keeps
// on the main OS thread: dpdk.Init (Gateway.Start) must run there. The
// tests run on another goroutine meanwhile.
var onMain = make(chan func())

func TestMain(m *testing.M) {
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

// runOnMain runs f on the main goroutine and returns when it has.
func runOnMain(f func()) {
	done := make(chan struct{})
	onMain <- func() {
		defer close(done)
		f()
	}
	<-done
}
