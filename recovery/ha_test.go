package recovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The HA tests run whole gateways (HA machines with fake controllers) on a
// fake clock, over a fake network and a shared set of fake agents that
// apply the agent's lease rule. Everything runs in the test goroutine, in
// time order: timers, datagram deliveries (netDelay after sending) and the
// machines' background work (jobDelay after it is started).

const (
	testInterval = 100 * time.Millisecond
	testSkew     = 50 * time.Millisecond
	testLease    = 3 * testInterval
	testMaxLease = 2 * time.Second
	// masterDown and the lease as the gateway counts it (less its margin).
	testMasterDown = 3*testInterval + testSkew
	testLeaseView  = testLease - testLease/leaseMarginDivisor
	netDelay       = time.Millisecond
	jobDelay       = 2 * time.Millisecond
)

type nodeSpec struct {
	name         string
	prio         int
	preempt      bool
	preemptDelay time.Duration
}

type world struct {
	t      *testing.T
	clock  *fakeClock
	key    HeartbeatKey
	agents *fakeAgents // nil: no witnesses
	nodes  map[string]*node
	order  []string

	// cut[from][to] drops datagrams from one gateway to another.
	cut map[string]map[string]bool
	// tap sees every datagram sent (before cuts apply).
	tap func(from, to string, b []byte)
	// exclusive: fail when two gateways are active (role or dataplane) at
	// any instant between two events.
	exclusive bool
	violated  bool
}

type node struct {
	w        *world
	name     string
	ha       *HA
	ctl      *fakeController
	tr       *fakeTransport
	jobDelay time.Duration
}

// newWorld builds the gateways of specs (not started) with nAgents fake
// agents as witnesses (0: none, plain VRRP).
func newWorld(t *testing.T, nAgents int, specs ...nodeSpec) *world {
	t.Helper()
	key, err := NewHeartbeatKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, clock: newFakeClock(), key: key, nodes: map[string]*node{}, cut: map[string]map[string]bool{}, exclusive: true}
	if nAgents > 0 {
		w.agents = newFakeAgents(w.clock, nAgents, testMaxLease)
		// Agents up long before the gateways: no quiet period in the way.
		w.agents.skipQuiet()
	}
	var peers []Peer
	for i, s := range specs {
		peers = append(peers, Peer{Name: s.name, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 99, 0, byte(5 + i)}), 10006), Priority: s.prio})
	}
	for _, s := range specs {
		n := &node{w: w, name: s.name, jobDelay: jobDelay}
		n.ctl = &fakeController{w: w, name: s.name, ready: true}
		n.tr = &fakeTransport{w: w, name: s.name}
		var wit Witnesses
		if w.agents != nil {
			wit = w.agents.witnesses(s.name)
		}
		cfg := HAConfig{
			Node: s.name, Priority: s.prio,
			Peers: peers, // this node's own entry included: it is skipped
			Key:   key, Interval: testInterval, Skew: testSkew,
			Preempt: s.preempt, PreemptDelay: s.preemptDelay,
			Clock: w.clock,
		}
		log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named(s.name)
		h, err := NewHA(cfg, n.tr, wit, n.ctl, log)
		if err != nil {
			t.Fatal(err)
		}
		h.spawn = func(f func()) { w.clock.AfterFunc(n.jobDelay, f) }
		n.ha = h
		w.nodes[s.name] = n
		w.order = append(w.order, s.name)
	}
	w.clock.afterEach = w.check
	return w
}

func (w *world) node(name string) *node {
	n, ok := w.nodes[name]
	if !ok {
		w.t.Fatalf("no node %s", name)
	}
	return n
}

func (w *world) start(names ...string) {
	w.t.Helper()
	for _, name := range names {
		if err := w.node(name).ha.Start(); err != nil {
			w.t.Fatal(err)
		}
	}
	w.check()
}

func (w *world) run(d time.Duration) { w.clock.Advance(d) }

// until advances in steps of 1 ms until cond holds and returns the time
// it took; it fails the test after limit.
func (w *world) until(limit time.Duration, what string, cond func() bool) time.Duration {
	w.t.Helper()
	for waited := time.Duration(0); ; waited += time.Millisecond {
		if cond() {
			return waited
		}
		if waited >= limit {
			w.t.Fatalf("%s: not within %v", what, limit)
		}
		w.clock.Advance(time.Millisecond)
	}
}

func (w *world) role(name string) Role { return w.node(name).ha.Status().Role }

func (w *world) isRole(name string, r Role) func() bool {
	return func() bool { return w.role(name) == r }
}

