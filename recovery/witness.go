package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/client"
	"vec/agent/wire"
)

// Witnesses are the lease grantors of the split-brain rule (the servers'
// agents): a gateway forwards only while a majority of them hold a lease
// for its term (docs/recovery.md).
type Witnesses interface {
	// Acquire asks every witness for a lease for term lasting d (or renews
	// it) and returns when all have answered or ctx ends.
	Acquire(ctx context.Context, term uint64, d time.Duration) LeaseOutcome
	// Release ends this gateway's leases for term, best effort.
	Release(ctx context.Context, term uint64)
}

// LeaseOutcome is the result of one Acquire.
type LeaseOutcome struct {
	// Granted witnesses now hold a lease for the term, out of Asked (all
	// configured witnesses, answering or not).
	Granted, Asked int
	// Failed witnesses gave no usable answer (down, timed out, refused
	// the request, or a reply that did not check out).
	Failed int
	// HighestTerm is the highest term any answering witness has granted,
	// and HighestHolder the live holder that witness named ("" for none).
	HighestTerm   uint64
	HighestHolder string
	// Lease is how long from SentAt a majority holds the lease: the
	// majority-th longest duration granted (a witness may grant less
	// than asked). 0 without a majority.
	Lease time.Duration
	// SentAt is taken before the first request is sent: every witness's
	// lease runs from a later moment, so counting from SentAt this
	// gateway's view of its lease ends before theirs.
	SentAt time.Time
}

// Majority reports whether more than half of the witnesses granted.
func (o LeaseOutcome) Majority() bool { return o.Asked > 0 && o.Granted > o.Asked/2 }

// AgentWitnesses are Witnesses over the agents' lease endpoint
// (agent/client). It is safe for concurrent use.
type AgentWitnesses struct {
	client  *client.Client
	gateway string
	targets []client.Target
	log     *zap.Logger
	now     func() time.Time

	mu      sync.Mutex
	limiter logLimiter
}

// agentErrorLogEvery bounds the log lines about one failing agent.
const agentErrorLogEvery = 10 * time.Second

// NewAgentWitnesses returns witnesses asking targets (each with its own key,
// or the client's) for leases in the name of gateway (this gateway's node
// name).
func NewAgentWitnesses(c *client.Client, gateway string, targets []client.Target, log *zap.Logger) (*AgentWitnesses, error) {
	switch {
	case c == nil:
		return nil, errors.New("witnesses: no agent client")
	case log == nil:
		return nil, errors.New("witnesses: logger is required")
	case len(targets) == 0:
		return nil, errors.New("witnesses: no agent (without agents, pass no Witnesses at all)")
	}
	if err := checkNodeName(gateway); err != nil {
		return nil, fmt.Errorf("witnesses: gateway: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if t.Name == "" || seen[t.Name] {
			return nil, fmt.Errorf("witnesses: agent name %q empty or repeated", t.Name)
		}
		seen[t.Name] = true
	}
	return &AgentWitnesses{
		client:  c,
		gateway: gateway,
		targets: slices.Clone(targets),
		log:     log,
		now:     time.Now,
		limiter: logLimiter{every: agentErrorLogEvery},
	}, nil
}

