package recovery

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Role is a gateway's part in the HA protocol.
type Role uint8

// Roles. RoleUnknown is a peer not heard from yet.
const (
	RoleUnknown Role = iota
	// RoleBackup: standing by; follows the active gateway's adverts.
	RoleBackup
	// RoleCandidate: no active gateway heard; asking the witnesses for a
	// lease on a new term.
	RoleCandidate
	// RoleActive: holds the lease (or, without witnesses, claims the
	// role) and forwards.
	RoleActive
	// RoleStopped: stopped, or not started yet.
	RoleStopped
)

var roleNames = [...]string{"unknown", "backup", "candidate", "active", "stopped"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// MarshalText names the role ("backup", "active", ...).
func (r Role) MarshalText() ([]byte, error) {
	if int(r) >= len(roleNames) {
		return nil, fmt.Errorf("role %d has no name", uint8(r))
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText parses a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	for i, n := range roleNames {
		if string(b) == n {
			*r = Role(i)
			return nil
		}
	}
	return fmt.Errorf("unknown role %q", b)
}

// Defaults of HAConfig.
const (
	DefaultHeartbeatInterval = 100 * time.Millisecond
	DefaultMaxClockSkew      = 2 * time.Second
	// MinHeartbeatInterval bounds how fast heartbeats may go.
	MinHeartbeatInterval = 10 * time.Millisecond
)

// shutdownCopies is how many SHUTDOWN datagrams a gateway sends when it
// stops being active: one lost datagram must not cost a master-down wait.
const shutdownCopies = 3

// leaseMarginDivisor: a gateway considers its lease over 1/leaseMarginDivisor
// of it early, so that an agent's clock running up to that much slower than
// the gateway's still outlasts the gateway's view (docs/recovery.md).
const leaseMarginDivisor = 100

// haLogEvery bounds repeated warnings (rejected heartbeats, refused
// leases, failed sends) to one line per reason per period.
const haLogEvery = 10 * time.Second

// Peer is another gateway sharing the configuration.
type Peer struct {
	Name string
	// Addr is the peer's heartbeat address (the transport sends to it;
	// Status shows it).
	Addr     netip.AddrPort
	Priority int
}

// HAConfig configures the HA state machine.
type HAConfig struct {
	// Node is this gateway's name, Priority its priority (the higher the
	// more it is preferred as active).
	Node     string
	Priority int
	// Peers are the other gateways. An entry named Node is this gateway's
	// own and is skipped (its priority must be Priority), so the whole
	// gateway list of the configuration may be passed.
	Peers []Peer
	// Key signs and checks heartbeats; the same on every gateway.
	Key HeartbeatKey
	// Interval is the heartbeat (and lease renewal) period; 0 means
	// DefaultHeartbeatInterval.
	Interval time.Duration
	// Skew is added to 3 × Interval to make the master-down interval.
	Skew time.Duration
	// Lease is the lease asked of the witnesses; 0 means 3 × Interval.
	// It must be longer than Interval (each renewal may take up to one).
	Lease time.Duration
	// Preempt: a ready backup with a higher priority than the active asks
	// it to yield, once it has been a ready backup for PreemptDelay.
	Preempt      bool
	PreemptDelay time.Duration
	// MaxClockSkew is the largest accepted distance between a heartbeat's
	// time and this gateway's clock; 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// Clock drives the machine; nil means SystemClock.
	Clock Clock
	// Health, when set, says whether this gateway can forward at all
	// (vecd: not when every data port's link is down): a non-nil error
	// says why not. It is called under the machine's lock every interval
	// and before claiming the active role, so it must return quickly. An
	// unhealthy active gateway gives the role up as on a graceful stop
	// (leases released, SHUTDOWN) so that a backup takes over at once;
	// an unhealthy backup advertises itself not ready, does not preempt
	// and does not claim the role when the active one goes away. nil
	// means always healthy.
	Health func() error
}

// Controller is what the HA machine drives: the gateway's dataplane and its
// takeover (the lead's implementation).
type Controller interface {
	// Activate makes this gateway forward for term: fence, rebuild,
	// forward. It is called from a goroutine of its own (heartbeats go on
	// meanwhile) and may take a second or so. ctx is cancelled when the
	// gateway steps down before it returns; Deactivate is then called
	// (at once) and again after Activate returns, so the last call the
	// controller sees is Deactivate. An error makes the gateway step down.
	Activate(ctx context.Context, term uint64) error
	// Deactivate puts the dataplane in standby at once. It is called with
	// the machine's lock held: it must return quickly and must not call
	// the HA's methods.
	Deactivate(reason string)
	// Ready reports whether this gateway could take over now (its servers
	// are resolved). Called under the lock like Deactivate, every
	// interval; it goes into the adverts and gates preemption.
	Ready() bool
}

// HA is the HA state machine of one gateway (in the manner of Seesaw's
// ha package): roles, heartbeats, master-down detection, witness leases,
// preemption and graceful stop. It is safe for concurrent use.
type HA struct {
	cfg        HAConfig
	peers      []Peer
	priority   map[string]int
	masterDown time.Duration
	tr         Transport
	wit        Witnesses
	ctl        Controller
	log        *zap.Logger
	clock      Clock

	// spawn runs background work: witness calls, Activate, the SHUTDOWN
	// after a yield. Tests replace it to run that work on their fake
	// clock.
	spawn  func(func())
	work   sync.WaitGroup
	ctx    context.Context // of the background work; cancelled by Stop
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	stopped bool
	role    Role
	// term is this gateway's own term while candidate or active, the
	// highest seen while backup; highest is the highest granted term seen
	// (witness replies, active peers' heartbeats).
	term    uint64
	highest uint64
	// activeNode is the gateway believed active ("" for none known).
	activeNode string
	ready      bool
	peerState  map[string]*peerState
	guard      *heartbeatGuard
	seq        uint64
	lastStamp  int64 // Unix ns of the last datagram sent
	sent       uint64
	received   uint64
	rng        *rand.Rand
	limiter    logLimiter

	// unhealthy is why HAConfig.Health last said this gateway cannot
	// forward ("" when it can).
	unhealthy string

	tick, masterDownTimer, retry, leaseTimer haTimer

	candidateSince time.Time
	candidacy      uint64 // counts candidacies: a witness answer names its own
	acquiring      bool
	renewing       bool
	leaseUntil     time.Time
	lastLease      LeaseOutcome

	activation       uint64 // counts activations: an Activate's return names its own
	activating       bool
	cancelActivation context.CancelFunc

	readySince    time.Time // since when a ready backup; zero when not
	preemptHeld   bool      // yielded to an operator: do not preempt back
	operatorUntil time.Time // an operator's takeover request is repeated until then

	takeovers    uint64
	lastTakeover time.Duration
}

type peerState struct {
	last     time.Time
	role     Role
	term     uint64
	ready    bool
	priority int
}

// haTimer is a re-armable timer whose stale firings are ignored.
type haTimer struct {
	t   Timer
	gen uint64
}

// NewHA checks cfg and returns a stopped machine. tr carries heartbeats
// (Stop closes it); wit are the witnesses, nil for none: plain VRRP, which
// does not protect against split brain (docs/recovery.md); ctl is driven.
func NewHA(cfg HAConfig, tr Transport, wit Witnesses, ctl Controller, log *zap.Logger) (*HA, error) {
	if tr == nil || ctl == nil || log == nil {
		return nil, errors.New("ha: transport, controller and logger are required")
	}
	if w, ok := wit.(*AgentWitnesses); ok && w == nil {
		wit = nil
	}
	if err := checkNodeName(cfg.Node); err != nil {
		return nil, fmt.Errorf("ha: node: %w", err)
	}
	if cfg.Priority < 0 || cfg.Priority > MaxPriority {
		return nil, fmt.Errorf("ha: priority %d outside 0..%d", cfg.Priority, MaxPriority)
	}
	if cfg.Key.IsZero() {
		return nil, errors.New("ha: no heartbeat key")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultHeartbeatInterval
	}
	if cfg.Lease == 0 {
		cfg.Lease = 3 * cfg.Interval
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	switch {
	case cfg.Interval < MinHeartbeatInterval:
		return nil, fmt.Errorf("ha: interval %v, want at least %v", cfg.Interval, MinHeartbeatInterval)
	case cfg.Skew < 0:
		return nil, fmt.Errorf("ha: skew %v is negative", cfg.Skew)
	case cfg.Lease <= cfg.Interval:
		return nil, fmt.Errorf("ha: lease %v must be longer than the interval %v", cfg.Lease, cfg.Interval)
	case cfg.PreemptDelay < 0:
		return nil, fmt.Errorf("ha: preempt delay %v is negative", cfg.PreemptDelay)
	case cfg.MaxClockSkew < 0:
		return nil, fmt.Errorf("ha: max clock skew %v is negative", cfg.MaxClockSkew)
	}
	h := &HA{
		cfg:        cfg,
		priority:   map[string]int{},
		masterDown: 3*cfg.Interval + cfg.Skew,
		tr:         tr,
		wit:        wit,
		ctl:        ctl,
		log:        log,
		clock:      cfg.Clock,
		role:       RoleStopped,
		peerState:  map[string]*peerState{},
		limiter:    logLimiter{every: haLogEvery},
	}
	var names []string
	for i, p := range cfg.Peers {
		if p.Name == cfg.Node {
			if p.Priority != cfg.Priority {
				return nil, fmt.Errorf("ha: peers[%d] is this node %s with priority %d, not %d", i, p.Name, p.Priority, cfg.Priority)
			}
			continue
		}
		if err := checkNodeName(p.Name); err != nil {
			return nil, fmt.Errorf("ha: peers[%d]: %w", i, err)
		}
		if _, dup := h.priority[p.Name]; dup {
			return nil, fmt.Errorf("ha: peers[%d]: %s named twice", i, p.Name)
		}
		if p.Priority < 0 || p.Priority > MaxPriority {
			return nil, fmt.Errorf("ha: peers[%d]: priority %d outside 0..%d", i, p.Priority, MaxPriority)
		}
		h.peers = append(h.peers, p)
		h.priority[p.Name] = p.Priority
		h.peerState[p.Name] = &peerState{}
		names = append(names, p.Name)
	}
	if len(h.peers) == 0 {
		return nil, errors.New("ha: no peer gateway")
	}
	h.guard = newHeartbeatGuard(cfg.Key, cfg.Node, names, cfg.MaxClockSkew)
	// Candidates that retry after a split vote wait a jittered interval;
	// seeding from the name makes runs repeatable and gateways differ.
	seed := fnv.New64a()
	seed.Write([]byte(cfg.Node))
	h.rng = rand.New(rand.NewPCG(seed.Sum64(), uint64(cfg.Priority)))
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.spawn = func(f func()) { h.work.Go(f) }
	return h, nil
}

// Start begins: the machine is a backup, heartbeats flow, and without an
// active gateway's advert for the master-down interval it becomes a
// candidate.
func (h *HA) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("ha: already started (or stopped)")
	}
	h.started = true
	if err := h.tr.Start(h.deliver); err != nil {
		h.role = RoleStopped
		return fmt.Errorf("ha: %w", err)
	}
	now := h.clock.Now()
	h.log.Info("HA starting as backup", zap.String("node", h.cfg.Node), zap.Int("priority", h.cfg.Priority),
		zap.Int("peers", len(h.peers)), zap.Bool("witnesses", h.wit != nil), zap.Duration("interval", h.cfg.Interval),
		zap.Duration("master_down", h.masterDown), zap.Duration("lease", h.cfg.Lease), zap.Bool("preempt", h.cfg.Preempt))
	if h.wit == nil {
		h.log.Warn("HA without witnesses: plain VRRP, two gateways that cannot hear each other both forward")
	}
	h.ready = h.ctl.Ready() && h.checkHealth()
	h.becomeBackup("start", now)
	h.sendLocked(MsgAdvert, false, now)
	h.arm(&h.tick, h.cfg.Interval, h.onTick)
	return nil
}

// Stop stops gracefully: an active gateway stops forwarding, releases its
// leases and says SHUTDOWN (a few copies) so a backup takes over at once.
// Then the transport is closed and background work waited for, as long as
// ctx allows. Stopping again does nothing.
func (h *HA) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil
	}
	h.stopped, h.started = true, true
	if h.role == RoleStopped { // never started, or its Start failed
		h.mu.Unlock()
		h.cancel()
		return h.closeTransport()
	}
	wasActive, term := h.role == RoleActive, h.term
	// A candidate may hold some leases already: give them back too.
	release := (wasActive || h.role == RoleCandidate) && h.wit != nil
	if wasActive {
		h.ctl.Deactivate("stopping")
		h.endActivation()
	}
	h.setRole(RoleStopped, "stop")
	for _, t := range []*haTimer{&h.tick, &h.masterDownTimer, &h.retry, &h.leaseTimer} {
		h.disarm(t)
	}
	h.mu.Unlock()

	if release {
		h.wit.Release(ctx, term)
	}
	h.mu.Lock()
	for range shutdownCopies {
		h.sendLocked(MsgShutdown, false, h.clock.Now())
	}
	h.mu.Unlock()

	h.cancel()
	var errs []error
	if err := h.closeTransport(); err != nil {
		errs = append(errs, err)
	}
	done := make(chan struct{})
	go func() {
		h.work.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("ha: stop: background work still running: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

func (h *HA) closeTransport() error {
	if err := h.tr.Close(); err != nil {
		return fmt.Errorf("ha: close transport: %w", err)
	}
	return nil
}

// RequestTakeover is the operator's takeover on a backup: it asks the
// active gateway to yield to this one whatever the priorities (repeated
// every interval for a master-down interval, until it does). It is an
// error on a gateway that is not a ready backup following an active one.
func (h *HA) RequestTakeover() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.role {
	case RoleBackup:
	case RoleStopped:
		return errors.New("ha: not running")
	default:
		return fmt.Errorf("ha: this gateway is %s; a takeover is asked for on a backup", h.role)
	}
	if h.activeNode == "" {
		return errors.New("ha: no active gateway heard; a backup becomes active by itself after the master-down interval")
	}
	now := h.clock.Now()
	h.ready = h.ctl.Ready() && h.checkHealth()
	if h.unhealthy != "" {
		return fmt.Errorf("ha: this gateway cannot take over: %s", h.unhealthy)
	}
	if !h.ready {
		return errors.New("ha: this gateway is not ready to take over (its servers are not resolved yet)")
	}
	h.log.Info("asking the active gateway to yield (operator takeover)", zap.String("active", h.activeNode))
	h.operatorUntil = now.Add(h.masterDown)
	h.sendLocked(MsgTakeoverRequest, true, now)
	return nil
}

// HAStatus is the machine's state for the control API and Prometheus.
// Durations are in nanoseconds in JSON.
type HAStatus struct {
	Node     string `json:"node"`
	Priority int    `json:"priority"`
	Role     Role   `json:"role"`
	Term     uint64 `json:"term"`
	// ActiveNode is the gateway believed active: this one when active, ""
	// when none is known.
	ActiveNode string `json:"active_node"`
	// Unhealthy is why HAConfig.Health last said this gateway cannot
	// forward; "" when healthy.
	Unhealthy string `json:"unhealthy,omitempty"`
	// Activating: active, and Activate has not returned yet.
	Activating bool `json:"activating"`
	Ready      bool `json:"ready"`
	// Witnesses: leases protect against split brain (false: plain VRRP).
	Witnesses bool `json:"witnesses"`
	// LeaseGranted of LeaseAsked witnesses granted the last acquire or
	// renewal; LeaseExpiresIn is what is left of the lease while active
	// with witnesses (0 otherwise).
	LeaseGranted   int           `json:"lease_granted"`
	LeaseAsked     int           `json:"lease_asked"`
	LeaseExpiresIn time.Duration `json:"lease_expires_in"`
	// Takeovers counts the activations that completed; LastTakeover is
	// the last one's duration, from becoming a candidate to Activate
	// returning.
	Takeovers    uint64        `json:"takeovers"`
	LastTakeover time.Duration `json:"last_takeover"`
	Peers        []PeerStatus  `json:"peers"`
	// Rejects counts received datagrams not believed, by reason.
	Rejects RejectCounts `json:"rejects"`
	// Sent and Received count datagrams sent and accepted.
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
}

// PeerStatus is what is known of a peer from its last accepted heartbeat.
type PeerStatus struct {
	Name     string         `json:"name"`
	Addr     netip.AddrPort `json:"addr"`
	Priority int            `json:"priority"`
	// Seen is false before the first accepted heartbeat; then Role is
	// RoleUnknown and HeartbeatAge 0.
	Seen         bool          `json:"seen"`
	Role         Role          `json:"role"`
	Term         uint64        `json:"term"`
	Ready        bool          `json:"ready"`
	HeartbeatAge time.Duration `json:"heartbeat_age"`
}

// Status returns the machine's state now.
func (h *HA) Status() HAStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	st := HAStatus{
		Node:         h.cfg.Node,
		Priority:     h.cfg.Priority,
		Role:         h.role,
		Term:         h.term,
		ActiveNode:   h.activeNode,
		Unhealthy:    h.unhealthy,
		Activating:   h.activating && h.role == RoleActive,
		Ready:        h.ready,
		Witnesses:    h.wit != nil,
		LeaseGranted: h.lastLease.Granted,
		LeaseAsked:   h.lastLease.Asked,
		Takeovers:    h.takeovers,
		LastTakeover: h.lastTakeover,
		Rejects:      h.guard.rejects,
		Sent:         h.sent,
		Received:     h.received,
	}
	if h.role == RoleActive && h.wit != nil {
		st.LeaseExpiresIn = max(h.leaseUntil.Sub(now), 0)
	}
	for _, p := range h.peers {
		ps := h.peerState[p.Name]
		s := PeerStatus{Name: p.Name, Addr: p.Addr, Priority: p.Priority}
		if !ps.last.IsZero() {
			s.Seen, s.Role, s.Term, s.Ready, s.HeartbeatAge = true, ps.role, ps.term, ps.ready, now.Sub(ps.last)
		}
		st.Peers = append(st.Peers, s)
	}
	return st
}