// check is the split-brain invariant, run after every event.
func (w *world) check() {
	if !w.exclusive || w.violated {
		return
	}
	var roles, forwarding []string
	for _, name := range w.order {
		n := w.nodes[name]
		if st := n.ha.Status(); st.Role == RoleActive {
			roles = append(roles, name)
			w.checkLeaseView(name, st)
		}
		if n.ctl.active {
			forwarding = append(forwarding, name)
		}
	}
	if len(roles) > 1 || len(forwarding) > 1 {
		w.violated = true
		w.t.Errorf("at %v: active roles %v, forwarding %v: more than one gateway", w.clock.Now().Format("15:04:05.000"), roles, forwarding)
	}
}

// checkLeaseView checks the heart of the lease argument: an active
// gateway's view of its lease ends no later than the leases a majority of
// the agents actually hold for it.
func (w *world) checkLeaseView(name string, st HAStatus) {
	if w.agents == nil {
		return
	}
	end := w.clock.Now().Add(st.LeaseExpiresIn)
	w.agents.mu.Lock()
	defer w.agents.mu.Unlock()
	held := 0
	for _, a := range w.agents.agents {
		if a.holder == name && a.term == st.Term && !a.expires.Before(end) {
			held++
		}
	}
	if held <= len(w.agents.agents)/2 {
		w.violated = true
		w.t.Errorf("at %v: %s believes its lease for term %d lasts until %v, but only %d agents hold it that long",
			w.clock.Now().Format("15:04:05.000"), name, st.Term, end.Format("15:04:05.000"), held)
	}
}

// cutHeartbeats drops datagrams between a and b, both ways (on false:
// heals).
func (w *world) cutHeartbeats(a, b string, cut bool) {
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if w.cut[p[0]] == nil {
			w.cut[p[0]] = map[string]bool{}
		}
		w.cut[p[0]][p[1]] = cut
	}
}

// crash makes name go silent like a killed process: nothing it sends
// arrives, and the agents no longer hear it. (Its machine still runs: it
// counts for the invariant until its own lease view ends.)
func (w *world) crash(name string) {
	for _, other := range w.order {
		if other != name {
			w.cutHeartbeats(name, other, true)
		}
	}
	if w.agents != nil {
		for i := range w.agents.agents {
			w.agents.setReachable(name, i, false)
		}
	}
}

// startActive starts first alone and waits until it is active and
// activated, then starts the others and lets them hear it.
func (w *world) startActive(first string, others ...string) {
	w.t.Helper()
	w.start(first)
	w.until(testMasterDown+time.Second, first+" active", func() bool {
		st := w.node(first).ha.Status()
		return st.Role == RoleActive && !st.Activating
	})
	w.start(others...)
	w.run(2 * testInterval)
	for _, o := range others {
		if st := w.node(o).ha.Status(); st.Role != RoleBackup || st.ActiveNode != first {
			w.t.Fatalf("%s: role %s following %q, want backup following %s", o, st.Role, st.ActiveNode, first)
		}
	}
}

// inject delivers a datagram to name now, as if it came from the network.
func (w *world) inject(name string, b []byte) {
	w.node(name).tr.receive(b)
	w.check()
}

