package agent

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"vec/agent/wire"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct{ at time.Time }

func (c *fakeClock) now() time.Time          { return c.at }
func (c *fakeClock) advance(d time.Duration) { c.at = c.at.Add(d) }

// witnessTest is a Witness with a fake clock and its logs observed.
type witnessTest struct {
	w     *Witness
	clock *fakeClock
	logs  *observer.ObservedLogs
}

// newWitnessTest starts a Witness with maxLease; unless quiet, the clock is
// moved past its quiet period.
func newWitnessTest(t *testing.T, maxLease time.Duration, quiet bool) *witnessTest {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	clock := &fakeClock{at: time.Unix(1_700_000_000, 0)}
	w, err := NewWitness(maxLease, zap.New(core), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	if !quiet {
		clock.advance(maxLease)
	}
	return &witnessTest{w: w, clock: clock, logs: logs}
}

func (wt *witnessTest) acquire(t *testing.T, gateway string, term uint64, ms int64) wire.LeaseReply {
	t.Helper()
	rep, err := wt.w.Lease(wire.LeaseRequest{Gateway: gateway, Term: term, DurationMs: ms})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (wt *witnessTest) release(t *testing.T, gateway string, term uint64) wire.LeaseReply {
	t.Helper()
	rep, err := wt.w.Lease(wire.LeaseRequest{Gateway: gateway, Term: term, Release: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func expectLease(t *testing.T, what string, got, want wire.LeaseReply) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %+v, want %+v", what, got, want)
	}
}

func TestWitnessFirstGrant(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	expectLease(t, "first acquire", wt.acquire(t, "gw1", 1, 1500),
		wire.LeaseReply{Granted: true, Term: 1, Holder: "gw1", RemainingMs: 1500})
	wt.clock.advance(400 * time.Millisecond)
	expectLease(t, "another gateway, later", wt.acquire(t, "gw2", 2, 1500),
		wire.LeaseReply{Term: 1, Holder: "gw1", RemainingMs: 1100})
}

func TestWitnessRenewal(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 1, 1000)
	wt.clock.advance(800 * time.Millisecond)
	expectLease(t, "renewal", wt.acquire(t, "gw1", 1, 1000),
		wire.LeaseReply{Granted: true, Term: 1, Holder: "gw1", RemainingMs: 1000})
	// Past the first lease's end, the renewed one still holds.
	wt.clock.advance(900 * time.Millisecond)
	expectLease(t, "after the first lease's end", wt.acquire(t, "gw2", 2, 1000),
		wire.LeaseReply{Term: 1, Holder: "gw1", RemainingMs: 100})
	// Renewing with a higher term raises the term.
	expectLease(t, "renewal with a new term", wt.acquire(t, "gw1", 3, 1000),
		wire.LeaseReply{Granted: true, Term: 3, Holder: "gw1", RemainingMs: 1000})
}

func TestWitnessRefusesWhileAnotherHolds(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 1, 1000)
	for _, term := range []uint64{1, 2, 100} {
		expectLease(t, "gw2 with a live lease held by gw1", wt.acquire(t, "gw2", term, 1000),
			wire.LeaseReply{Term: 1, Holder: "gw1", RemainingMs: 1000})
	}
	// The refusals did not raise the term: gw1 still renews with term 1.
	wt.clock.advance(500 * time.Millisecond)
	expectLease(t, "gw1 renews its term", wt.acquire(t, "gw1", 1, 1000),
		wire.LeaseReply{Granted: true, Term: 1, Holder: "gw1", RemainingMs: 1000})
}

func TestWitnessGrantsAfterExpiry(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 1, 1000)
	wt.clock.advance(time.Second - time.Millisecond)
	expectLease(t, "1 ms before the end", wt.acquire(t, "gw2", 2, 1000),
		wire.LeaseReply{Term: 1, Holder: "gw1", RemainingMs: 1})
	wt.clock.advance(time.Millisecond)
	expectLease(t, "at the end", wt.acquire(t, "gw2", 2, 1000),
		wire.LeaseReply{Granted: true, Term: 2, Holder: "gw2", RemainingMs: 1000})
	// The former holder's old term is now below the highest granted.
	expectLease(t, "gw1 with its old term", wt.acquire(t, "gw1", 1, 1000),
		wire.LeaseReply{Term: 2, Holder: "gw2", RemainingMs: 1000})
}

func TestWitnessRefusesLowerTerm(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 5, 1000)
	expectLease(t, "holder with a lower term", wt.acquire(t, "gw1", 4, 1000),
		wire.LeaseReply{Term: 5, Holder: "gw1", RemainingMs: 1000})
	wt.clock.advance(time.Second)
	expectLease(t, "another gateway with a lower term, no lease live", wt.acquire(t, "gw2", 4, 1000),
		wire.LeaseReply{Term: 5})
	expectLease(t, "the same term, no lease live", wt.acquire(t, "gw2", 5, 1000),
		wire.LeaseReply{Granted: true, Term: 5, Holder: "gw2", RemainingMs: 1000})
}

