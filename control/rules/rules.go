package rules

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"vec/control/periodic"
)

const (
	defaultScriptInterval = 10 * time.Second
	// minScriptInterval keeps a mistyped interval from forking without pause.
	minScriptInterval = 100 * time.Millisecond
	maxScriptTimeout  = 10 * time.Second
	// waitDelay bounds how long a killed script is waited for.
	waitDelay = 100 * time.Millisecond
)

// Spec is one rule's configuration.
type Spec struct {
	Name, Type string   // Type: window, block, always or script
	Servers    []string // names of the servers the rule holds
	From, To   string   // window: "HH:MM" local time; block: RFC 3339
	Weight     int      // the weight the servers get while the rule holds
	Command    []string // script: argv, run without a shell
	Interval   time.Duration
}

// Hold is a rule that holds: its servers get Weight.
type Hold struct {
	Rule    string
	Servers []string
	Weight  int
}

// Status is a rule's state at some time.
type Status struct {
	Name, Type string
	Holds      bool
	LastError  string // script: why the last run gave no answer ("" if it did)
}

// Set is a validated set of rules. Its methods are safe for concurrent use.
type Set struct {
	rules []*rule
	log   *zap.Logger

	mu sync.Mutex // guards the rules' script results and held

	scripts periodic.Group
}

type rule struct {
	Spec
	from, to   time.Duration // window: offsets from local midnight
	start, end time.Time     // block
	timeout    time.Duration // script

	// Guarded by Set.mu.
	scriptHolds bool   // script: whether the last run exited 0
	lastErr     string // script
	held        bool   // what Holding last found, to log changes
}