// forge signs a heartbeat with the world's key.
func (w *world) forge(h Heartbeat) []byte {
	w.t.Helper()
	if h.Time.IsZero() {
		h.Time = w.clock.Now()
	}
	b, err := h.Marshal(w.key)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

type fakeTransport struct {
	w       *world
	name    string
	deliver func([]byte)
	closed  bool
}

func (t *fakeTransport) Send(b []byte) error {
	if t.closed {
		return errors.New("transport closed")
	}
	for _, to := range t.w.order {
		if to == t.name {
			continue
		}
		c := append([]byte(nil), b...)
		if t.w.tap != nil {
			t.w.tap(t.name, to, c)
		}
		if t.w.cut[t.name][to] {
			continue
		}
		dst := t.w.nodes[to].tr
		t.w.clock.AfterFunc(netDelay, func() { dst.receive(c) })
	}
	return nil
}

func (t *fakeTransport) Start(deliver func([]byte)) error {
	t.deliver = deliver
	return nil
}

func (t *fakeTransport) Close() error {
	t.closed = true
	return nil
}

func (t *fakeTransport) receive(b []byte) {
	if !t.closed && t.deliver != nil {
		t.deliver(b)
	}
}

type fakeController struct {
	w           *world
	name        string
	ready       bool
	activateErr error
	// activate, if set, runs inside Activate (it may advance the clock);
	// its error is Activate's.
	activate      func(ctx context.Context) error
	active        bool // forwarding: activated and not deactivated since
	activations   []uint64
	deactivations []string
}

func (c *fakeController) Activate(ctx context.Context, term uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.activations = append(c.activations, term)
	if c.activate != nil {
		if err := c.activate(ctx); err != nil {
			return err
		}
	}
	if c.activateErr != nil {
		return c.activateErr
	}
	c.active = true
	return nil
}

func (c *fakeController) Deactivate(reason string) {
	c.active = false
	c.deactivations = append(c.deactivations, reason)
}

func (c *fakeController) Ready() bool { return c.ready }

func (c *fakeController) lastDeactivation() string {
	if len(c.deactivations) == 0 {
		return ""
	}
	return c.deactivations[len(c.deactivations)-1]
}

func twoGateways() []nodeSpec {
	return []nodeSpec{{name: "gw1", prio: 200}, {name: "gw2", prio: 100}}
}

func TestHAMasterDownTakeover(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	term1 := w.node("gw1").ha.Status().Term

	w.crash("gw1")
	took := w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	// The last advert arrived at most one interval before the crash; the
	// candidate's lease request and answer take one job delay.
	if took < testMasterDown-testInterval || took > testMasterDown+netDelay+jobDelay {
		t.Errorf("gw2 active %v after the crash, want master-down (%v) less at most one interval", took, testMasterDown)
	}
	w.run(10 * time.Millisecond)
	st := w.node("gw2").ha.Status()
	if st.Term != term1+1 || st.ActiveNode != "gw2" || st.Takeovers != 1 || st.Activating {
		t.Errorf("gw2 status %+v, want active node gw2, term %d, 1 takeover", st, term1+1)
	}
	if st.LastTakeover <= 0 || st.LastTakeover > testInterval {
		t.Errorf("last takeover took %v, want the lease request and Activate (a few ms)", st.LastTakeover)
	}
	if got := w.node("gw2").ctl.activations; len(got) != 1 || got[0] != term1+1 {
		t.Errorf("gw2 activated for terms %v, want [%d]", got, term1+1)
	}
	if st.LeaseGranted != 3 || st.LeaseAsked != 3 || st.LeaseExpiresIn <= 0 || st.LeaseExpiresIn > testLease {
		t.Errorf("gw2 lease %d of %d expiring in %v", st.LeaseGranted, st.LeaseAsked, st.LeaseExpiresIn)
	}
	// The crashed gateway, cut off from the agents, stepped down on its own.
	if w.role("gw1") == RoleActive || w.node("gw1").ctl.active {
		t.Error("gw1 still active after losing the agents")
	}
}

func TestHAShutdownTakesOverAtOnce(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	w.run(37 * time.Millisecond) // between two ticks

	if err := w.node("gw1").ha.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.role("gw1") != RoleStopped || w.node("gw1").ctl.active || w.node("gw1").ctl.lastDeactivation() != "stopping" {
		t.Fatalf("gw1 after Stop: role %s, forwarding %v", w.role("gw1"), w.node("gw1").ctl.active)
	}
	for i, a := range w.agents.agents {
		if a.holder != "" {
			t.Errorf("agent %d still held by %s after the graceful stop", i, a.holder)
		}
	}
	took := w.until(testInterval, "gw2 active", w.isRole("gw2", RoleActive))
	if took > netDelay+jobDelay {
		t.Errorf("gw2 active %v after the SHUTDOWN, want one datagram and one lease request", took)
	}
	if again := w.node("gw1").ha.Stop(context.Background()); again != nil {
		t.Errorf("second Stop: %v", again)
	}
	if err := w.node("gw1").ha.Start(); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestHALeaseNeedsMajority(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	// Two of three agents unreachable: one grant is not a majority.
	w.agents.setReachable("gw1", 1, false)
	w.agents.setReachable("gw1", 2, false)
	w.start("gw1")
	w.run(testMasterDown + time.Second)
	st := w.node("gw1").ha.Status()
	if st.Role != RoleCandidate || st.LeaseGranted != 1 || st.LeaseAsked != 3 {
		t.Fatalf("gw1 with 1 of 3 agents: role %s, lease %d of %d; want a candidate with 1 of 3", st.Role, st.LeaseGranted, st.LeaseAsked)
	}
	// Its partial grant is given back after each failed round.
	if h := w.agents.agents[0].holder; h != "" {
		t.Errorf("agent 0 still held by %q after a failed round", h)
	}

	w.agents.setReachable("gw1", 1, true)
	w.until(2*testInterval, "gw1 active with 2 of 3", w.isRole("gw1", RoleActive))
	if st := w.node("gw1").ha.Status(); st.LeaseGranted != 2 {
		t.Errorf("gw1 active with %d grants, want 2", st.LeaseGranted)
	}

	// gw2 cannot hear gw1: it becomes a candidate but the agents refuse
	// it while gw1 holds a live lease, however long it tries.
	w.cutHeartbeats("gw1", "gw2", true)
	w.start("gw2")
	w.run(testMasterDown + 2*time.Second)
	// (The third agent, which gw1 cannot reach, grants gw2: one of three.)
	if st := w.node("gw2").ha.Status(); st.Role != RoleCandidate || st.LeaseGranted != 1 {
		t.Errorf("gw2 while gw1 holds the lease: role %s, %d grants; want a candidate refused by gw1's two agents", st.Role, st.LeaseGranted)
	}
	for i := range 2 {
		if a := w.agents.agents[i]; a.holder != "gw1" {
			t.Errorf("agent %d held by %q, want gw1", i, a.holder)
		}
	}
	if w.role("gw1") != RoleActive {
		t.Errorf("gw1 is %s, want still active", w.role("gw1"))
	}
}

func TestHAStepsDownWhenLeaseCannotBeRenewed(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	w.cutHeartbeats("gw1", "gw2", true) // gw2 must not win before gw1 steps down
	w.run(23 * time.Millisecond)

	w.agents.setReachable("gw1", 0, false)
	w.agents.setReachable("gw1", 1, false)
	took := w.until(time.Second, "gw1 steps down", func() bool { return !w.node("gw1").ctl.active })
	// The last renewal that got a majority was sent at most one interval
	// before the cut; the lease runs from when it was sent.
	if took <= testLeaseView-testInterval || took > testLeaseView {
		t.Errorf("gw1 stepped down %v after losing the agents, want within (%v, %v]", took, testLeaseView-testInterval, testLeaseView)
	}
	if r := w.role("gw1"); r != RoleBackup {
		t.Errorf("gw1 is %s after its lease expired", r)
	}
	if d := w.node("gw1").ctl.lastDeactivation(); !strings.Contains(d, "lease") {
		t.Errorf("deactivation reason %q does not name the lease", d)
	}
	// gw2 then wins the agents; gw1, cut off, stays out.
	w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	w.run(3 * time.Second)
	if r := w.role("gw1"); r == RoleActive {
		t.Errorf("gw1 active again without a majority of agents")
	}
}

func TestHASlowWitnessesDoNotDelayHeartbeats(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	gw1 := w.node("gw1")
	gw1.jobDelay = 2 * time.Second // every agent answers after 2 s
	sent := gw1.ha.Status().Sent
	received := w.node("gw2").ha.Status().Received

	w.run(time.Second)
	if n := gw1.ha.Status().Sent - sent; n < 9 || n > 11 {
		t.Errorf("gw1 sent %d datagrams in 1 s of slow agents, want one per interval (10)", n)
	}
	if n := w.node("gw2").ha.Status().Received - received; n < 9 {
		t.Errorf("gw2 received %d heartbeats in 1 s, want one per interval", n)
	}
	// No renewal came back in time: gw1 stepped down when its lease
	// ended, not when the slow answers arrived.
	if gw1.ctl.active {
		t.Error("gw1 still forwarding although no renewal came back within its lease")
	}
}

func TestHASlowActivateKeepsAdvertising(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	gw2 := w.node("gw2")
	var during HAStatus
	var sentDuring uint64
	gw2.ctl.activate = func(ctx context.Context) error {
		sent := gw2.ha.Status().Sent
		w.clock.Advance(time.Second) // everything else goes on meanwhile
		during = gw2.ha.Status()
		sentDuring = during.Sent - sent
		return ctx.Err()
	}
	w.crash("gw1")
	w.until(time.Second, "gw2 activated", func() bool { return gw2.ctl.active })
	if during.Role != RoleActive || !during.Activating || sentDuring < 9 || during.LeaseExpiresIn <= 0 {
		t.Errorf("during a 1 s Activate: %+v, %d datagrams sent; want active, activating, advertising and renewing", during, sentDuring)
	}
	if st := gw2.ha.Status(); st.Activating || st.Takeovers != 1 || st.LastTakeover < time.Second {
		t.Errorf("after Activate: %+v", st)
	}
}

func TestHAStepDownDuringActivate(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	gw1 := w.node("gw1")
	var cancelled bool
	gw1.ctl.activate = func(ctx context.Context) error {
		// The agents go away while the takeover runs: the lease ends in
		// the middle of it.
		for i := range 3 {
			w.agents.setReachable("gw1", i, false)
		}
		w.clock.Advance(time.Second)
		cancelled = ctx.Err() != nil
		return ctx.Err()
	}
	w.start("gw1")
	w.until(time.Second, "gw1 active", w.isRole("gw1", RoleActive))
	w.run(2 * time.Second)
	if !cancelled {
		t.Error("Activate's context was not cancelled when the lease ended")
	}
	d := gw1.ctl.deactivations
	if gw1.ctl.active || len(d) < 2 || !strings.Contains(d[len(d)-2], "lease") || !strings.Contains(d[len(d)-1], "activation returned") {
		t.Errorf("deactivations %q: want the lease's at once, then one after Activate returned", d)
	}
	if r := w.role("gw1"); r == RoleActive {
		t.Errorf("gw1 is %s without agents", r)
	}
}

func TestHAHigherTermInHeartbeatStepsDown(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	term := w.node("gw1").ha.Status().Term
	w.inject("gw1", w.forge(Heartbeat{Type: MsgAdvert, Node: "gw2", Priority: 100, Term: term + 5, Role: RoleActive}))
	if r := w.role("gw1"); r != RoleBackup || w.node("gw1").ctl.active {
		t.Fatalf("gw1 is %s after a heartbeat with a higher term", r)
	}
	if d := w.node("gw1").ctl.lastDeactivation(); !strings.Contains(d, fmt.Sprint(term+5)) {
		t.Errorf("deactivation reason %q does not name the term", d)
	}
}

func TestHAHigherTermFromWitnessStepsDown(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	term := w.node("gw1").ha.Status().Term
	// One agent has since granted a later term (a candidate's partial
	// grant where gw1's lease had lapsed): a majority still renews gw1's
	// term, and it stays active.
	w.agents.agents[2].term = term + 3
	w.run(3 * testInterval)
	if st := w.node("gw1").ha.Status(); st.Role != RoleActive || st.Term != term {
		t.Fatalf("gw1 after one witness reported term %d: role %s term %d, want still active in term %d", term+3, st.Role, st.Term, term)
	}
	// Another agent out of gw1's reach: no majority renews its term any
	// more, and the higher term makes it step down at once, before its
	// lease has run out.
	w.agents.setReachable("gw1", 1, false)
	// The next renewal (within an interval) ends it, well before the
	// lease (three intervals) would have.
	limit := 2*testInterval + jobDelay
	took := w.until(limit, "gw1 steps down", func() bool { return !w.node("gw1").ctl.active })
	if took > limit {
		t.Errorf("stepped down after %v", took)
	}
	if st := w.node("gw1").ha.Status(); st.Role == RoleActive || st.Term < term+3 {
		t.Errorf("gw1 after a majority reported term %d: role %s term %d", term+3, st.Role, st.Term)
	}
}

func TestHAHeartbeatCutAtMostOneActive(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")

	// Heartbeats cut both ways: gw2 becomes a candidate and is refused
	// by every agent as long as gw1 renews.
	w.cutHeartbeats("gw1", "gw2", true)
	w.run(5 * time.Second)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleActive || b != RoleCandidate {
		t.Fatalf("after 5 s of cut heartbeats: gw1 %s, gw2 %s; want active and candidate", a, b)
	}
	// Now the active loses the agents too: it steps down, then gw2 takes
	// over; never both at once (checked after every event).
	for i := range 3 {
		w.agents.setReachable("gw1", i, false)
	}
	w.until(2*time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	w.run(5 * time.Second)

	// Heal everything: exactly one active, the other backup.
	w.cutHeartbeats("gw1", "gw2", false)
	for i := range 3 {
		w.agents.setReachable("gw1", i, true)
	}
	w.run(2 * time.Second)
	a, b := w.role("gw1"), w.role("gw2")
	if !(a == RoleBackup && b == RoleActive) {
		t.Errorf("after the cut heals: gw1 %s, gw2 %s; want backup and active", a, b)
	}
	if st := w.node("gw1").ha.Status(); st.ActiveNode != "gw2" {
		t.Errorf("gw1 follows %q, want gw2", st.ActiveNode)
	}
}

// TestHASplitBrainChaos runs gateways through random heartbeat cuts and
// agent reachability changes, with random delays on every witness call and
// answer, checking after every event that at most one is active; once
// everything heals, exactly one must be.
func TestHASplitBrainChaos(t *testing.T) {
	for trial := range 40 {
		rng := rand.New(rand.NewPCG(uint64(trial), 7))
		specs := twoGateways()
		if trial%3 == 0 {
			specs = append(specs, nodeSpec{name: "gw3", prio: 150})
		}
		w := newWorld(t, 3, specs...)
		// The agents decide when a request arrives (after the job delay)
		// and the answer reaches the gateway replyDelay later.
		w.agents.replyDelay = time.Duration(rng.IntN(20)) * time.Millisecond
		w.agents.advance = w.clock.Advance
		for _, n := range w.nodes {
			n.jobDelay = time.Duration(1+rng.IntN(10)) * time.Millisecond
		}
		w.start(w.order...)
		for range 60 {
			w.run(time.Duration(50+rng.IntN(450)) * time.Millisecond)
			a, b := w.order[rng.IntN(len(w.order))], w.order[rng.IntN(len(w.order))]
			switch rng.IntN(3) {
			case 0:
				if a != b {
					w.cutHeartbeats(a, b, rng.IntN(2) == 0)
				}
			default:
				w.agents.setReachable(a, rng.IntN(3), rng.IntN(3) != 0)
			}
		}
		for _, a := range w.order {
			for _, b := range w.order {
				if a != b {
					w.cutHeartbeats(a, b, false)
				}
			}
			for i := range 3 {
				w.agents.setReachable(a, i, true)
			}
		}
		w.run(5 * time.Second)
		var active []string
		for _, name := range w.order {
			if w.role(name) == RoleActive {
				active = append(active, name)
			}
		}
		if len(active) != 1 {
			t.Errorf("trial %d: active after healing: %v, want exactly one", trial, active)
		}
		if w.violated {
			t.Fatalf("trial %d: split brain", trial)
		}
	}
}

func TestHABothStartAtOnceWithWitnesses(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.start("gw1", "gw2")
	w.run(3 * time.Second)
	a, b := w.role("gw1"), w.role("gw2")
	if !(a == RoleActive && b == RoleBackup) && !(a == RoleBackup && b == RoleActive) {
		t.Errorf("both started at once: gw1 %s, gw2 %s; want one active, one backup", a, b)
	}
}

func TestHAForgedAndReplayedHeartbeatsCauseNoTakeover(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	var captured [][]byte
	w.tap = func(from, _ string, b []byte) {
		if from == "gw1" {
			captured = append(captured, b)
		}
	}
	w.startActive("gw1", "gw2")
	gw2 := w.node("gw2")
	if len(captured) < 2 {
		t.Fatal("no datagram of gw1 captured")
	}
	advert := captured[len(captured)-1]

	otherKey, err := NewHeartbeatKey([]byte(strings.Repeat("x", 32)))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := Heartbeat{Type: MsgShutdown, Node: "gw1", Priority: 200, Term: 1, Role: RoleStopped, Seq: 99, Time: w.clock.Now()}.Marshal(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	// The captured advert turned into a SHUTDOWN: the MAC no longer fits.
	flipped := append([]byte(nil), advert...)
	flipped[5] = byte(MsgShutdown)
	w.inject("gw2", forged)
	w.inject("gw2", flipped)
	w.inject("gw2", []byte("not a heartbeat at all"))
	// A stranger with the key is still not a peer; nor is gw2 itself.
	w.inject("gw2", w.forge(Heartbeat{Type: MsgShutdown, Node: "gw9", Role: RoleStopped}))
	w.inject("gw2", w.forge(Heartbeat{Type: MsgShutdown, Node: "gw2", Role: RoleStopped}))
	// A takeover request forged for gw1: it must not yield.
	fakeRequest, err := Heartbeat{Type: MsgTakeoverRequest, Node: "gw2", Priority: 100, Role: RoleBackup, Ready: true, Operator: true, Time: w.clock.Now()}.Marshal(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	w.inject("gw1", fakeRequest)
	// A replay of gw1's last advert, and (after the skew) of an old one.
	w.inject("gw2", advert)
	w.run(10 * time.Millisecond)
	if r1, r2 := w.role("gw1"), w.role("gw2"); r1 != RoleActive || r2 != RoleBackup {
		t.Fatalf("after forged datagrams: gw1 %s, gw2 %s", r1, r2)
	}
	want := RejectCounts{BadMAC: 2, Malformed: 1, UnknownSender: 2, Replayed: 1}
	if got := gw2.ha.Status().Rejects; got != want {
		t.Errorf("gw2 rejects %+v, want %+v", got, want)
	}
	if got := w.node("gw1").ha.Status().Rejects; got.BadMAC != 1 {
		t.Errorf("gw1 rejects %+v, want the forged request as bad_mac", got)
	}

	// gw1 dies; an attacker replays its captured datagrams to gw2 to keep
	// it a backup. They are all refused and gw2 takes over at master-down.
	w.tap = nil
	w.crash("gw1")
	stop := w.clock.Now().Add(3 * time.Second)
	var replay func()
	i := 0
	replay = func() {
		gw2.tr.receive(captured[i%len(captured)])
		i++
		if w.clock.Now().Before(stop) {
			w.clock.AfterFunc(10*time.Millisecond, replay)
		}
	}
	replay()
	took := w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	if took > testMasterDown+netDelay+jobDelay {
		t.Errorf("gw2 took over %v after the crash despite replays; want at master-down", took)
	}
	w.run(3 * time.Second)
	rej := gw2.ha.Status().Rejects
	if rej.Replayed+rej.Stale != uint64(i)+1 {
		t.Errorf("rejects %+v after %d replays (and one before the crash)", rej, i)
	}
	if rej.Stale == 0 {
		t.Errorf("rejects %+v: the replays older than the skew should count as stale", rej)
	}
}

func TestHAPreemptAfterDelay(t *testing.T) {
	w := newWorld(t, 3,
		nodeSpec{name: "gw1", prio: 200, preempt: true, preemptDelay: 2 * time.Second},
		nodeSpec{name: "gw2", prio: 100, preempt: true, preemptDelay: 2 * time.Second})
	// gw2 is active; gw1 (the preferred one) comes back, not ready at first.
	w.node("gw1").ctl.ready = false
	w.startActive("gw2", "gw1")
	w.run(5 * time.Second)
	if r := w.role("gw2"); r != RoleActive {
		t.Fatalf("gw2 is %s although gw1 is not ready", r)
	}
	if st := w.node("gw2").ha.Status(); st.Peers[0].Name != "gw1" || st.Peers[0].Ready || !st.Peers[0].Seen {
		t.Errorf("gw2's view of gw1: %+v, want seen and not ready", st.Peers[0])
	}

	w.node("gw1").ctl.ready = true
	took := w.until(3*time.Second, "gw1 active", w.isRole("gw1", RoleActive))
	// Ready is seen at the next tick; then PreemptDelay; then the request
	// at a tick, the yield (release, SHUTDOWN) and the lease request.
	if took < 2*time.Second || took > 2*time.Second+2*testInterval+10*time.Millisecond {
		t.Errorf("gw1 preempted %v after becoming ready, want PreemptDelay (2 s) plus at most two intervals", took)
	}
	w.run(time.Second)
	if r := w.role("gw2"); r != RoleBackup {
		t.Errorf("gw2 is %s after yielding", r)
	}
	if d := w.node("gw2").ctl.lastDeactivation(); !strings.Contains(d, "preempted by gw1") {
		t.Errorf("gw2 deactivated with %q", d)
	}
	if st := w.node("gw1").ha.Status(); st.Takeovers != 1 {
		t.Errorf("gw1 takeovers %d", st.Takeovers)
	}
}

func TestHANoPreemptWhenOff(t *testing.T) {
	w := newWorld(t, 3,
		nodeSpec{name: "gw1", prio: 200, preempt: false},
		nodeSpec{name: "gw2", prio: 100, preempt: false})
	w.startActive("gw2", "gw1")
	w.run(10 * time.Second)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleBackup || b != RoleActive {
		t.Errorf("without preempt: gw1 %s, gw2 %s; want backup and active", a, b)
	}
}

func TestHAOperatorRequestTakeover(t *testing.T) {
	w := newWorld(t, 3,
		nodeSpec{name: "gw1", prio: 200, preempt: true, preemptDelay: time.Second},
		nodeSpec{name: "gw2", prio: 100, preempt: true, preemptDelay: time.Second})
	w.startActive("gw1", "gw2")
	if err := w.node("gw1").ha.RequestTakeover(); err == nil {
		t.Error("RequestTakeover on the active gateway succeeded")
	}

	w.node("gw2").ctl.ready = false
	if err := w.node("gw2").ha.RequestTakeover(); err == nil {
		t.Error("RequestTakeover on a backup that is not ready succeeded")
	}
	w.node("gw2").ctl.ready = true
	if err := w.node("gw2").ha.RequestTakeover(); err != nil {
		t.Fatal(err)
	}
	took := w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	if took > 2*netDelay+3*jobDelay {
		t.Errorf("operator takeover took %v, want a few datagrams and witness calls", took)
	}
	// The higher-priority gw1 yielded on purpose: it does not preempt back.
	w.run(10 * time.Second)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleBackup || b != RoleActive {
		t.Errorf("10 s after the operator takeover: gw1 %s, gw2 %s", a, b)
	}
	if d := w.node("gw1").ctl.lastDeactivation(); !strings.Contains(d, "operator") {
		t.Errorf("gw1 deactivated with %q", d)
	}
}

func TestHARequestTakeoverOnCandidateFails(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	for i := range 3 {
		w.agents.setReachable("gw1", i, false)
	}
	w.start("gw1")
	w.until(time.Second, "gw1 candidate", w.isRole("gw1", RoleCandidate))
	if err := w.node("gw1").ha.RequestTakeover(); err == nil {
		t.Error("RequestTakeover on a candidate succeeded")
	}
	if err := w.node("gw1").ha.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.node("gw1").ha.RequestTakeover(); err == nil {
		t.Error("RequestTakeover on a stopped gateway succeeded")
	}
}

func TestHATwoActivesWithoutWitnessesResolveByPriority(t *testing.T) {
	w := newWorld(t, 0, twoGateways()...)
	w.exclusive = false // plain VRRP: both are active while they cannot hear each other
	w.cutHeartbeats("gw1", "gw2", true)
	w.start("gw1", "gw2")
	w.run(testMasterDown + 100*time.Millisecond)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleActive || b != RoleActive {
		t.Fatalf("cut, without witnesses: gw1 %s, gw2 %s; want both active (unprotected)", a, b)
	}
	w.cutHeartbeats("gw1", "gw2", false)
	took := w.until(2*testInterval, "gw2 steps down", w.isRole("gw2", RoleBackup))
	if took > testInterval+netDelay {
		t.Errorf("resolved after %v, want the next advert", took)
	}
	w.run(time.Second)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleActive || b != RoleBackup {
		t.Errorf("after heal: gw1 %s, gw2 %s; want the higher priority active", a, b)
	}

	// Equal priorities: the greater name wins.
	w2 := newWorld(t, 0, nodeSpec{name: "gw-a", prio: 100}, nodeSpec{name: "gw-b", prio: 100})
	w2.exclusive = false
	w2.start("gw-a", "gw-b")
	w2.run(2 * time.Second)
	if a, b := w2.role("gw-a"), w2.role("gw-b"); a != RoleBackup || b != RoleActive {
		t.Errorf("equal priorities: gw-a %s, gw-b %s; want gw-b active", a, b)
	}
}

func TestHAActivateFailureStepsDown(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.node("gw1").ctl.activateErr = errors.New("fence failed")
	w.start("gw1")
	w.until(time.Second, "gw1 activating", w.isRole("gw1", RoleActive))
	w.until(10*time.Millisecond, "gw1 steps down", w.isRole("gw1", RoleBackup))
	if d := w.node("gw1").ctl.lastDeactivation(); !strings.Contains(d, "fence failed") {
		t.Errorf("deactivated with %q", d)
	}
	w.run(10 * time.Millisecond)
	for i, a := range w.agents.agents {
		if a.holder != "" {
			t.Errorf("agent %d still held by %s after the failed activation", i, a.holder)
		}
	}
	if st := w.node("gw1").ha.Status(); st.Takeovers != 0 {
		t.Errorf("a failed activation counted as a takeover")
	}
}

func TestHAStatus(t *testing.T) {
	w := newWorld(t, 3, twoGateways()...)
	w.startActive("gw1", "gw2")
	w.run(55 * time.Millisecond)
	st := w.node("gw2").ha.Status()
	if st.Node != "gw2" || st.Role != RoleBackup || st.ActiveNode != "gw1" || !st.Witnesses || !st.Ready || st.Sent == 0 || st.Received == 0 {
		t.Errorf("backup status %+v", st)
	}
	if len(st.Peers) != 1 {
		t.Fatalf("peers %+v, want gw1 only", st.Peers)
	}
	p := st.Peers[0]
	if p.Name != "gw1" || p.Priority != 200 || !p.Seen || p.Role != RoleActive || p.HeartbeatAge > testInterval || !p.Addr.IsValid() {
		t.Errorf("peer status %+v", p)
	}
	if st.LeaseExpiresIn != 0 {
		t.Errorf("a backup's lease expires in %v", st.LeaseExpiresIn)
	}
	a := w.node("gw1").ha.Status()
	if a.LeaseExpiresIn <= testLeaseView-testInterval-jobDelay || a.LeaseExpiresIn > testLeaseView {
		t.Errorf("active's lease expires in %v", a.LeaseExpiresIn)
	}
	text, err := a.Role.MarshalText()
	if err != nil || string(text) != "active" {
		t.Errorf("role text %q, %v", text, err)
	}
	var r Role
	if err := r.UnmarshalText([]byte("candidate")); err != nil || r != RoleCandidate {
		t.Errorf("unmarshal candidate: %v, %v", r, err)
	}
}

func TestHAConfigChecks(t *testing.T) {
	key, err := NewHeartbeatKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	good := HAConfig{Node: "gw1", Priority: 100, Peers: []Peer{{Name: "gw2", Priority: 50}}, Key: key}
	tr, ctl, log := &fakeTransport{}, &fakeController{}, zap.NewNop()
	if _, err := NewHA(good, tr, nil, ctl, log); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*HAConfig)
	}{
		{"no node", func(c *HAConfig) { c.Node = "" }},
		{"bad node", func(c *HAConfig) { c.Node = "gw 1" }},
		{"no key", func(c *HAConfig) { c.Key = HeartbeatKey{} }},
		{"no peer", func(c *HAConfig) { c.Peers = nil }},
		{"only self", func(c *HAConfig) { c.Peers = []Peer{{Name: "gw1", Priority: 100}} }},
		{"self with another priority", func(c *HAConfig) { c.Peers = append(c.Peers, Peer{Name: "gw1", Priority: 1}) }},
		{"peer twice", func(c *HAConfig) { c.Peers = append(c.Peers, c.Peers[0]) }},
		{"priority", func(c *HAConfig) { c.Priority = MaxPriority + 1 }},
		{"interval", func(c *HAConfig) { c.Interval = time.Millisecond }},
		{"lease", func(c *HAConfig) { c.Interval, c.Lease = time.Second, time.Second }},
		{"skew", func(c *HAConfig) { c.Skew = -1 }},
		{"preempt delay", func(c *HAConfig) { c.PreemptDelay = -1 }},
	} {
		cfg := good
		cfg.Peers = append([]Peer(nil), good.Peers...)
		c.edit(&cfg)
		if _, err := NewHA(cfg, tr, nil, ctl, log); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	var nilWitnesses *AgentWitnesses
	h, err := NewHA(good, tr, nilWitnesses, ctl, log)
	if err != nil || h.wit != nil {
		t.Errorf("a nil *AgentWitnesses must mean no witnesses: %v", err)
	}
}