func TestWitnessRelease(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 3, 2000)
	wt.clock.advance(100 * time.Millisecond)
	expectLease(t, "release", wt.release(t, "gw1", 3), wire.LeaseReply{Term: 3})
	// Another gateway gets the lease at once, without waiting for the end.
	expectLease(t, "next gateway", wt.acquire(t, "gw2", 3, 2000),
		wire.LeaseReply{Granted: true, Term: 3, Holder: "gw2", RemainingMs: 2000})
}

func TestWitnessReleaseByNonHolderIgnored(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	wt.acquire(t, "gw1", 3, 2000)
	held := wire.LeaseReply{Term: 3, Holder: "gw1", RemainingMs: 2000}
	expectLease(t, "release by another gateway", wt.release(t, "gw2", 3), held)
	expectLease(t, "release by the holder for another term", wt.release(t, "gw1", 2), held)
	expectLease(t, "release by the holder for a higher term", wt.release(t, "gw1", 4), held)
	expectLease(t, "acquire after the ignored releases", wt.acquire(t, "gw2", 4, 2000), held)
}

func TestWitnessQuietPeriodAfterStart(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, true)
	expectLease(t, "at start", wt.acquire(t, "gw1", 1, 1000), wire.LeaseReply{})
	wt.clock.advance(2*time.Second - time.Millisecond)
	expectLease(t, "1 ms before the quiet period ends", wt.acquire(t, "gw1", 7, 1000), wire.LeaseReply{})
	wt.clock.advance(time.Millisecond)
	expectLease(t, "after the quiet period", wt.acquire(t, "gw1", 1, 1000),
		wire.LeaseReply{Granted: true, Term: 1, Holder: "gw1", RemainingMs: 1000})
}

func TestWitnessCapsDuration(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	expectLease(t, "an hour asked for", wt.acquire(t, "gw1", 1, 3_600_000),
		wire.LeaseReply{Granted: true, Term: 1, Holder: "gw1", RemainingMs: 2000})
	wt.clock.advance(2 * time.Second)
	expectLease(t, "after the cap", wt.acquire(t, "gw2", 2, 1<<62),
		wire.LeaseReply{Granted: true, Term: 2, Holder: "gw2", RemainingMs: 2000})
}

// TestWitnessLogs: new holders and refusals are logged at debug; renewals
// are not logged; nothing is logged at info or above.
func TestWitnessLogs(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, true)
	wt.acquire(t, "gw1", 1, 1000) // refused: quiet period
	wt.clock.advance(2 * time.Second)
	wt.acquire(t, "gw1", 1, 1000) // granted
	for range 5 {
		wt.clock.advance(100 * time.Millisecond)
		wt.acquire(t, "gw1", 1, 1000) // renewals
	}
	wt.acquire(t, "gw2", 2, 1000) // refused: held
	wt.release(t, "gw1", 1)       // released

	var got []string
	for _, e := range wt.logs.All() {
		if e.Level != zapcore.DebugLevel {
			t.Errorf("logged at %s: %s", e.Level, e.Message)
		}
		reason, _ := e.ContextMap()["reason"].(string)
		got = append(got, strings.TrimSpace(e.Message+" "+reason))
	}
	want := []string{"lease refused quiet period after start", "lease granted",
		"lease refused another gateway holds a live lease", "lease released"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWitnessRejectsMalformedRequests(t *testing.T) {
	wt := newWitnessTest(t, 2*time.Second, false)
	for _, c := range []struct {
		req  wire.LeaseRequest
		want string
	}{
		{wire.LeaseRequest{Term: 1, DurationMs: 1000}, `gateway ""`},
		{wire.LeaseRequest{Gateway: "gw 1", Term: 1, DurationMs: 1000}, `gateway "gw 1"`},
		{wire.LeaseRequest{Gateway: strings.Repeat("g", 256), Term: 1, DurationMs: 1000}, "1 to 255"},
		{wire.LeaseRequest{Gateway: "gw1", DurationMs: 1000}, "term must be at least 1"},
		{wire.LeaseRequest{Gateway: "gw1", Term: 1}, "duration_ms 0"},
		{wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: -5}, "duration_ms -5"},
		{wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: -5, Release: true}, "duration_ms -5"},
	} {
		if _, err := wt.w.Lease(c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.req, err, c.want)
		}
	}
	// A release needs no duration.
	if _, err := wt.w.Lease(wire.LeaseRequest{Gateway: "gw1", Term: 1, Release: true}); err != nil {
		t.Errorf("release without duration: %v", err)
	}
}

func TestNewWitnessLimits(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, LimitMaxLease + time.Millisecond} {
		if _, err := NewWitness(d, zap.NewNop(), nil); err == nil {
			t.Errorf("max lease %s accepted", d)
		}
	}
}
