package api

import (
	"net/http"

	"go.uber.org/zap"

	"vec/recovery"
)

// HA is vecd's recovery side: its high-availability role among the
// gateways sharing its configuration, and the rebuilds of its connection
// table from the servers' agents.
type HA interface {
	HAStatus() recovery.GatewayStatus
	// RequestTakeover asks, on a backup, that this gateway become the
	// active one (the active yields to it); an error says why not.
	RequestTakeover() error
}

var errNoHA = &apiError{status: http.StatusNotFound, code: "ha_not_configured",
	msg: "this vecd has no recovery side (no ha or recovery section in its configuration)"}

func (h *handler) haStatus(*http.Request, Identity) (any, error) {
	return h.HA.HAStatus(), nil
}

func (h *handler) haTakeover(r *http.Request, id Identity) (any, error) {
	if err := h.HA.RequestTakeover(); err != nil {
		return nil, &apiError{status: http.StatusConflict, code: "conflict", msg: err.Error()}
	}
	h.Log.Info("takeover requested", zap.String("token", id.Name))
	return h.HA.HAStatus(), nil
}
