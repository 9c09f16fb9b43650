package recovery

import "vec/control/apiwire"

// The recovery side's status is the control API's GET /v1/ha body: the
// shapes live in control/apiwire so that vecctl decodes them without
// linking this package; the recovery side fills them.
type (
	// GatewayStatus is a gateway's recovery side as the control API,
	// vecctl and Prometheus show it.
	GatewayStatus = apiwire.GatewayStatus
	// GatewayPeer is another gateway as this one last heard it.
	GatewayPeer = apiwire.GatewayPeer
	// RebuildStatus is the last rebuild of the connection table from the
	// agents (at start-up or takeover).
	RebuildStatus = apiwire.RebuildStatus
)
