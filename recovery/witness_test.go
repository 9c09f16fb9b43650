package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"vec/agent"
	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/metrics"
	"vec/agent/wire"
)

// fakeAgents are witnesses applying the agent's lease rule (the spec's,
// written out here independently of agent.Witness) on a Clock. Their
// answers go through tallyLeases like the real agents'. Safe for
// concurrent use.
type fakeAgents struct {
	clock    Clock
	maxLease time.Duration
	// replyDelay, with advance (the fake clock's), makes an answer reach
	// the gateway that long after the agents decided.
	replyDelay time.Duration
	advance    func(time.Duration)

	mu          sync.Mutex
	agents      []*fakeAgent
	unreachable map[string]map[int]bool // gateway → agents it cannot reach
}

type fakeAgent struct {
	name       string
	term       uint64 // highest term granted
	holder     string
	expires    time.Time
	quietUntil time.Time
}

var errAgentUnreachable = errors.New("agent unreachable")

func newFakeAgents(clock Clock, n int, maxLease time.Duration) *fakeAgents {
	a := &fakeAgents{clock: clock, maxLease: maxLease, unreachable: map[string]map[int]bool{}}
	for i := range n {
		a.agents = append(a.agents, &fakeAgent{name: fmt.Sprintf("s%d", i+1), quietUntil: clock.Now().Add(maxLease)})
	}
	return a
}

// skipQuiet ends the agents' quiet period (they have been up for long).
func (a *fakeAgents) skipQuiet() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ag := range a.agents {
		ag.quietUntil = time.Time{}
	}
}

func (a *fakeAgents) setReachable(gateway string, i int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unreachable[gateway] == nil {
		a.unreachable[gateway] = map[int]bool{}
	}
	a.unreachable[gateway][i] = !ok
}

func (a *fakeAgents) witnesses(gateway string) Witnesses {
	return &fakeWitnesses{set: a, gateway: gateway}
}

func (a *fakeAgents) ask(req wire.LeaseRequest) []client.LeaseResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	results := make([]client.LeaseResult, len(a.agents))
	for i, ag := range a.agents {
		results[i].Target = client.Target{Name: ag.name}
		if a.unreachable[req.Gateway][i] {
			results[i].Err = errAgentUnreachable
			continue
		}
		results[i].Reply = ag.lease(req, now, a.maxLease)
	}
	return results
}

// lease is the agent rule: quiet period after start; release by the holder
// of the term; refuse a lower term, refuse while another gateway holds a
// live lease (the term is not raised); else grant, capped at maxLease.
func (ag *fakeAgent) lease(req wire.LeaseRequest, now time.Time, maxLease time.Duration) wire.LeaseReply {
	live := ag.holder != "" && now.Before(ag.expires)
	granted := false
	switch {
	case req.Release:
		if ag.holder == req.Gateway && ag.term == req.Term {
			ag.holder, ag.expires, live = "", now, false
		}
	case now.Before(ag.quietUntil), req.Term < ag.term, live && ag.holder != req.Gateway:
	default:
		d := min(time.Duration(req.DurationMs)*time.Millisecond, maxLease)
		ag.term, ag.holder, ag.expires, live, granted = req.Term, req.Gateway, now.Add(d), true, true
	}
	rep := wire.LeaseReply{Server: ag.name, Granted: granted, Term: ag.term}
	if live {
		rep.Holder = ag.holder
		rep.RemainingMs = int64((ag.expires.Sub(now) + time.Millisecond - 1) / time.Millisecond)
	}
	return rep
}

type fakeWitnesses struct {
	set     *fakeAgents
	gateway string
}

func (w *fakeWitnesses) Acquire(_ context.Context, term uint64, d time.Duration) LeaseOutcome {
	req := wire.LeaseRequest{Gateway: w.gateway, Term: term, DurationMs: d.Milliseconds()}
	sent := w.set.clock.Now()
	results := w.set.ask(req)
	if w.set.replyDelay > 0 {
		w.set.advance(w.set.replyDelay)
	}
	return tallyLeases(results, req, sent, len(results))
}

func (w *fakeWitnesses) Release(_ context.Context, term uint64) {
	w.set.ask(wire.LeaseRequest{Gateway: w.gateway, Term: term, Release: true})
}

