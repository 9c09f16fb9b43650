package recovery

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// announceBurst is when, from Start, the first rounds of gratuitous ARP go
// out: at once, so neighbours switch to this gateway, then a few times more
// within two seconds in case frames were lost or the old primary answered
// in between.
var announceBurst = [...]time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second}

// AnnounceInterval is the period of the rounds after the burst, for as long
// as the announcer runs: it re-teaches a switch or a host that missed the
// burst or aged its entry out.
const AnnounceInterval = 10 * time.Second

// announceOffset returns when round n goes out, counted from Start.
func announceOffset(n int) time.Duration {
	if n < len(announceBurst) {
		return announceBurst[n]
	}
	return announceBurst[len(announceBurst)-1] + time.Duration(n-len(announceBurst)+1)*AnnounceInterval
}

// Announcer claims the VIPs for this gateway: once started it sends a round
// of gratuitous ARP for every VIP (Directory.VIPs, read at each round, so a
// reload is followed) on every port at 0, 50 ms, 200 ms, 500 ms, 1 s and 2 s,
// then every AnnounceInterval until stopped. It is safe for concurrent use.
type Announcer struct {
	dataplane Dataplane
	directory Directory
	log       *zap.Logger
	clock     Clock // SystemClock; tests replace it

	mu     sync.Mutex
	cancel context.CancelFunc // nil while stopped
	done   chan struct{}      // closed when the running schedule has ended
}

// NewAnnouncer returns a stopped Announcer.
func NewAnnouncer(dp Dataplane, dir Directory, log *zap.Logger) *Announcer {
	return &Announcer{dataplane: dp, directory: dir, log: log, clock: SystemClock()}
}

// Start begins the schedule; if it is already running it starts over from
// the burst (a new takeover claims the VIPs afresh).
func (a *Announcer) Start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.cancel, a.done = cancel, done
	go func() {
		defer close(done)
		a.announce(ctx)
	}()
}

// Stop ends the schedule and returns once no round is in progress (a round
// under way has its context cancelled). Stopping a stopped Announcer does
// nothing.
func (a *Announcer) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked()
}

func (a *Announcer) stopLocked() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel, a.done = nil, nil
}

// announce runs the schedule until ctx ends. Round times are counted from
// the start, so a slow round does not delay the ones after it.
func (a *Announcer) announce(ctx context.Context) {
	start := a.clock.Now()
	for n := 0; ; n++ {
		if wait := start.Add(announceOffset(n)).Sub(a.clock.Now()); wait > 0 {
			due := make(chan struct{})
			timer := a.clock.AfterFunc(wait, func() { close(due) })
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-due:
			}
		}
		if ctx.Err() != nil {
			return
		}
		vips := a.directory.VIPs()
		if len(vips) == 0 {
			continue
		}
		if err := a.dataplane.Announce(ctx, vips); err != nil && ctx.Err() == nil {
			a.log.Warn("gratuitous ARP for the VIPs failed", zap.Int("round", n), zap.Int("vips", len(vips)), zap.Error(err))
		}
	}
}
