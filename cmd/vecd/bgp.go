package main

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"

	"vec/control/api"
	"vec/control/apiwire"
	"vec/control/bgp"
	"vec/control/config"
	"vec/control/ids"
	"vec/control/manager"
	"vec/fastpath"
	"vec/gateway"
)

// bgpPoll is how often the speaker is told which VIPs have a live server.
// The manager offers no notification of applied snapshots, so the speaker
// polls its view: cheap (a copy of the names and of the configuration),
// and a VIP losing its last server is withdrawn at most a second after
// the manager saw it.
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
			err := sp.Update(eligibleVIPs(m, g), forwarding(g))
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

// eligibleVIPs lists the VIPs with a server that takes new connections now.
func eligibleVIPs(m *manager.Manager, g *gateway.Gateway) []netip.Addr {
	cfg, _ := m.Config()
	return liveVIPs(m.Names(), staticServers(cfg), g.Neighbors().ResolvedIPs(g.Clock().Now()))
}

// serverKey names a server of the configuration as ids.Name does.
type serverKey struct{ vip, service, server string }

// staticServers lists the servers configured with a MAC address: they need
// no ARP resolution.
func staticServers(cfg *config.Config) map[serverKey]bool {
	out := map[serverKey]bool{}
	for _, cl := range cfg.Clusters {
		vip, err := netip.ParseAddr(cl.VIP)
		if err != nil {
			continue // cannot happen: the configuration in force was validated
		}
		for _, s := range cl.Services {
			for _, srv := range s.Servers {
				if srv.MAC != "" {
					out[serverKey{vip.String(), s.Name, srv.Name}] = true
				}
			}
		}
	}
	return out
}

// liveVIPs lists, sorted, the VIPs of the servers that would take a new
// connection: not draining (removed), a weight in force above 0 (not
// quiesced, not weighted out by the manager) and a MAC known, configured
// or resolved by ARP — what manager.ServersResolved checks, per VIP.
// Disabled services are not among names.
func liveVIPs(names []ids.Name, static map[serverKey]bool, resolved map[uint32]bool) []netip.Addr {
	var out []netip.Addr
	for _, n := range names {
		if n.Draining || n.EffectiveWeight <= 0 {
			continue
		}
		vip, err := netip.ParseAddr(n.VIP)
		if err != nil || slices.Contains(out, vip) {
			continue
		}
		ip, err := netip.ParseAddr(n.IP)
		if err != nil || !ip.Is4() {
			continue
		}
		b := ip.As4()
		if static[serverKey{n.VIP, n.Service, n.Server}] || resolved[binary.BigEndian.Uint32(b[:])] {
			out = append(out, vip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