// deliver is the transport's callback for every received datagram.
func (h *HA) deliver(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.role == RoleStopped {
		return
	}
	now := h.clock.Now()
	hb, reason, err := h.guard.accept(b, now)
	if reason != 0 {
		if ok, suppressed := h.limiter.allow("reject "+reason.String(), now); ok {
			h.log.Warn("heartbeat rejected", zap.Stringer("reason", reason), zap.Int("suppressed", suppressed), zap.Error(err))
		}
		return
	}
	h.received++
	ps := h.peerState[hb.Node]
	ps.last, ps.role, ps.term, ps.ready, ps.priority = now, hb.Role, hb.Term, hb.Ready, hb.Priority
	if hb.Priority != h.priority[hb.Node] {
		if ok, _ := h.limiter.allow("priority "+hb.Node, now); ok {
			h.log.Warn("peer advertises another priority than configured here; the configured one is used",
				zap.String("peer", hb.Node), zap.Int("advertised", hb.Priority), zap.Int("configured", h.priority[hb.Node]))
		}
	}
	if hb.Role == RoleActive {
		h.seeTerm(hb.Term, "a heartbeat from "+hb.Node, now)
	}
	switch hb.Type {
	case MsgAdvert:
		h.onAdvert(hb, now)
	case MsgShutdown:
		h.onShutdown(hb, now)
	case MsgTakeoverRequest:
		h.onTakeoverRequest(hb, now)
	}
}