// Acquire sends the lease request to every agent in parallel and returns
// as soon as a majority has granted it, or when every agent has answered
// or ctx ends. Waiting for the rest would let one agent that hangs (a
// frozen server) hold every renewal until its deadline and make the lease
// lapse before the renewal is counted; the answers after a majority add
// nothing to it. Those still outstanding run on to ctx's deadline (not its
// cancellation), and their failures are logged.
func (w *AgentWitnesses) Acquire(ctx context.Context, term uint64, d time.Duration) LeaseOutcome {
	req := wire.LeaseRequest{Gateway: w.gateway, Term: term, DurationMs: d.Milliseconds()}
	sent := w.now()
	// The requests outlive this call (not its deadline): an agent that
	// answers a little after the majority still renews its lease, so
	// the lease does not lapse at the slowest healthy agent, where a
	// candidate could then take a grant.
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if deadline, ok := ctx.Deadline(); ok {
		reqCtx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	answers := make(chan client.LeaseResult, len(w.targets))
	for _, t := range w.targets {
		go func() {
			start := w.now()
			reply, err := w.client.Lease(reqCtx, t, req)
			answers <- client.LeaseResult{Target: t, Reply: reply, Err: err, Elapsed: w.now().Sub(start)}
		}()
	}
	results := make([]client.LeaseResult, 0, len(w.targets))
	granted := 0
	for granted <= len(w.targets)/2 && len(results) < len(w.targets) {
		r := <-answers
		results = append(results, r)
		if r.Err == nil && grants(r.Reply, req) {
			granted++
		}
	}
	w.logFailures("lease", results)
	if late := len(w.targets) - len(results); late > 0 {
		go func() {
			defer cancel()
			var rest []client.LeaseResult
			for range late {
				rest = append(rest, <-answers)
			}
			w.logFailures("lease", rest)
		}()
	} else {
		cancel()
	}
	// The abandoned ones were asked too: a majority is of all witnesses.
	return tallyLeases(results, req, sent, len(w.targets))
}

// Release ends this gateway's leases for term on every agent.
func (w *AgentWitnesses) Release(ctx context.Context, term uint64) {
	req := wire.LeaseRequest{Gateway: w.gateway, Term: term, Release: true}
	w.logFailures("lease release", w.client.LeaseAll(ctx, w.targets, req))
}

func (w *AgentWitnesses) logFailures(what string, results []client.LeaseResult) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		if ok, suppressed := w.limiter.allow(r.Target.Name, now); ok {
			w.log.Warn("agent did not answer a "+what+" request", zap.String("agent", r.Target.Name),
				zap.Int("suppressed", suppressed), zap.Error(r.Err))
		}
	}
}

// tallyLeases counts the agents' answers to req, sent at sent. A grant
// counts only if it names this gateway and term (the client already
// checks it); its duration is what the agent says remains, at most what
// was asked.
func tallyLeases(results []client.LeaseResult, req wire.LeaseRequest, sent time.Time, asked int) LeaseOutcome {
	out := LeaseOutcome{Asked: asked, SentAt: sent}
	for _, r := range results {
		if r.Err != nil {
			out.Failed++
			continue
		}
		rep := r.Reply
		if rep.Term > out.HighestTerm || (rep.Term == out.HighestTerm && out.HighestHolder == "") {
			out.HighestTerm, out.HighestHolder = rep.Term, rep.Holder
		}
		if grants(rep, req) {
			out.Granted++
		}
	}
	out.Lease = majorityLease(results, req, asked)
	return out
}

// grants reports whether rep grants req: this gateway, this term, time left.
func grants(rep wire.LeaseReply, req wire.LeaseRequest) bool {
	return rep.Granted && rep.Term == req.Term && rep.Holder == req.Gateway && rep.RemainingMs > 0
}

// majorityLease is how long a majority of asked witnesses holds the lease
// granted in results: the majority-th longest grant (a witness may grant
// less than asked).
func majorityLease(results []client.LeaseResult, req wire.LeaseRequest, asked int) time.Duration {
	want := time.Duration(req.DurationMs) * time.Millisecond
	var granted []time.Duration
	for _, r := range results {
		if r.Err == nil && grants(r.Reply, req) {
			granted = append(granted, min(want, time.Duration(r.Reply.RemainingMs)*time.Millisecond))
		}
	}
	if len(granted) <= asked/2 {
		return 0
	}
	slices.Sort(granted)
	slices.Reverse(granted)
	return granted[asked/2]
}

// logLimiter lets one log line per key through every period and counts
// those it held back.
type logLimiter struct {
	every      time.Duration
	last       map[string]time.Time
	suppressed map[string]int
}

// allow reports whether a line about key may be logged at now, and how many
// were held back since the last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	if l.last == nil {
		l.last, l.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if last, ok := l.last[key]; ok && now.Sub(last) < l.every {
		l.suppressed[key]++
		return false, 0
	}
	n := l.suppressed[key]
	l.last[key], l.suppressed[key] = now, 0
	return true, n
}