func TestWitnessTally(t *testing.T) {
	req := wire.LeaseRequest{Gateway: "gw1", Term: 7, DurationMs: 300}
	sent := time.Unix(1000, 0)
	grant := func(ms int64) client.LeaseResult {
		return client.LeaseResult{Reply: wire.LeaseReply{Granted: true, Term: 7, Holder: "gw1", RemainingMs: ms}}
	}
	refused := client.LeaseResult{Reply: wire.LeaseReply{Term: 9, Holder: "gw2", RemainingMs: 120}}
	failed := client.LeaseResult{Err: errAgentUnreachable}

	for _, c := range []struct {
		name    string
		results []client.LeaseResult
		want    LeaseOutcome
	}{
		{"all grant", []client.LeaseResult{grant(300), grant(300), grant(300)},
			LeaseOutcome{Granted: 3, Asked: 3, HighestTerm: 7, HighestHolder: "gw1", Lease: 300 * time.Millisecond, SentAt: sent}},
		// The majority holds as long as its second-longest grant.
		{"capped grants", []client.LeaseResult{grant(300), grant(100), grant(200)},
			LeaseOutcome{Granted: 3, Asked: 3, HighestTerm: 7, HighestHolder: "gw1", Lease: 200 * time.Millisecond, SentAt: sent}},
		{"two of three", []client.LeaseResult{grant(300), failed, grant(250)},
			LeaseOutcome{Granted: 2, Asked: 3, Failed: 1, HighestTerm: 7, HighestHolder: "gw1", Lease: 250 * time.Millisecond, SentAt: sent}},
		{"one of three", []client.LeaseResult{grant(300), failed, refused},
			LeaseOutcome{Granted: 1, Asked: 3, Failed: 1, HighestTerm: 9, HighestHolder: "gw2", SentAt: sent}},
		{"two of four is no majority", []client.LeaseResult{grant(300), grant(300), refused, failed},
			LeaseOutcome{Granted: 2, Asked: 4, Failed: 1, HighestTerm: 9, HighestHolder: "gw2", SentAt: sent}},
		// A grant naming another term or gateway, or more time than asked
		// for, counts as what it can be trusted for.
		{"inconsistent grants", []client.LeaseResult{
			{Reply: wire.LeaseReply{Granted: true, Term: 6, Holder: "gw1", RemainingMs: 300}},
			{Reply: wire.LeaseReply{Granted: true, Term: 7, Holder: "gw2", RemainingMs: 300}},
			grant(5000)},
			LeaseOutcome{Granted: 1, Asked: 3, HighestTerm: 7, HighestHolder: "gw2", SentAt: sent}},
	} {
		if got := tallyLeases(c.results, req, sent, len(c.results)); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestWitnessFakeAgentRule(t *testing.T) {
	clock := newFakeClock()
	a := newFakeAgents(clock, 1, time.Second)
	w1, w2 := a.witnesses("gw1"), a.witnesses("gw2")
	ctx := context.Background()
	if o := w1.Acquire(ctx, 1, 300*time.Millisecond); o.Granted != 0 {
		t.Fatalf("granted during the quiet period: %+v", o)
	}
	clock.Advance(time.Second)
	if o := w1.Acquire(ctx, 1, 300*time.Millisecond); !o.Majority() || o.Lease != 300*time.Millisecond {
		t.Fatalf("first acquire: %+v", o)
	}
	if o := w2.Acquire(ctx, 5, 300*time.Millisecond); o.Granted != 0 || o.HighestHolder != "gw1" || o.HighestTerm != 1 {
		t.Fatalf("acquire while gw1 holds: %+v", o)
	}
	clock.Advance(300 * time.Millisecond)
	if o := w2.Acquire(ctx, 5, 300*time.Millisecond); !o.Majority() {
		t.Fatalf("acquire after gw1's lease ended: %+v", o)
	}
	if o := w1.Acquire(ctx, 1, 300*time.Millisecond); o.Granted != 0 || o.HighestTerm != 5 {
		t.Fatalf("old term renewal: %+v", o)
	}
	w2.Release(ctx, 5)
	if o := w1.Acquire(ctx, 6, 300*time.Millisecond); !o.Majority() {
		t.Fatalf("acquire after release: %+v", o)
	}
}

// agentServers runs n real agent handlers (agent.NewHandler with a real
// agent.Witness), each with its own key, and returns their targets.
func agentServers(t *testing.T, n int, maxLease time.Duration) ([]client.Target, []*httptest.Server) {
	t.Helper()
	// The agents' clock runs maxLease ahead from the start: their quiet
	// period is over.
	var ahead atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	var targets []client.Target
	var servers []*httptest.Server
	for i := range n {
		name := fmt.Sprintf("s%d", i+1)
		key, err := auth.NewKey([]byte(strings.Repeat(string(rune('a'+i)), 32)))
		if err != nil {
			t.Fatal(err)
		}
		v, err := auth.NewVerifier(auth.VerifierConfig{Agent: name, Keys: []auth.Key{key}})
		if err != nil {
			t.Fatal(err)
		}
		log := zaptest.NewLogger(t).Named(name)
		wit, err := agent.NewWitness(maxLease, log, now)
		if err != nil {
			t.Fatal(err)
		}
		h, err := agent.NewHandler(agent.HandlerConfig{Name: name, Verifier: v, Table: noTable{}, Metrics: noMetrics{}, Witness: wit, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
		targets = append(targets, client.Target{Name: name, URL: srv.URL, Key: key})
	}
	ahead.Store(int64(maxLease))
	return targets, servers
}

type noTable struct{}

func (noTable) VIPs() []netip.Addr                         { return nil }
func (noTable) Served([]netip.Addr) []netip.Addr           { return nil }
func (noTable) Entries([]netip.Addr) ([]wire.Entry, error) { return nil, nil }

type noMetrics struct{}

func (noMetrics) Host() (metrics.Host, error) { return metrics.Host{}, nil }
func (noMetrics) Custom() []wire.CustomMetric { return nil }

// newClient is an agent client with the default options.
func newClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustWitnesses is NewAgentWitnesses, failing t on an error.
func mustWitnesses(t *testing.T, c *client.Client, gateway string, targets []client.Target, log *zap.Logger) *AgentWitnesses {
	t.Helper()
	w, err := NewAgentWitnesses(c, gateway, targets, log)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWitnessAgentsOverHTTP(t *testing.T) {
	targets, servers := agentServers(t, 3, 2*time.Second)
	c := newClient(t)
	log := zaptest.NewLogger(t)
	gw1 := mustWitnesses(t, c, "gw1", targets, log)
	gw2 := mustWitnesses(t, c, "gw2", targets, log)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	before := time.Now()
	// Acquire returns once a majority has granted: 2 or 3 grants.
	o := gw1.Acquire(ctx, 1, 300*time.Millisecond)
	if o.Granted < 2 || o.Asked != 3 || o.Failed != 0 || o.HighestTerm != 1 || o.HighestHolder != "gw1" || o.Lease != 300*time.Millisecond {
		t.Fatalf("gw1 acquire: %+v", o)
	}
	time.Sleep(50 * time.Millisecond) // the third grant lands too
	if o.SentAt.Before(before) || o.SentAt.After(time.Now()) {
		t.Errorf("SentAt %v outside the call", o.SentAt)
	}
	o = gw2.Acquire(ctx, 2, 300*time.Millisecond)
	if o.Granted != 0 || o.Failed != 0 || o.HighestHolder != "gw1" || o.Majority() {
		t.Fatalf("gw2 acquire while gw1 holds: %+v", o)
	}
	gw1.Release(ctx, 1)
	o = gw2.Acquire(ctx, 2, 300*time.Millisecond)
	if !o.Majority() || o.Granted < 2 {
		t.Fatalf("gw2 acquire after gw1's release: %+v", o)
	}
	time.Sleep(50 * time.Millisecond)
	// gw1's old term is refused and tells it of term 2.
	if o := gw1.Acquire(ctx, 1, 300*time.Millisecond); o.Granted != 0 || o.HighestTerm != 2 {
		t.Fatalf("gw1 renewal with an old term: %+v", o)
	}

	// An agent down and one with a wrong key: one grant of three.
	servers[0].Close()
	wrong := append([]client.Target(nil), targets...)
	wrongKey, err := auth.NewKey([]byte(strings.Repeat("z", 32)))
	if err != nil {
		t.Fatal(err)
	}
	wrong[1].Key = wrongKey
	gw2bad := mustWitnesses(t, c, "gw2", wrong, log)
	o = gw2bad.Acquire(ctx, 2, 300*time.Millisecond)
	if o.Granted != 1 || o.Failed != 2 || o.Majority() {
		t.Fatalf("with one agent down and one refusing the key: %+v", o)
	}
}

func TestWitnessConfigChecks(t *testing.T) {
	c := newClient(t)
	log := zaptest.NewLogger(t)
	one := []client.Target{{Name: "s1", URL: "http://127.0.0.1:1"}}
	if _, err := NewAgentWitnesses(nil, "gw1", one, log); err == nil {
		t.Error("no client accepted")
	}
	if _, err := NewAgentWitnesses(c, "gw1", nil, log); err == nil {
		t.Error("no target accepted")
	}
	if _, err := NewAgentWitnesses(c, "", one, log); err == nil {
		t.Error("no gateway name accepted")
	}
	if _, err := NewAgentWitnesses(c, "gw1", append(one, one[0]), log); err == nil {
		t.Error("an agent twice accepted")
	}
}

// One witness that hangs (a frozen server) does not hold a lease request
// beyond the majority's answers: Acquire returns as soon as two of three
// have granted, long before the request's deadline.
func TestWitnessAcquireDoesNotWaitForAHungAgent(t *testing.T) {
	targets, _ := agentServers(t, 2, 2*time.Second)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With the body read, the server notices the client giving up.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hung.Close)
	targets = append(targets, client.Target{Name: "s3", URL: hung.URL, Key: targets[0].Key})
	// The request to the hung agent runs on after Acquire has returned and
	// logs its failure whenever the deadline ends it, possibly after the
	// test: a test logger would panic then.
	w := mustWitnesses(t, newClient(t), "gw1", targets, zap.NewNop())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	o := w.Acquire(ctx, 1, 300*time.Millisecond)
	took := time.Since(start)
	if !o.Majority() || o.Granted != 2 || o.Asked != 3 || o.Lease != 300*time.Millisecond {
		t.Fatalf("acquire with one agent hung: %+v", o)
	}
	if took > time.Second {
		t.Fatalf("acquire waited %v for the hung agent", took)
	}
}