// seeTerm notes a granted term seen in a witness reply or an active peer's
// heartbeat. A candidate's term is a proposal and is not passed here. With
// witnesses, an active gateway that sees a higher term than its own steps
// down at once: someone else was granted a later term.
func (h *HA) seeTerm(t uint64, source string, now time.Time) {
	if t <= h.highest {
		return
	}
	h.highest = t
	switch h.role {
	case RoleBackup:
		h.term = t
	case RoleActive:
		if h.wit != nil && t > h.term {
			h.stepDown(fmt.Sprintf("higher term %d seen in %s", t, source), now, true)
		}
	}
}

func (h *HA) onAdvert(hb Heartbeat, now time.Time) {
	if hb.Role != RoleActive {
		if h.role == RoleBackup && h.activeNode == hb.Node {
			h.activeGone(fmt.Sprintf("%s stopped being active (it advertises %s)", hb.Node, hb.Role), now)
		}
		return
	}
	switch h.role {
	case RoleCandidate:
		h.becomeBackup(fmt.Sprintf("%s is active (term %d)", hb.Node, hb.Term), now)
	case RoleActive:
		if !h.peerWins(hb) {
			// The peer steps down when it hears this gateway's advert.
			return
		}
		h.stepDown(fmt.Sprintf("%s is active too (term %d, priority %d) and wins", hb.Node, hb.Term, h.priority[hb.Node]), now, true)
	}
	h.activeNode = hb.Node
	h.arm(&h.masterDownTimer, h.masterDown, h.onMasterDown)
}

