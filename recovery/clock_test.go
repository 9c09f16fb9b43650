package recovery

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when Advance is called. Timer
// callbacks run synchronously inside Advance, in time order (ties in the
// order they were set), so a test is single-threaded and repeatable.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*fakeTimer
	// afterEach, if set, runs after every timer callback (invariant
	// checks between events).
	afterEach func()
}

type fakeTimer struct {
	c   *fakeClock
	at  time.Time
	seq uint64
	f   func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock d forward, firing every timer due on the way. A
// callback may itself call Advance (a controller's Activate that takes a
// while, during which everything else goes on); the outer call then ends
// where the inner one did if that is later.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		next := -1
		for i, t := range c.timers {
			if !t.at.After(end) && (next < 0 || t.at.Before(c.timers[next].at) ||
				(t.at.Equal(c.timers[next].at) && t.seq < c.timers[next].seq)) {
				next = i
			}
		}
		if next < 0 {
			if c.now.Before(end) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		t := c.timers[next]
		c.timers = append(c.timers[:next], c.timers[next+1:]...)
		c.now = t.at
		check := c.afterEach
		c.mu.Unlock()
		t.f()
		if check != nil {
			check()
		}
	}
}

func TestHAFakeClockFiresInOrder(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	var got []int
	c.AfterFunc(30*time.Millisecond, func() { got = append(got, 3) })
	c.AfterFunc(10*time.Millisecond, func() {
		got = append(got, 1)
		c.AfterFunc(10*time.Millisecond, func() { got = append(got, 2) }) // same instant as the next: set later, runs later
	})
	c.AfterFunc(20*time.Millisecond, func() { got = append(got, 20) })
	stopped := c.AfterFunc(15*time.Millisecond, func() { got = append(got, 99) })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a pending timer must report true once")
	}
	c.Advance(25 * time.Millisecond)
	if want := []int{1, 20, 2}; !equalInts(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if c.Now().Sub(start) != 25*time.Millisecond {
		t.Fatalf("clock at %v after Advance(25ms)", c.Now().Sub(start))
	}
	c.Advance(5 * time.Millisecond)
	if want := []int{1, 20, 2, 3}; !equalInts(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
