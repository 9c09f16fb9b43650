package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"vec/internal/testenv"
)

// at is a fake clock reading: 1 June 2024 at hh:mm in the local time zone.
func at(hh, mm int) time.Time {
	return time.Date(2024, 6, 1, hh, mm, 0, 0, time.Local)
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustNew(t *testing.T, specs ...Spec) *Set {
	t.Helper()
	s, err := New(specs, zaptest.NewLogger(t), fixedClock(at(12, 0)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// holding names the rules that hold at now.
func holding(s *Set, now time.Time) string {
	var names []string
	for _, h := range s.Holding(now) {
		names = append(names, h.Rule)
	}
	return strings.Join(names, ",")
}

func TestWindow(t *testing.T) {
	s := mustNew(t,
		Spec{Name: "day", Type: "window", Servers: []string{"s1"}, From: "09:00", To: "17:00"},
		Spec{Name: "night", Type: "window", Servers: []string{"s2"}, From: "22:00", To: "02:00"},
	)
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{at(12, 0), "day"},
		{at(9, 0), "day"}, // from is included
		{at(8, 59), ""},
		{at(17, 0), ""}, // to is excluded
		{at(16, 59), "day"},
		{at(23, 30), "night"},
		{at(1, 0), "night"},
		{at(0, 0), "night"},
		{at(22, 0), "night"},
		{at(21, 59), ""},
		{at(2, 0), ""},
		{at(1, 59).Add(59 * time.Second), "night"},
	} {
		if got := holding(s, c.now); got != c.want {
			t.Errorf("at %s: holding %q, want %q", c.now.Format("15:04:05"), got, c.want)
		}
	}
	// Windows are local time: the same instant written in another zone reads the same.
	if got := holding(s, at(12, 0).UTC()); got != "day" {
		t.Errorf("12:00 local given in UTC: holding %q, want day", got)
	}
}

func TestBlock(t *testing.T) {
	s := mustNew(t, Spec{Name: "maint", Type: "block", Servers: []string{"s1", "s3"}, Weight: 0,
		From: "2024-06-01T02:00:00Z", To: "2024-06-01T06:00:00+02:00"}) // 02:00Z .. 04:00Z
	utc := func(hh, mm int) time.Time { return time.Date(2024, 6, 1, hh, mm, 0, 0, time.UTC) }
	for _, c := range []struct {
		now  time.Time
		want bool
	}{
		{utc(1, 59), false},
		{utc(2, 0), true},
		{utc(3, 0), true},
		{utc(3, 59), true},
		{utc(4, 0), false},
		{utc(5, 0), false},
		{utc(3, 0).AddDate(0, 0, 1), false}, // a block does not repeat
	} {
		hs := s.Holding(c.now)
		if got := len(hs) == 1; got != c.want {
			t.Errorf("at %s: holds %v, want %v", c.now, got, c.want)
		}
		if len(hs) == 1 && fmt.Sprint(hs[0]) != "{maint [s1 s3] 0}" {
			t.Errorf("hold %+v, want maint on s1 and s3 at weight 0", hs[0])
		}
	}
}

func TestAlways(t *testing.T) {
	s := mustNew(t, Spec{Name: "drain", Type: "always", Servers: []string{"s2"}, Weight: 3})
	for _, now := range []time.Time{at(0, 0), at(12, 0), at(23, 59), {}} {
		hs := s.Holding(now)
		if len(hs) != 1 || fmt.Sprint(hs[0]) != "{drain [s2] 3}" {
			t.Errorf("at %v: %+v, want drain holding s2 at weight 3", now, hs)
		}
	}
	// Holding hands out copies: changing one changes nothing in the Set.
	s.Holding(at(1, 0))[0].Servers[0] = "changed"
	if got := s.Holding(at(1, 0))[0].Servers[0]; got != "s2" {
		t.Errorf("servers changed through a Hold to %q", got)
	}
}

func TestScript(t *testing.T) {
	yes := testenv.WriteScript(t, "yes.sh", "exit 0\n")
	no := testenv.WriteScript(t, "no.sh", "echo busy\nexit 1\n")
	slow := testenv.WriteScript(t, "slow.sh", "sleep 5\n")
	missing := filepath.Join(t.TempDir(), "missing")
	s := mustNew(t,
		Spec{Name: "yes", Type: "script", Servers: []string{"s1"}, Command: []string{yes}},
		Spec{Name: "no", Type: "script", Servers: []string{"s1"}, Command: []string{no}, Interval: time.Hour},
		Spec{Name: "slow", Type: "script", Servers: []string{"s1"}, Command: []string{slow}, Interval: 200 * time.Millisecond},
		Spec{Name: "missing", Type: "script", Servers: []string{"s1"}, Command: []string{missing, "arg"}},
	)
	if got := fmt.Sprint(s.Status(at(12, 0))); got != "[{yes script false } {no script false } {slow script false } {missing script false }]" {
		t.Errorf("before any run: %s, want no rule holding", got)
	}
	var timeouts []time.Duration
	for _, r := range s.rules {
		timeouts = append(timeouts, r.timeout)
	}
	if fmt.Sprint(timeouts) != "[10s 10s 200ms 10s]" {
		t.Errorf("timeouts %v, want min(interval, 10s) with interval 10s by default", timeouts)
	}

	start := time.Now()
	for _, r := range s.rules {
		s.runOnce(context.Background(), r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("running the scripts took %v: the slow one must be killed at 200ms", took)
	}
	st := s.Status(at(12, 0))
	want := []struct {
		holds bool
		err   string
	}{{true, ""}, {false, ""}, {false, "timed out after 200ms"}, {false, "no such file or directory"}}
	for i, w := range want {
		if st[i].Holds != w.holds || (w.err == "") != (st[i].LastError == "") || !strings.Contains(st[i].LastError, w.err) {
			t.Errorf("%s: holds %v, error %q; want %v, %q", st[i].Name, st[i].Holds, st[i].LastError, w.holds, w.err)
		}
	}
	if got := holding(s, at(12, 0)); got != "yes" {
		t.Errorf("holding %q, want yes", got)
	}
}

func TestScriptStartStop(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "flag")
	check := testenv.WriteScript(t, "check.sh", `[ -e "$1" ]`+"\n")
	s := mustNew(t, Spec{Name: "flag", Type: "script", Servers: []string{"s1"}, Weight: 0,
		Command: []string{check, flag}, Interval: 100 * time.Millisecond})
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for s.Status(time.Now())[0].Holds != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := s.Status(time.Now())[0]; got.Holds != want || got.LastError != "" {
			t.Fatalf("status %+v, want holds %v without error", got, want)
		}
	}
	s.Start()
	s.Start() // a second Start changes nothing
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(true)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitFor(false)
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(true)
	s.Stop()
	s.Stop() // a second Stop changes nothing
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if !s.Status(time.Now())[0].Holds {
		t.Errorf("after Stop the script ran again, or its last result was lost")
	}
}

func TestHoldingLogsChanges(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := New([]Spec{{Name: "night", Type: "window", Servers: []string{"s2"}, From: "22:00", To: "02:00"}},
		zap.New(core), fixedClock(at(12, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{at(21, 0), at(22, 0), at(23, 0), at(2, 0), at(3, 0)} {
		s.Holding(now)
	}
	// Status looks without logging.
	s.Status(at(23, 0))
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Message+" "+e.ContextMap()["rule"].(string))
	}
	if fmt.Sprint(got) != "[rule holds night rule no longer holds night]" {
		t.Errorf("logs %q, want one when the rule starts holding and one when it stops", got)
	}
}

func TestEndedBlockWarns(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	spec := Spec{Name: "old", Type: "block", Servers: []string{"s1"}, From: "2024-05-01T00:00:00Z", To: "2024-05-02T00:00:00Z"}
	if _, err := New([]Spec{spec}, zap.New(core), fixedClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("a block that has not ended logged %v", logs.All())
	}
	if _, err := New([]Spec{spec}, zap.New(core), fixedClock(time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 1 || logs.All()[0].ContextMap()["rule"] != "old" {
		t.Errorf("a block that has ended: want one warning naming it, got %v", logs.All())
	}
}

func TestNewRejects(t *testing.T) {
	srv := []string{"s1"}
	for _, c := range []struct {
		specs []Spec
		want  []string
	}{
		{[]Spec{{Type: "always", Servers: srv}}, []string{"rule 1: name is empty"}},
		{[]Spec{{Name: "a", Type: "always", Servers: srv}, {Name: "a", Type: "always", Servers: srv}}, []string{`rule "a": name used twice`}},
		{[]Spec{{Name: "a", Type: "monthly", Servers: srv}}, []string{`rule "a": type "monthly": want window, block, always or script`}},
		{[]Spec{{Name: "a", Type: "always"}}, []string{`rule "a": servers: none listed`}},
		{[]Spec{{Name: "a", Type: "always", Servers: []string{"s1", "", "s1"}}}, []string{`rule "a": servers[1] is empty`, `rule "a": servers: "s1" listed twice`}},
		{[]Spec{{Name: "a", Type: "always", Servers: srv, Weight: -1}}, []string{`rule "a": weight -1 is negative`}},
		{[]Spec{{Name: "a", Type: "window", Servers: srv, From: "2:00", To: "04:00"}}, []string{`rule "a": from: "2:00" is not HH:MM (00:00 to 23:59)`}},
		{[]Spec{{Name: "a", Type: "window", Servers: srv, From: "02:00", To: "24:00"}}, []string{`rule "a": to: "24:00" is not HH:MM`}},
		{[]Spec{{Name: "a", Type: "window", Servers: srv, From: "02:00"}}, []string{`rule "a": to: "" is not HH:MM`}},
		{[]Spec{{Name: "a", Type: "window", Servers: srv, From: "02:00", To: "02:00"}}, []string{`rule "a": from and to are both 02:00`}},
		{[]Spec{{Name: "a", Type: "block", Servers: srv, From: "02:00", To: "2024-06-01T04:00:00Z"}}, []string{`rule "a": from: "02:00" is not an RFC 3339 time`}},
		{[]Spec{{Name: "a", Type: "block", Servers: srv, From: "2024-06-01T04:00:00Z", To: "2024-06-01"}}, []string{`rule "a": to: "2024-06-01" is not an RFC 3339 time`}},
		{[]Spec{{Name: "a", Type: "block", Servers: srv, From: "2024-06-01T04:00:00Z", To: "2024-06-01T06:00:00+02:00"}}, []string{`rule "a": to 2024-06-01T06:00:00+02:00 is not after from 2024-06-01T04:00:00Z`}},
		{[]Spec{{Name: "a", Type: "always", Servers: srv, From: "02:00"}}, []string{`rule "a": from and to are only for types window and block, not "always"`}},
		{[]Spec{{Name: "a", Type: "window", Servers: srv, From: "02:00", To: "03:00", Command: []string{"x"}}}, []string{`rule "a": command is only for type script, not "window"`}},
		{[]Spec{{Name: "a", Type: "always", Servers: srv, Interval: time.Second}}, []string{`rule "a": interval is only for type script, not "always"`}},
		{[]Spec{{Name: "a", Type: "script", Servers: srv}}, []string{`rule "a": command: type script needs one`}},
		{[]Spec{{Name: "a", Type: "script", Servers: srv, Command: []string{"x"}, Interval: time.Millisecond}}, []string{`rule "a": interval 1ms is shorter than 100ms`}},
		{[]Spec{{Name: "a", Type: "script", Servers: srv, Command: []string{"x"}, Interval: -time.Second}}, []string{`rule "a": interval -1s is shorter than 100ms`}},
		// Every problem of every rule is reported at once.
		{[]Spec{{Name: "a", Type: "always"}, {Name: "b", Type: "always", Servers: srv, Weight: -2}},
			[]string{`rule "a": servers: none listed`, `rule "b": weight -2 is negative`}},
	} {
		_, err := New(c.specs, zap.NewNop(), nil)
		if err == nil {
			t.Errorf("New(%+v) accepted", c.specs)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New(%+v): error %q, want it to say %q", c.specs, err, w)
			}
		}
	}
}
