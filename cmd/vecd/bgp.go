package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"vec/control/api"
	"vec/control/apiwire"
	"vec/control/bgp"
	"vec/control/config"
	"vec/control/manager"
	"vec/fastpath"
	"vec/gateway"
)

// bgpPoll is how often the speaker is told which VIPs have a live server.
// The manager offers no notification of applied snapshots, so the speaker
// polls its view (Manager.LiveVIPs, one pass over the services), and a
// VIP losing its last server is withdrawn at most a second after the
// manager saw it.
const bgpPoll = time.Second

// bgpRunner is vecd's BGP speaker and the loop that keeps its
// announcements in line with the manager; nil without a bgp section.
type bgpRunner struct {
	speaker *bgp.Speaker
	done    chan struct{}
}

// startBGP starts the speaker of the bgp section (nil: none) and the loop
// feeding it until ctx ends. It only connects out, to port 179 or the
// peer's port: no privilege is needed, before or after the capabilities
// are dropped.
func startBGP(ctx context.Context, log *zap.Logger, cfg *config.BGPRuntime, m *manager.Manager, g *gateway.Gateway) (*bgpRunner, error) {
	if cfg == nil {
		return nil, nil
	}
	sp, err := bgp.Start(log, *cfg)
	if err != nil {
		return nil, err
	}
	r := &bgpRunner{speaker: sp, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(bgpPoll)
		defer tick.Stop()
		var lastErr string
		for {
			err := sp.Update(m.LiveVIPs(), forwarding(g))
			switch {
			case err != nil && err.Error() != lastErr:
				log.Warn("updating the BGP announcements; retrying every poll", zap.Error(err))
				lastErr = err.Error()
			case err == nil:
				lastErr = ""
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return r, nil
}

// stop withdraws every VIP and closes the BGP sessions: first thing at
// shutdown, so the routers move the traffic away while this gateway still
// forwards.
func (r *bgpRunner) stop() {
	if r != nil {
		r.speaker.Stop()
	}
}

// wait waits for the loop to end (after its context).
func (r *bgpRunner) wait() {
	if r != nil {
		<-r.done
	}
}

// backend serves /v1/bgp, the drain endpoints and the BGP metrics; nil
// without a bgp section.
func (r *bgpRunner) backend() api.BGP {
	if r == nil {
		return nil
	}
	return bgpBackend{r.speaker}
}

type bgpBackend struct{ *bgp.Speaker }

func (b bgpBackend) BGPStatus() apiwire.BGPStatus { return b.Status() }

// forwarding reports whether the gateway can take traffic: its workers
// are not in standby (an HA backup) and not every data link is down.
func forwarding(g *gateway.Gateway) bool {
	return g.Mode() != fastpath.ModeStandby && g.LinkHealth() == nil
}
