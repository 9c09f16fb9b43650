package metrics

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"vec/recovery"
)

type fixedHA recovery.GatewayStatus

func (f fixedHA) HAStatus() recovery.GatewayStatus { return recovery.GatewayStatus(f) }

func TestHACollectorReportsRoleAndRebuild(t *testing.T) {
	st := fixedHA{Node: "gw2", Role: "active", Term: 4, Takeovers: 2, LastTakeoverMs: 250, Unhealthy: "every data port's link is down (eth1)",
		LeaseGranted: 2, LeaseAsked: 3,
		Peers:       []recovery.GatewayPeer{{Name: "gw1", LastHeartbeatAgeMs: -1}},
		Rejected:    map[string]uint64{"bad_mac": 5},
		LastRebuild: &recovery.RebuildStatus{Trigger: "takeover", TotalMs: 120, Received: 10, Installed: 9, AgentsAnswered: 2, AgentsDown: []string{"s3: timeout"}}}
	got := gather(t, NewHACollector(st))
	wantSamples(t, got, map[string]float64{
		`vec_ha_role{role="active"}`:                                   1,
		`vec_ha_role{role="backup"}`:                                   0,
		`vec_ha_role{role="alone"}`:                                    0,
		`vec_ha_term`:                                                  4,
		`vec_ha_healthy`:                                               0,
		`vec_ha_takeovers_total`:                                       2,
		`vec_ha_last_takeover_seconds`:                                 0.25,
		`vec_ha_lease_witnesses{state="granted"}`:                      2,
		`vec_ha_peer_last_heartbeat_age_seconds{peer="gw1"}`:           -1,
		`vec_ha_heartbeats_rejected_total{reason="bad_mac"}`:           5,
		`vec_recovery_last_rebuild_seconds{phase="total"}`:             0.12,
		`vec_recovery_last_rebuild_entries{what="installed"}`:          9,
		`vec_recovery_last_rebuild_agents{state="down"}`:               1,
		`vec_recovery_last_rebuild_agents{state="answered"}`:           2,
		`vec_recovery_last_rebuild_entries{what="foreign"}`:            0,
		`vec_recovery_last_rebuild_entries{what="received"}`:           10,
		`vec_ha_heartbeats_sent_total`:                                 0,
		`vec_ha_lease_witnesses{state="asked"}`:                        3,
		`vec_recovery_last_rebuild_seconds{phase="install"}`:           0,
		`vec_recovery_last_rebuild_entries{what="existing"}`:           0,
		`vec_recovery_last_rebuild_entries{what="conflicts_resolved"}`: 0,
	})
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	s := "{"
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + `="` + l.GetValue() + `"`
	}
	return s + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}