// New validates specs and returns their Set, whose scripts have not started.
// now is the clock New judges block rules by (nil means time.Now): a block
// that has already ended is accepted with a warning.
func New(specs []Spec, log *zap.Logger, now func() time.Time) (*Set, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	var errs []error
	names := make(map[string]bool, len(specs))
	s := &Set{log: log}
	for i, sp := range specs {
		if sp.Name != "" && names[sp.Name] {
			errs = append(errs, fmt.Errorf("rule %q: name used twice", sp.Name))
			continue
		}
		names[sp.Name] = true
		r, err := newRule(i, sp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t := now()
	for _, r := range s.rules {
		if r.Type == "block" && !t.Before(r.end) {
			log.Warn("block rule has already ended and will not hold", zap.String("rule", r.Name),
				zap.Time("to", r.end))
		}
	}
	return s, nil
}

// newRule validates the i-th spec, naming the rule and field of every problem.
func newRule(i int, sp Spec) (*rule, error) {
	r := &rule{Spec: sp}
	r.Servers = slices.Clone(sp.Servers)
	r.Command = slices.Clone(sp.Command)
	var errs []error
	bad := func(format string, args ...any) {
		name := fmt.Sprintf("rule %q", sp.Name)
		if sp.Name == "" {
			name = fmt.Sprintf("rule %d", i+1)
		}
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if sp.Name == "" {
		bad("name is empty")
	}
	if len(sp.Servers) == 0 {
		bad("servers: none listed")
	}
	seen := make(map[string]bool, len(sp.Servers))
	for j, name := range sp.Servers {
		switch {
		case name == "":
			bad("servers[%d] is empty", j)
		case seen[name]:
			bad("servers: %q listed twice", name)
		}
		seen[name] = true
	}
	if sp.Weight < 0 {
		bad("weight %d is negative", sp.Weight)
	}
	timed := sp.Type == "window" || sp.Type == "block"
	if !timed && (sp.From != "" || sp.To != "") {
		bad("from and to are only for types window and block, not %q", sp.Type)
	}
	if sp.Type != "script" && len(sp.Command) > 0 {
		bad("command is only for type script, not %q", sp.Type)
	}
	if sp.Type != "script" && sp.Interval != 0 {
		bad("interval is only for type script, not %q", sp.Type)
	}

	switch sp.Type {
	case "window":
		var ferr, terr error
		r.from, ferr = parseClock(sp.From)
		r.to, terr = parseClock(sp.To)
		switch {
		case ferr != nil:
			bad("from: %v", ferr)
		case terr != nil:
			bad("to: %v", terr)
		case r.from == r.to:
			bad("from and to are both %s: a window needs two different times (type always holds all day)", sp.From)
		}
	case "block":
		var ferr, terr error
		r.start, ferr = time.Parse(time.RFC3339, sp.From)
		r.end, terr = time.Parse(time.RFC3339, sp.To)
		switch {
		case ferr != nil:
			bad("from: %q is not an RFC 3339 time (2006-01-02T15:04:05+07:00)", sp.From)
		case terr != nil:
			bad("to: %q is not an RFC 3339 time (2006-01-02T15:04:05+07:00)", sp.To)
		case !r.end.After(r.start):
			bad("to %s is not after from %s", sp.To, sp.From)
		}
	case "always":
	case "script":
		if len(sp.Command) == 0 || sp.Command[0] == "" {
			bad("command: type script needs one")
		}
		if sp.Interval == 0 {
			r.Interval = defaultScriptInterval
		}
		if r.Interval < minScriptInterval {
			bad("interval %v is shorter than %v", sp.Interval, minScriptInterval)
		}
		r.timeout = min(r.Interval, maxScriptTimeout)
	default:
		bad("type %q: want window, block, always or script", sp.Type)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// parseClock reads "HH:MM" as an offset from midnight.
func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != len("15:04") {
		return 0, fmt.Errorf("%q is not HH:MM (00:00 to 23:59)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// holds says whether r holds at now; s.mu must be held (for scripts).
func (r *rule) holds(now time.Time) bool {
	switch r.Type {
	case "window":
		local := now.Local()
		h, m, sec := local.Clock()
		t := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
			time.Duration(sec)*time.Second + time.Duration(local.Nanosecond())
		if r.from < r.to {
			return r.from <= t && t < r.to
		}
		return t >= r.from || t < r.to // across midnight
	case "block":
		return !now.Before(r.start) && now.Before(r.end)
	case "always":
		return true
	default: // script
		return r.scriptHolds
	}
}

// Holding returns the rules that hold at now, in the order they were given,
// and logs each rule that started or stopped holding since the last call.
func (s *Set) Holding(now time.Time) []Hold {
	var out []Hold
	var changed []*rule
	s.mu.Lock()
	for _, r := range s.rules {
		h := r.holds(now)
		if h != r.held {
			r.held = h
			changed = append(changed, r)
		}
		if h {
			out = append(out, Hold{Rule: r.Name, Servers: slices.Clone(r.Servers), Weight: r.Weight})
		}
	}
	s.mu.Unlock()
	for _, r := range changed {
		msg := "rule holds"
		if !r.held {
			msg = "rule no longer holds"
		}
		s.log.Info(msg, zap.String("rule", r.Name), zap.String("type", r.Type),
			zap.Strings("servers", r.Servers), zap.Int("weight", r.Weight))
	}
	return out
}

// Status returns every rule's state at now, in the order they were given.
func (s *Set) Status(now time.Time) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.rules))
	for i, r := range s.rules {
		out[i] = Status{Name: r.Name, Type: r.Type, Holds: r.holds(now), LastError: r.lastErr}
	}
	return out
}

// Start runs every script rule at once and then every Interval. Starting a
// started Set does nothing; a stopped one may start again and keeps its
// scripts' last results.
func (s *Set) Start() {
	var jobs []periodic.Job
	for _, r := range s.rules {
		if r.Type == "script" {
			jobs = append(jobs, periodic.Job{Interval: r.Interval, Run: func(ctx context.Context) { s.runOnce(ctx, r) }})
		}
	}
	s.scripts.Start(jobs)
}

// Stop kills the scripts that are running and returns once they have ended;
// a run cut short by Stop leaves the last result in place.
func (s *Set) Stop() {
	s.scripts.Stop()
}

// runOnce runs r's script once, bounded by its timeout, and keeps the result
// unless ctx ended (Stop) meanwhile.
func (s *Set) runOnce(ctx context.Context, r *rule) {
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, r.Command[0], r.Command[1:]...)
	// Its own process group, so that a timeout kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return
	}
	holds, msg := false, ""
	var exitErr *exec.ExitError
	switch {
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		msg = fmt.Sprintf("timed out after %v", r.timeout)
	case err == nil:
		holds = true
	case errors.As(err, &exitErr) && exitErr.Exited():
		// A non-zero exit status is an answer: the rule does not hold.
	default:
		msg = err.Error() // it could not start, or a signal ended it
	}
	s.mu.Lock()
	prev := r.lastErr
	r.scriptHolds, r.lastErr = holds, msg
	s.mu.Unlock()
	switch {
	case msg != "" && msg != prev:
		s.log.Warn("rule script failed; the rule does not hold", zap.String("rule", r.Name),
			zap.Strings("command", r.Command), zap.String("error", msg))
	case msg == "" && prev != "":
		s.log.Info("rule script answers again", zap.String("rule", r.Name), zap.Bool("holds", holds))
	}
}
