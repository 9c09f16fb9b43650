package api

import (
	"net/http"

	"go.uber.org/zap"

	"vec/control/apiwire"
)

// BGP is vecd's BGP speaker (control/bgp): the VIPs it announces to the
// routers, and the gateway's drain.
type BGP interface {
	BGPStatus() apiwire.BGPStatus
	// Drain withdraws every VIP until Undrain; the data plane goes on
	// forwarding what still arrives.
	Drain() error
	// Undrain announces the VIPs that have a live server again.
	Undrain() error
}

var errNoBGP = &apiError{status: http.StatusNotFound, code: "bgp_not_configured",
	msg: "this vecd announces no routes (no bgp section in its configuration)"}

func (h *handler) bgpStatus(*http.Request, Identity) (any, error) {
	return h.BGP.BGPStatus(), nil
}

// gatewayDrain serves POST /v1/gateway/drain and /undrain: the reply is
// the BGP status after the change. The drain flag is set even when GoBGP
// refuses a withdrawal or an announcement (503): the speaker retries on its
// next poll.
func (h *handler) gatewayDrain(on bool) func(*http.Request, Identity) (any, error) {
	return func(_ *http.Request, id Identity) (any, error) {
		change, verb := h.BGP.Undrain, "gateway undrained"
		if on {
			change, verb = h.BGP.Drain, "gateway drained"
		}
		if err := change(); err != nil {
			return nil, &apiError{status: http.StatusServiceUnavailable, code: "bgp_unavailable", msg: err.Error()}
		}
		h.Log.Info(verb, zap.String("token", id.Name))
		return h.BGP.BGPStatus(), nil
	}
}
