package metrics

import (
	"testing"

	"vec/control/apiwire"
)

type fixedBGP apiwire.BGPStatus

func (f fixedBGP) BGPStatus() apiwire.BGPStatus { return apiwire.BGPStatus(f) }

func TestBGPCollectorReportsSessionsAndRoutes(t *testing.T) {
	st := fixedBGP{Drained: true, Eligible: []string{"192.0.2.10", "192.0.2.11"}, Announced: []string{},
		Peers: []apiwire.BGPPeer{
			{Address: "198.51.100.1", State: "established", UpdatesSent: 7, UpdatesReceived: 2},
			{Address: "198.51.100.2", State: "active"},
		}}
	got := gather(t, NewBGPCollector(st))
	wantSamples(t, got, map[string]float64{
		`vec_bgp_peer_up{peer="198.51.100.1"}`:                                 1,
		`vec_bgp_peer_up{peer="198.51.100.2"}`:                                 0,
		`vec_bgp_peer_state{peer="198.51.100.1",state="established"}`:          1,
		`vec_bgp_peer_state{peer="198.51.100.1",state="idle"}`:                 0,
		`vec_bgp_peer_state{peer="198.51.100.2",state="active"}`:               1,
		`vec_bgp_peer_state{peer="198.51.100.2",state="established"}`:          0,
		`vec_bgp_peer_updates_total{direction="sent",peer="198.51.100.1"}`:     7,
		`vec_bgp_peer_updates_total{direction="received",peer="198.51.100.1"}`: 2,
		`vec_bgp_announced_routes`:                                             0,
		`vec_bgp_eligible_vips`:                                                2,
		`vec_gateway_drained`:                                                  1,
	})
	if n := len(got); n != 2+2*6+2*2+3 {
		t.Errorf("%d series, want %d: %v", n, 2+2*6+2*2+3, got)
	}

	st.Drained, st.Announced = false, []string{"192.0.2.10/32", "192.0.2.11/32"}
	got = gather(t, NewBGPCollector(st))
	wantSamples(t, got, map[string]float64{`vec_bgp_announced_routes`: 2, `vec_gateway_drained`: 0})
}