// activeGone handles the gateway this backup followed leaving the active
// role: follow another peer that advertised itself active within the
// master-down interval (two actives are being resolved), else become a
// candidate at once, without waiting for master-down.
func (h *HA) activeGone(reason string, now time.Time) {
	gone := h.activeNode
	h.activeNode = ""
	for _, p := range h.peers {
		ps := h.peerState[p.Name]
		if p.Name != gone && ps.role == RoleActive && now.Sub(ps.last) < h.masterDown {
			h.activeNode = p.Name
			return // its adverts keep the master-down timer going
		}
	}
	h.claim(reason, now)
}

// claim makes this backup a candidate for the active role, unless it is
// unhealthy: then it stays a backup and looks again after an interval
// (an unhealthy gateway could not forward; if every gateway is unhealthy
// none is active, and the first to recover claims the role).
func (h *HA) claim(reason string, now time.Time) {
	if !h.checkHealth() {
		if ok, suppressed := h.limiter.allow("unhealthy claim", now); ok {
			h.log.Warn("not claiming the active role while unhealthy", zap.String("because", reason),
				zap.String("unhealthy", h.unhealthy), zap.Int("suppressed", suppressed))
		}
		h.arm(&h.masterDownTimer, h.cfg.Interval, h.onMasterDown)
		return
	}
	h.becomeCandidate(reason, now)
}

