package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"vec/recovery"
)

// HASource is vecd's recovery side (control/api.HA).
type HASource interface {
	HAStatus() recovery.GatewayStatus
}

// haRoles are the values vec_ha_role reports, one series each (1 for the
// role held, 0 for the others), so a dashboard can alert on "no active".
var haRoles = []string{"active", "backup", "candidate", "stopped", "alone"}

// HACollector exports the high-availability role and the last rebuild of
// the connection table from the agents, read at scrape time.
type HACollector struct {
	src HASource
	descs

	role, term, peerAge, takeovers, lastTakeover, lease, sent, received, rejected desc
	rebuildSeconds, rebuildEntries, rebuildAgents                                 desc
	healthy                                                                       desc
}

// NewHACollector makes a collector over src.
func NewHACollector(src HASource) *HACollector {
	cv, gv := prometheus.CounterValue, prometheus.GaugeValue
	c := &HACollector{src: src,
		role:           newDesc("ha_role", "1 for the high-availability role this gateway holds (active, backup, candidate, stopped, or alone without peers), 0 for the others.", gv, "role"),
		term:           newDesc("ha_term", "The HA term this gateway holds or last saw.", gv),
		peerAge:        newDesc("ha_peer_last_heartbeat_age_seconds", "Time since the last accepted heartbeat from a peer gateway (-1: never).", gv, "peer"),
		takeovers:      newDesc("ha_takeovers_total", "Times this gateway became the active one.", cv),
		lastTakeover:   newDesc("ha_last_takeover_seconds", "How long the last takeover took, from the decision to forwarding.", gv),
		lease:          newDesc("ha_lease_witnesses", "Agents that granted this gateway's witness lease at its last request (state=granted), of those asked (state=asked).", gv, "state"),
		sent:           newDesc("ha_heartbeats_sent_total", "Heartbeats this gateway sent.", cv),
		received:       newDesc("ha_heartbeats_received_total", "Heartbeats accepted from peers.", cv),
		rejected:       newDesc("ha_heartbeats_rejected_total", "Heartbeat datagrams refused, by reason (bad MAC, replayed, stale, unknown sender, malformed).", cv, "reason"),
		rebuildSeconds: newDesc("recovery_last_rebuild_seconds", "Duration of the last connection-table rebuild from the agents, by phase (total, fetch, install).", gv, "phase"),
		rebuildEntries: newDesc("recovery_last_rebuild_entries", "Entries of the last rebuild: received from the agents, installed, already present, foreign (refused), conflicts resolved and dropped.", gv, "what"),
		healthy:        newDesc("ha_healthy", "1 unless the HA machine found this gateway unable to forward (every data port's link down); 0: it neither holds nor claims the active role.", gv),
		rebuildAgents:  newDesc("recovery_last_rebuild_agents", "Agents of the last rebuild that answered (state=answered) or counted as down (state=down).", gv, "state"),
	}
	c.descs = descs{c.role, c.term, c.peerAge, c.takeovers, c.lastTakeover, c.lease, c.sent, c.received, c.rejected,
		c.rebuildSeconds, c.rebuildEntries, c.rebuildAgents, c.healthy}
	return c
}

// Collect implements prometheus.Collector.
func (c *HACollector) Collect(ch chan<- prometheus.Metric) {
	emit := emitter(ch)
	st := c.src.HAStatus()
	for _, r := range haRoles {
		emit(c.role, b2f(st.Role == r), r)
	}
	emit(c.term, float64(st.Term))
	emit(c.healthy, b2f(st.Unhealthy == ""))
	for _, p := range st.Peers {
		age := p.LastHeartbeatAgeMs / 1000
		if p.LastHeartbeatAgeMs < 0 {
			age = -1
		}
		emit(c.peerAge, age, p.Name)
	}
	emit(c.takeovers, float64(st.Takeovers))
	emit(c.lastTakeover, st.LastTakeoverMs/1000)
	emit(c.lease, float64(st.LeaseGranted), "granted")
	emit(c.lease, float64(st.LeaseAsked), "asked")
	emit(c.sent, float64(st.HeartbeatsSent))
	emit(c.received, float64(st.HeartbeatsReceived))
	for reason, n := range st.Rejected {
		emit(c.rejected, float64(n), reason)
	}
	if r := st.LastRebuild; r != nil {
		emit(c.rebuildSeconds, r.TotalMs/1000, "total")
		emit(c.rebuildSeconds, r.FetchMs/1000, "fetch")
		emit(c.rebuildSeconds, r.InstallMs/1000, "install")
		for what, n := range map[string]int{"received": r.Received, "installed": r.Installed, "existing": r.Existing,
			"foreign": r.Foreign, "conflicts_resolved": r.ConflictsResolved, "conflicts_dropped": r.ConflictsDropped} {
			emit(c.rebuildEntries, float64(n), what)
		}
		emit(c.rebuildAgents, float64(r.AgentsAnswered), "answered")
		emit(c.rebuildAgents, float64(len(r.AgentsDown)), "down")
	}
}
