package periodic

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A job runs at once on Start; Stop cancels the run in flight and returns
// after it has ended; a second Start while started adds no goroutine; a
// stopped Group starts again.
func TestStartStopRestart(t *testing.T) {
	var g Group
	var runs, running atomic.Int32
	started := make(chan struct{}, 4)
	job := Job{Interval: time.Hour, Run: func(ctx context.Context) {
		running.Add(1)
		defer running.Add(-1)
		runs.Add(1)
		started <- struct{}{}
		<-ctx.Done()
	}}

	g.Stop() // the zero Group is stopped
	g.Start([]Job{job})
	g.Start([]Job{job})
	<-started
	g.Stop()
	if n := running.Load(); n != 0 {
		t.Fatalf("%d runs still going after Stop", n)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs after two Starts, want 1", n)
	}

	g.Start([]Job{job})
	<-started
	g.Stop()
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs after a restart, want 2", n)
	}
}

// Runs follow the interval.
func TestRunsEveryInterval(t *testing.T) {
	var g Group
	ticks := make(chan struct{}, 10)
	g.Start([]Job{{Interval: time.Millisecond, Run: func(context.Context) {
		select {
		case ticks <- struct{}{}:
		default:
		}
	}}})
	defer g.Stop()
	for range 3 {
		select {
		case <-ticks:
		case <-time.After(5 * time.Second):
			t.Fatal("fewer than 3 runs in 5s at a 1ms interval")
		}
	}
}
