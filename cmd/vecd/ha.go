package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"vec/agent/client"
	"vec/control/config"
	"vec/control/manager"
	"vec/recovery"
)

// readinessPoll is how often the backup's readiness (its servers answer
// ARP) is refreshed for the HA machine, which reads it under its own lock
// and must not wait for the manager's.
const readinessPoll = 100 * time.Millisecond

// deactivateTimeout bounds switching the workers to standby.
const deactivateTimeout = 2 * time.Second

// haController is the recovery.Controller of vecd: activation is a
// takeover (fence, rebuild, forward), deactivation is standby. Both run
// in order on one goroutine, so a deactivation the machine asked for after
// an activation is never overtaken by it.
type haController struct {
	log   *zap.Logger
	rec   *recoverer
	ready atomic.Bool
	ops   chan haOp
}

type haOp struct {
	activate bool
	ctx      context.Context // activate only
	reason   string          // deactivate only
	done     chan error      // activate only
}

func newHAController(log *zap.Logger, rec *recoverer) *haController {
	return &haController{log: log, rec: rec, ops: make(chan haOp, 64)}
}

// run carries out the operations until ctx ends, then puts the workers in
// standby.
func (c *haController) run(ctx context.Context, m *manager.Manager) {
	tick := time.NewTicker(readinessPoll)
	defer tick.Stop()
	c.ready.Store(m.ServersResolved())
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.ready.Store(m.ServersResolved())
		case op := <-c.ops:
			if op.activate {
				op.done <- c.activate(op.ctx)
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, deactivateTimeout)
			if err := c.rec.standby(sctx); err != nil {
				c.log.Error("switching the workers to standby", zap.String("reason", op.reason), zap.Error(err))
			}
			cancel()
		}
	}
}

func (c *haController) activate(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // stepped down before it began
	}
	_, err := c.rec.takeover(ctx, "takeover")
	return err
}

