package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"vec/control/apiwire"
)

// BGPSource is vecd's BGP speaker (control/api.BGP).
type BGPSource interface {
	BGPStatus() apiwire.BGPStatus
}

// bgpStates are the values vec_bgp_peer_state reports, one series each (1
// for the session's state, 0 for the others): RFC 4271's states.
var bgpStates = []string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

// BGPCollector exports the BGP sessions, the routes announced and the
// gateway's drain, read at scrape time.
type BGPCollector struct {
	src BGPSource
	descs

	peerUp, peerState, peerUpdates, announced, eligible, drained desc
}

// NewBGPCollector makes a collector over src.
func NewBGPCollector(src BGPSource) *BGPCollector {
	cv, gv := prometheus.CounterValue, prometheus.GaugeValue
	c := &BGPCollector{src: src,
		peerUp:      newDesc("bgp_peer_up", "1 while the BGP session to a peer is established, 0 otherwise.", gv, "peer"),
		peerState:   newDesc("bgp_peer_state", "1 for the BGP state the session to a peer is in (idle, connect, active, opensent, openconfirm, established), 0 for the others.", gv, "peer", "state"),
		peerUpdates: newDesc("bgp_peer_updates_total", "BGP UPDATE messages exchanged with a peer, by direction (sent, received).", cv, "peer", "direction"),
		announced:   newDesc("bgp_announced_routes", "VIP routes (/32) announced to the BGP peers now.", gv),
		eligible:    newDesc("bgp_eligible_vips", "VIPs with a server taking new connections: announced unless the gateway is drained or does not forward.", gv),
		drained:     newDesc("gateway_drained", "1 while the gateway is drained (every VIP withdrawn from BGP by the operator), 0 otherwise.", gv),
	}
	c.descs = descs{c.peerUp, c.peerState, c.peerUpdates, c.announced, c.eligible, c.drained}
	return c
}

// Collect implements prometheus.Collector.
func (c *BGPCollector) Collect(ch chan<- prometheus.Metric) {
	emit := emitter(ch)
	st := c.src.BGPStatus()
	for _, p := range st.Peers {
		emit(c.peerUp, b2f(p.State == "established"), p.Address)
		for _, s := range bgpStates {
			emit(c.peerState, b2f(p.State == s), p.Address, s)
		}
		emit(c.peerUpdates, float64(p.UpdatesSent), p.Address, "sent")
		emit(c.peerUpdates, float64(p.UpdatesReceived), p.Address, "received")
	}
	emit(c.announced, float64(len(st.Announced)))
	emit(c.eligible, float64(len(st.Eligible)))
	emit(c.drained, b2f(st.Drained))
}