// checkHealth asks HAConfig.Health, notes why this gateway is unhealthy
// (logging each change) and reports whether it is healthy.
func (h *HA) checkHealth() bool {
	if h.cfg.Health == nil {
		return true
	}
	why := ""
	if err := h.cfg.Health(); err != nil {
		why = err.Error()
		if why == "" {
			why = "unhealthy"
		}
	}
	if why != h.unhealthy {
		if why != "" {
			h.log.Warn("gateway unhealthy: it does not hold or claim the active role until it recovers", zap.String("why", why),
				zap.Stringer("role", h.role))
		} else {
			h.log.Info("gateway healthy again", zap.String("was", h.unhealthy))
		}
		h.unhealthy = why
	}
	return why == ""
}

// peerWins decides between this active gateway and an active peer. With
// witnesses the higher term wins (a lower one has lost its lease or soon
// will); without, or on equal terms, the higher priority, then the greater
// name, as VRRP.
func (h *HA) peerWins(hb Heartbeat) bool {
	if h.wit != nil && hb.Term != h.term {
		return hb.Term > h.term
	}
	if p := h.priority[hb.Node]; p != h.cfg.Priority {
		return p > h.cfg.Priority
	}
	return hb.Node > h.cfg.Node
}

func (h *HA) onShutdown(hb Heartbeat, now time.Time) {
	switch {
	case h.role == RoleBackup && h.activeNode == hb.Node:
		h.activeGone(fmt.Sprintf("%s shut down", hb.Node), now)
	case h.role == RoleCandidate && !h.acquiring:
		// Its leases are released: try now rather than at the next retry.
		h.attempt(now)
	}
}

func (h *HA) onTakeoverRequest(hb Heartbeat, now time.Time) {
	if h.role != RoleActive {
		return
	}
	prio := h.priority[hb.Node]
	var why string
	switch {
	case !hb.Ready:
		why = "it is not ready"
	case hb.Operator:
		h.yield(fmt.Sprintf("operator takeover on %s", hb.Node), true, now)
		return
	case prio > h.cfg.Priority:
		h.yield(fmt.Sprintf("preempted by %s (priority %d > %d)", hb.Node, prio, h.cfg.Priority), false, now)
		return
	default:
		why = fmt.Sprintf("its priority %d is not above %d", prio, h.cfg.Priority)
	}
	if ok, suppressed := h.limiter.allow("takeover request "+hb.Node, now); ok {
		h.log.Info("takeover request ignored", zap.String("from", hb.Node), zap.String("why", why), zap.Int("suppressed", suppressed))
	}
}

