package recovery

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// announceClock is a fake Clock: the announcer's waits are handed to the
// test, which moves the time to their end and fires them.
type announceClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan announceWait
}

type announceWait struct {
	at   time.Time
	fire func()
}

func newAnnounceClock() *announceClock {
	return &announceClock{now: time.Unix(1000, 0), waits: make(chan announceWait, 1)}
}

func (c *announceClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *announceClock) AfterFunc(d time.Duration, f func()) Timer {
	c.waits <- announceWait{at: c.Now().Add(d), fire: f}
	return announceTimer{}
}

// announceTimer is a fake timer; a stopped one is simply never fired.
type announceTimer struct{}

func (announceTimer) Stop() bool { return true }

// next waits for the announcer's next wait, moves the clock by the given
// extra delay past its end (a late timer) and fires it; it returns the
// wait's end.
func (c *announceClock) next(t *testing.T, late time.Duration) time.Time {
	t.Helper()
	select {
	case w := <-c.waits:
		c.mu.Lock()
		c.now = w.at.Add(late)
		c.mu.Unlock()
		go w.fire()
		return w.at
	case <-time.After(5 * time.Second):
		t.Fatal("the announcer is not waiting")
		return time.Time{}
	}
}

func newFakeClockAnnouncer(dp Dataplane, dir Directory, log *zap.Logger) (*Announcer, *announceClock) {
	clock := newAnnounceClock()
	a := NewAnnouncer(dp, dir, log)
	a.clock = clock
	return a, clock
}

func TestAnnounceSchedule(t *testing.T) {
	dp := newTakeoverDataplane(1)
	dp.announced = make(chan []netip.Addr, 1)
	dir := newRebuildDirectory()
	a, clock := newFakeClockAnnouncer(dp, dir, zaptest.NewLogger(t))
	start := clock.Now()
	a.Start()
	defer a.Stop()

	expectRound := func(when string) {
		t.Helper()
		select {
		case vips := <-dp.announced:
			if len(vips) != 2 || vips[0] != web.Addr() || vips[1] != dns.Addr() {
				t.Errorf("round %s announced %v", when, vips)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no round %s", when)
		}
	}
	expectRound("at once")
	want := []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 12 * time.Second, 22 * time.Second, 32 * time.Second}
	for i, offset := range want {
		// The third timer fires 30 ms late: the rounds after it keep
		// their times, counted from the start.
		late := time.Duration(0)
		if i == 2 {
			late = 30 * time.Millisecond
		}
		if at := clock.next(t, late); at.Sub(start) != offset {
			t.Fatalf("round %d waits until %v, want %v", i+1, at.Sub(start), offset)
		}
		expectRound(offset.String())
	}
	// Stop returns while the announcer waits for round 9, which never comes.
	a.Stop()
	select {
	case <-dp.announced:
		t.Error("a round after Stop")
	default:
	}
}

func TestAnnounceRestartsTheBurstAndFollowsTheVIPs(t *testing.T) {
	dp := newTakeoverDataplane(1)
	dp.announced = make(chan []netip.Addr, 1)
	dir := newRebuildDirectory()
	a, clock := newFakeClockAnnouncer(dp, dir, zaptest.NewLogger(t))
	a.Start()
	defer a.Stop()
	<-dp.announced
	clock.next(t, 0)
	<-dp.announced
	<-clock.waits // the announcer waits for round 3

	// Start again: the burst starts over from the current time, with the
	// VIPs as they are now.
	dir.vips = dir.vips[:1]
	start := clock.Now()
	a.Start()
	if vips := <-dp.announced; len(vips) != 1 {
		t.Errorf("announced %v after the reload", vips)
	}
	if at := clock.next(t, 0); at.Sub(start) != 50*time.Millisecond {
		t.Errorf("first wait after a restart ends %v after it", at.Sub(start))
	}
}

// blockingAnnouncer blocks every Announce until its context ends.
type blockingAnnouncer struct {
	*takeoverDataplane
	started chan struct{}
}

func (b blockingAnnouncer) Announce(ctx context.Context, _ []netip.Addr) error {
	b.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func TestAnnounceStopWaitsForTheRound(t *testing.T) {
	b := blockingAnnouncer{newTakeoverDataplane(1), make(chan struct{}, 1)}
	core, logs := observer.New(zap.InfoLevel)
	a := NewAnnouncer(b, newRebuildDirectory(), zap.New(core))
	a.Start()
	<-b.started // the first round is under way, and stuck
	done := make(chan struct{})
	go func() {
		a.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not cancel the round under way")
	}
	a.Stop() // stopping again does nothing
	if logs.Len() != 0 {
		t.Errorf("a cancelled round was logged: %+v", logs.All())
	}
}

// failingAnnouncer fails every Announce.
type failingAnnouncer struct {
	*takeoverDataplane
	calls chan struct{}
}

func (f failingAnnouncer) Announce(context.Context, []netip.Addr) error {
	f.calls <- struct{}{}
	return errors.New("no port up")
}

func TestAnnounceGoesOnAfterAFailure(t *testing.T) {
	f := failingAnnouncer{newTakeoverDataplane(1), make(chan struct{}, 1)}
	core, logs := observer.New(zap.InfoLevel)
	a := NewAnnouncer(f, newRebuildDirectory(), zap.New(core))
	a.Start()
	defer a.Stop()
	// Real time: the rounds at 0 and 50 ms both come despite the failure.
	for round := range 2 {
		select {
		case <-f.calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d did not come", round)
		}
	}
	a.Stop()
	if n := logs.FilterMessage("gratuitous ARP for the VIPs failed").Len(); n < 1 {
		t.Errorf("%d failures logged", n)
	}
}