// Activate implements recovery.Controller.
func (c *haController) Activate(ctx context.Context, term uint64) error {
	done := make(chan error, 1)
	select {
	case c.ops <- haOp{activate: true, ctx: ctx, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The takeover sees the same ctx and ends soon; the machine calls
		// Deactivate after this returns, which is queued behind it.
		return <-done
	}
}

// Deactivate implements recovery.Controller: it queues the switch to
// standby and returns at once (it is called under the machine's lock).
func (c *haController) Deactivate(reason string) {
	select {
	case c.ops <- haOp{reason: reason}:
	default:
		// 64 operations pending means the worker rings are stuck; the
		// standby already queued will still run.
		c.log.Error("HA operations queue full; standby request dropped", zap.String("reason", reason))
	}
}

// Ready implements recovery.Controller.
func (c *haController) Ready() bool { return c.ready.Load() }

// startHA builds the HA machine of the ha section: heartbeats on this
// node's management address, the agents as witnesses.
// health (the gateway's link watch) makes an active gateway whose data
// ports are all down hand over to a backup.
func startHA(log *zap.Logger, ha *config.HARuntime, rec *recoverer, ctl *haController, health func() error) (*recovery.HA, error) {
	self, ok := ha.Self()
	if !ok {
		return nil, fmt.Errorf("ha: node %q is not in ha.gateways", ha.Node)
	}
	key, err := recovery.LoadHeartbeatKeyFile(ha.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ha.key_file: %w", err)
	}
	var peers []recovery.Peer
	var peerAddrs []netip.AddrPort
	for _, g := range ha.Gateways {
		peers = append(peers, recovery.Peer{Name: g.Name, Addr: g.Address, Priority: g.Priority})
		if g.Name != ha.Node {
			peerAddrs = append(peerAddrs, g.Address)
		}
	}
	tr, err := recovery.ListenUDP(self.Address, peerAddrs, log.Named("heartbeat"))
	if err != nil {
		return nil, fmt.Errorf("ha: heartbeat socket on %s: %w", self.Address, err)
	}
	var wit recovery.Witnesses
	if len(rec.agents) > 0 {
		targets := make([]client.Target, len(rec.agents))
		for i, a := range rec.agents {
			targets[i] = a.Target
		}
		aw, err := recovery.NewAgentWitnesses(rec.client, ha.Node, targets, log.Named("witness"))
		if err != nil {
			tr.Close()
			return nil, err
		}
		wit = aw
	}
	h, err := recovery.NewHA(recovery.HAConfig{Node: ha.Node, Priority: self.Priority, Peers: peers, Key: key,
		Interval: ha.Interval, Skew: ha.Skew, Lease: ha.Lease, Preempt: ha.Preempt, PreemptDelay: ha.PreemptDelay,
		Health: health},
		tr, wit, ctl, log)
	if err != nil {
		tr.Close()
		return nil, err
	}
	if err := h.Start(); err != nil {
		return nil, err
	}
	return h, nil
}

// haBackend serves /v1/ha and the HA metrics: the HA machine's state when
// there is one, and the last rebuild from the agents.
type haBackend struct {
	ha      *recovery.HA // nil for a gateway alone
	rec     *recoverer
	preempt bool
}

var errAlone = errors.New("this gateway has no ha section: it is the only one, and always active")

func (b *haBackend) RequestTakeover() error {
	if b.ha == nil {
		return errAlone
	}
	return b.ha.RequestTakeover()
}

func (b *haBackend) HAStatus() recovery.GatewayStatus {
	out := recovery.GatewayStatus{Role: "alone"}
	if b.ha != nil {
		st := b.ha.Status()
		out = recovery.GatewayStatus{Node: st.Node, Role: st.Role.String(), Term: st.Term, Priority: st.Priority, Preempt: b.preempt,
			Active: st.ActiveNode, Unhealthy: st.Unhealthy, LeaseGranted: st.LeaseGranted, LeaseAsked: st.LeaseAsked,
			LeaseRemainingMs: msOf(st.LeaseExpiresIn), Takeovers: st.Takeovers, LastTakeoverMs: msOf(st.LastTakeover),
			HeartbeatsSent: st.Sent, HeartbeatsReceived: st.Received, Rejected: map[string]uint64{
				"malformed": st.Rejects.Malformed, "bad_mac": st.Rejects.BadMAC, "unknown_sender": st.Rejects.UnknownSender,
				"stale": st.Rejects.Stale, "replayed": st.Rejects.Replayed}}
		for _, p := range st.Peers {
			age := -1.0
			if p.Seen {
				age = msOf(p.HeartbeatAge)
			}
			out.Peers = append(out.Peers, recovery.GatewayPeer{Name: p.Name, Address: p.Addr.String(), Priority: p.Priority,
				Role: p.Role.String(), Term: p.Term, LastHeartbeatAgeMs: age})
		}
	}
	if rep, at, errText := b.rec.lastReport(); rep != nil {
		rs := &recovery.RebuildStatus{Trigger: rep.Trigger, At: at, Error: errText, TotalMs: msOf(rep.Total),
			FetchMs: msOf(rep.Fetch), InstallMs: msOf(rep.Install), AgentsAsked: rep.AgentsAsked,
			AgentsAnswered: rep.AgentsAnswered, Received: rep.Received, Installed: rep.Installed, Existing: rep.Existing,
			Foreign: rep.Foreign, ConflictsResolved: rep.ConflictsResolved, ConflictsDropped: rep.ConflictsDropped}
		for _, a := range rep.Agents {
			if a.Error != "" {
				rs.AgentsDown = append(rs.AgentsDown, a.Name+": "+a.Error)
			}
		}
		out.LastRebuild = rs
	}
	return out
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// haStopTimeout bounds the graceful hand-over at shutdown.
const haStopTimeout = 2 * time.Second

// stopHA stops the HA machine gracefully (nil: nothing to stop).
func stopHA(log *zap.Logger, h *recovery.HA) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), haStopTimeout)
	defer cancel()
	if err := h.Stop(ctx); err != nil {
		log.Warn("stopping HA", zap.Error(err))
	}
}