// yield hands the active role to a requester: stop forwarding, release the
// leases, then say SHUTDOWN so the requester becomes a candidate at once.
func (h *HA) yield(reason string, operator bool, now time.Time) {
	term := h.term
	h.leaveActive(reason, now)
	// An operator moved the role on purpose: do not take it back by
	// preemption until this gateway has been active again.
	h.preemptHeld = operator
	h.spawnWork(func() {
		if h.wit != nil {
			ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Interval)
			h.wit.Release(ctx, term)
			cancel()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.role == RoleStopped {
			return // Stop has said SHUTDOWN already
		}
		for range shutdownCopies {
			h.sendLocked(MsgShutdown, false, h.clock.Now())
		}
	})
}

func (h *HA) onMasterDown(now time.Time) {
	if h.role != RoleBackup {
		return
	}
	reason := fmt.Sprintf("no advert from an active gateway for %v", h.masterDown)
	if h.activeNode != "" {
		reason = fmt.Sprintf("no advert from %s for %v", h.activeNode, h.masterDown)
	}
	h.claim(reason, now)
}

func (h *HA) onTick(now time.Time) {
	h.arm(&h.tick, h.cfg.Interval, h.onTick)
	healthy := h.checkHealth()
	h.ready = h.ctl.Ready() && healthy
	if !healthy {
		switch h.role {
		case RoleActive:
			// As a graceful stop: the backup hears the SHUTDOWN (or this
			// advert saying backup) and takes over at once.
			h.yield("unhealthy: "+h.unhealthy, false, now)
		case RoleCandidate:
			h.becomeBackup("unhealthy: "+h.unhealthy, now)
		}
	}
	h.sendLocked(MsgAdvert, false, now)
	switch h.role {
	case RoleBackup:
		h.checkPreempt(now)
	case RoleActive:
		h.renew(now)
	}
}

// checkPreempt sends a TAKEOVER_REQUEST when this backup should be active:
// an operator asked for it recently, or preemption is on and this gateway
// has a higher priority than the active one and has been a ready backup
// for PreemptDelay.
func (h *HA) checkPreempt(now time.Time) {
	switch {
	case !h.ready:
		h.readySince = time.Time{}
	case h.readySince.IsZero():
		h.readySince = now
	}
	if h.activeNode == "" || !h.ready {
		return
	}
	if now.Before(h.operatorUntil) {
		h.sendLocked(MsgTakeoverRequest, true, now)
		return
	}
	if !h.cfg.Preempt || h.preemptHeld || h.priority[h.activeNode] >= h.cfg.Priority || now.Sub(h.readySince) < h.cfg.PreemptDelay {
		return
	}
	if ok, _ := h.limiter.allow("preempt", now); ok {
		h.log.Info("asking the active gateway to yield (preempt)", zap.String("active", h.activeNode),
			zap.Int("its_priority", h.priority[h.activeNode]), zap.Int("priority", h.cfg.Priority))
	}
	h.sendLocked(MsgTakeoverRequest, false, now)
}

func (h *HA) becomeBackup(reason string, now time.Time) {
	h.term = h.highest
	h.setRole(RoleBackup, reason)
	h.activeNode = ""
	h.readySince = time.Time{}
	h.operatorUntil = time.Time{}
	h.disarm(&h.retry)
	h.arm(&h.masterDownTimer, h.masterDown, h.onMasterDown)
}

func (h *HA) becomeCandidate(reason string, now time.Time) {
	h.term = h.highest + 1 // what attempt asks for, unless it learns of a higher one
	h.setRole(RoleCandidate, reason)
	h.candidacy++
	h.candidateSince = now
	h.activeNode = ""
	h.operatorUntil = time.Time{}
	h.disarm(&h.masterDownTimer)
	h.attempt(now)
}

// attempt tries to become active for the term after the highest seen: at
// once without witnesses, else by asking the witnesses for a lease.
func (h *HA) attempt(now time.Time) {
	h.disarm(&h.retry)
	if h.acquiring {
		return // its answer comes back to a candidate and tries again
	}
	if h.activating {
		// A cancelled Activate is still returning: one activation at a
		// time, so that the controller's last call is never stale.
		h.arm(&h.retry, h.cfg.Interval, h.onRetry)
		return
	}
	h.term = h.highest + 1
	if h.wit == nil {
		h.becomeActive(now, time.Time{}, fmt.Sprintf("candidate for term %d without witnesses", h.term))
		return
	}
	h.acquiring = true
	gen, term := h.candidacy, h.term
	h.acquireAsync(term, func(out LeaseOutcome) { h.onAcquired(gen, term, now, out) })
}

