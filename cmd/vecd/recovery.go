package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/weights"
	"vec/fastpath"
	"vec/gateway"
	"vec/recovery"
)

// recoverer rebuilds the workers' tables from the servers' agents and
// switches the workers between standby and forwarding: on start-up for a
// gateway alone, on every takeover for one of an HA pair.
type recoverer struct {
	log       *zap.Logger
	g         *gateway.Gateway
	m         *manager.Manager
	client    *client.Client
	agents    []recovery.Agent
	announcer *recovery.Announcer
	settings  config.RecoveryRuntime

	mu      sync.Mutex
	last    *recovery.Report
	lastErr string
	lastAt  time.Time
}

// liveDirectory reads the VIPs of the configuration in force at every call,
// for the announcer, which runs across reloads.
type liveDirectory struct{ m *manager.Manager }

func (d liveDirectory) Lookup(proto uint8, vip netip.AddrPort, serverIP netip.Addr) (fastpath.ServiceID, fastpath.ServerID, bool) {
	return d.m.Directory().Lookup(proto, vip, serverIP)
}

func (d liveDirectory) VIPs() []netip.Addr { return d.m.Directory().VIPs() }

// newRecoverer loads every agent's own key; a missing or bad key file
// stops vecd from starting, naming the agent.
func newRecoverer(log *zap.Logger, rs config.RecoveryRuntime, g *gateway.Gateway, m *manager.Manager) (*recoverer, error) {
	r := &recoverer{log: log, g: g, m: m, settings: rs,
		announcer: recovery.NewAnnouncer(g, liveDirectory{m}, log.Named("announce"))}
	for _, a := range rs.Agents {
		key, err := auth.LoadKeyFile(a.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("recovery.agents %s: %w", a.Name, err)
		}
		r.agents = append(r.agents, recovery.Agent{IP: a.IP, IP6: a.IP6, Target: client.Target{Name: a.Name, URL: a.URL, Key: key}})
	}
	c, err := client.New(client.Options{})
	if err != nil {
		return nil, err
	}
	r.client = c
	return r, nil
}

// takeover rebuilds from the agents and makes the workers forward, in the
// patent's order (recovery.Takeover). trigger is "start" or "takeover".
func (r *recoverer) takeover(ctx context.Context, trigger string) (recovery.Report, error) {
	t := &recovery.Takeover{Dataplane: r.g, Directory: r.m.Directory(), Client: r.client, Agents: r.agents,
		FetchTimeout: r.settings.FetchTimeout, InstallChunk: r.settings.InstallChunk, Logger: r.log,
		Announcer: r.announcer}
	var (
		rep recovery.Report
		err error
	)
	if trigger == "start" {
		rep, err = t.RunOnStart(ctx)
	} else {
		rep, err = t.Run(ctx)
	}
	r.mu.Lock()
	r.last, r.lastAt, r.lastErr = &rep, time.Now(), ""
	if err != nil {
		r.lastErr = err.Error()
	}
	r.mu.Unlock()
	return rep, err
}

// startAlone is a single gateway's start-up: rebuild, then forward. A
// failed rebuild still ends in forwarding (this gateway is the only one),
// with the failure logged.
func (r *recoverer) startAlone(ctx context.Context) {
	if _, err := r.takeover(ctx, "start"); err != nil {
		if ctx.Err() != nil {
			return // vecd is stopping
		}
		r.log.Error("rebuilding the connection table at start-up failed; forwarding anyway", zap.Error(err))
		if err := r.g.SetMode(ctx, fastpath.ModeActive); err != nil {
			r.log.Error("switching the workers to forwarding", zap.Error(err))
		}
		r.announcer.Start()
	}
}

// standby stops claiming the VIPs and switches the workers to standby at
// once (their tables are emptied).
func (r *recoverer) standby(ctx context.Context) error {
	r.announcer.Stop()
	return r.g.SetMode(ctx, fastpath.ModeStandby)
}

// hostAgents are the agents as the weight loop reads their host metrics.
func (r *recoverer) hostAgents() []weights.HostAgent {
	out := make([]weights.HostAgent, len(r.agents))
	for i, a := range r.agents {
		out[i] = weights.HostAgent{Target: a.Target, IP: a.IP}
	}
	return out
}

// lastReport returns the last rebuild's report and when it ended, or nil.
func (r *recoverer) lastReport() (*recovery.Report, time.Time, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.lastAt, r.lastErr
}
