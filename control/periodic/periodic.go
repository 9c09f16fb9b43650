package periodic

import (
	"context"
	"sync"
	"time"
)

// Job is work done at once and then every Interval.
type Job struct {
	Interval time.Duration
	// Run does the work once; it returns soon after its ctx ends (Stop).
	Run func(ctx context.Context)
}

// Group runs jobs from Start until Stop. Its methods are safe for
// concurrent use; the zero Group is stopped.
type Group struct {
	mu     sync.Mutex // serialises Start and Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs every job on its own goroutine until Stop. One job's runs
// never overlap: a tick that comes while it runs is dropped. Starting a
// started Group does nothing; a stopped one may be started again.
func (g *Group) Start(jobs []Job) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for _, j := range jobs {
		g.wg.Go(func() { j.loop(ctx) })
	}
}

// Stop cancels the runs in flight and returns once every job has ended.
// Stopping a stopped Group does nothing.
func (g *Group) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.wg.Wait()
	g.cancel = nil
}

func (j Job) loop(ctx context.Context) {
	tick := time.NewTicker(j.Interval)
	defer tick.Stop()
	for {
		j.Run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