func (h *HA) onRetry(now time.Time) {
	if h.role == RoleCandidate {
		h.attempt(now)
	}
}

// onAcquired takes a candidate's lease answer: a majority for its term (and
// no higher term seen) makes it active; anything else is given back and
// tried again after a jittered interval.
func (h *HA) onAcquired(gen, term uint64, launched time.Time, out LeaseOutcome) {
	h.acquiring = false
	if h.role == RoleStopped {
		return
	}
	now := h.clock.Now()
	h.seeTerm(out.HighestTerm, "the witnesses' replies", now)
	if gen != h.candidacy || h.role != RoleCandidate {
		if out.Granted > 0 {
			h.releaseAsync(term)
		}
		if h.role == RoleCandidate {
			h.attempt(now)
		}
		return
	}
	h.lastLease = out
	if out.Majority() && out.HighestTerm <= term {
		if until := h.leaseEnd(launched, out); now.Before(until) {
			h.becomeActive(now, until, fmt.Sprintf("lease for term %d from %d of %d witnesses", term, out.Granted, out.Asked))
			return
		}
	}
	if out.Granted > 0 {
		h.releaseAsync(term)
	}
	if ok, suppressed := h.limiter.allow("acquire", now); ok {
		h.log.Info("no lease majority; candidate retries", zap.Uint64("term", term), zap.Int("granted", out.Granted),
			zap.Int("asked", out.Asked), zap.Int("failed", out.Failed), zap.Uint64("highest_term", out.HighestTerm),
			zap.String("holder", out.HighestHolder), zap.Int("suppressed", suppressed))
	}
	h.arm(&h.retry, h.cfg.Interval+time.Duration(h.rng.Int64N(int64(h.cfg.Interval/2)+1)), h.onRetry)
}

// leaseEnd is when a lease granted by a majority ends in this gateway's
// view: counted from before the request was sent (the earlier of launch
// and SentAt), for the shorter of the lease asked and the majority's, less
// the clock-rate margin.
func (h *HA) leaseEnd(launched time.Time, out LeaseOutcome) time.Time {
	from := launched
	if out.SentAt.Before(from) {
		from = out.SentAt
	}
	d := min(h.cfg.Lease, out.Lease)
	return from.Add(d - d/leaseMarginDivisor)
}

// becomeActive takes the active role (the lease, until until, already
// held when there are witnesses) and starts Activate in the background;
// heartbeats go on meanwhile.
func (h *HA) becomeActive(now, until time.Time, reason string) {
	h.setRole(RoleActive, reason)
	h.activeNode = h.cfg.Node
	h.preemptHeld = false
	h.disarm(&h.masterDownTimer)
	h.disarm(&h.retry)
	if h.wit != nil {
		h.leaseUntil = until
		h.arm(&h.leaseTimer, until.Sub(now), h.onLeaseTimer)
	}
	h.activation++
	ctx, cancel := context.WithCancel(h.ctx)
	h.cancelActivation = cancel
	h.activating = true
	gen, term := h.activation, h.term
	h.spawnWork(func() {
		err := h.ctl.Activate(ctx, term)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.onActivated(gen, err)
	})
	// Tell the peers now, not at the next tick.
	h.sendLocked(MsgAdvert, false, now)
	h.arm(&h.tick, h.cfg.Interval, h.onTick)
}

func (h *HA) onActivated(gen uint64, err error) {
	h.activating = false
	now := h.clock.Now()
	if gen != h.activation || h.role != RoleActive {
		h.ctl.Deactivate("activation returned after this gateway stepped down")
		return
	}
	if err != nil {
		h.stepDown(fmt.Sprintf("activation failed: %v", err), now, true)
		return
	}
	h.takeovers++
	h.lastTakeover = now.Sub(h.candidateSince)
	h.log.Info("active: takeover complete", zap.Uint64("term", h.term), zap.Duration("duration", h.lastTakeover))
}

// renew asks the witnesses to extend the lease, in the background: a slow
// agent never delays a heartbeat. One renewal at a time.
func (h *HA) renew(now time.Time) {
	if h.wit == nil || h.renewing {
		return
	}
	h.renewing = true
	term := h.term
	h.acquireAsync(term, func(out LeaseOutcome) { h.onRenewed(term, now, out) })
}

func (h *HA) onRenewed(term uint64, launched time.Time, out LeaseOutcome) {
	h.renewing = false
	if h.role == RoleStopped {
		return
	}
	now := h.clock.Now()
	if h.role == RoleActive && h.term == term && out.Majority() {
		// A higher term at a minority of the witnesses is a candidate's
		// partial grant where this gateway's lease had lapsed; a majority
		// renewed this term, and no other gateway can hold a majority at
		// the same time. Stepping down would only let the candidate in.
		h.highest = max(h.highest, out.HighestTerm)
	} else if h.role == RoleActive && h.term == term && out.HighestTerm > term {
		// Without a majority, the higher term (seen before or now) ends
		// this one at once.
		h.highest = max(h.highest, out.HighestTerm)
		h.stepDown(fmt.Sprintf("higher term %d seen in the witnesses' replies", out.HighestTerm), now, true)
	} else {
		h.seeTerm(out.HighestTerm, "the witnesses' replies", now)
	}
	if h.role != RoleActive || h.term != term {
		if out.Granted > 0 {
			h.releaseAsync(term)
		}
		return
	}
	h.lastLease = out
	if out.Majority() {
		if until := h.leaseEnd(launched, out); until.After(h.leaseUntil) {
			h.leaseUntil = until
			h.arm(&h.leaseTimer, until.Sub(now), h.onLeaseTimer)
		}
		return
	}
	if ok, suppressed := h.limiter.allow("renew", now); ok {
		h.log.Warn("lease renewal without a majority", zap.Uint64("term", term), zap.Int("granted", out.Granted),
			zap.Int("asked", out.Asked), zap.Int("failed", out.Failed), zap.Duration("expires_in", h.leaseUntil.Sub(now)),
			zap.Int("suppressed", suppressed))
	}
}

func (h *HA) onLeaseTimer(now time.Time) {
	if h.role != RoleActive {
		return
	}
	if now.Before(h.leaseUntil) {
		h.arm(&h.leaseTimer, h.leaseUntil.Sub(now), h.onLeaseTimer)
		return
	}
	h.stepDown(fmt.Sprintf("lease for term %d expired without a majority renewing it (last: %d of %d)",
		h.term, h.lastLease.Granted, h.lastLease.Asked), now, false)
}

// stepDown leaves the active role at once; release gives the leases back
// (pointless when they have expired).
func (h *HA) stepDown(reason string, now time.Time, release bool) {
	term := h.term
	h.leaveActive(reason, now)
	if release && h.wit != nil {
		h.releaseAsync(term)
	}
}

// leaveActive stops forwarding (Deactivate, cancel a running Activate) and
// makes this gateway a backup.
func (h *HA) leaveActive(reason string, now time.Time) {
	h.ctl.Deactivate(reason)
	h.endActivation()
	h.disarm(&h.leaseTimer)
	h.leaseUntil = time.Time{}
	h.becomeBackup(reason, now)
}

func (h *HA) endActivation() {
	if h.cancelActivation != nil {
		h.cancelActivation()
		h.cancelActivation = nil
	}
}

func (h *HA) releaseAsync(term uint64) {
	h.spawnWork(func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Interval)
		defer cancel()
		h.wit.Release(ctx, term)
	})
}

// acquireAsync asks the witnesses for the lease of term in the background
// (a candidate's acquisition or an active gateway's renewal) and hands
// their answer to done, under h.mu.
func (h *HA) acquireAsync(term uint64, done func(LeaseOutcome)) {
	h.spawnWork(func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Interval)
		out := h.wit.Acquire(ctx, term, h.cfg.Lease)
		cancel()
		h.mu.Lock()
		defer h.mu.Unlock()
		done(out)
	})
}

// spawnWork runs f in the background unless the machine has stopped.
func (h *HA) spawnWork(f func()) {
	if h.role != RoleStopped {
		h.spawn(f)
	}
}

func (h *HA) setRole(r Role, reason string) {
	if r == h.role {
		return
	}
	h.log.Info("HA role change", zap.Stringer("from", h.role), zap.Stringer("to", r), zap.Uint64("term", h.term),
		zap.String("reason", reason))
	h.role = r
}

// sendLocked sends one datagram of type t to every peer. Its time is
// strictly after the previous datagram's, whatever the clock does.
func (h *HA) sendLocked(t MsgType, operator bool, now time.Time) {
	stamp := max(now.UnixNano(), h.lastStamp+1)
	h.lastStamp = stamp
	h.seq++
	hb := Heartbeat{Type: t, Node: h.cfg.Node, Priority: h.cfg.Priority, Term: h.term, Role: h.role, Ready: h.ready,
		Operator: operator, Seq: h.seq, Time: time.Unix(0, stamp)}
	b, err := hb.Marshal(h.cfg.Key)
	if err != nil {
		h.log.Error("cannot encode heartbeat", zap.Error(err))
		return
	}
	h.sent++
	if err := h.tr.Send(b); err != nil {
		if ok, suppressed := h.limiter.allow("send", now); ok {
			h.log.Warn("heartbeat send failed", zap.Stringer("type", t), zap.Int("suppressed", suppressed), zap.Error(err))
		}
	}
}

// arm (re)starts tm to call f under the lock after d; a firing of an
// earlier arming, or after Stop, does nothing.
func (h *HA) arm(tm *haTimer, d time.Duration, f func(now time.Time)) {
	h.disarm(tm)
	gen := tm.gen
	tm.t = h.clock.AfterFunc(d, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if tm.gen != gen || h.role == RoleStopped {
			return
		}
		tm.t = nil
		f(h.clock.Now())
	})
}

func (h *HA) disarm(tm *haTimer) {
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
	tm.gen++
}
