package apiwire

import "time"

// GatewayStatus is a gateway's recovery side as the control API (GET
// /v1/ha), vecctl and Prometheus show it.
type GatewayStatus struct {
	// Node is this gateway's name; Role is active, backup, candidate or
	// stopped, or "alone" for a gateway without an ha section.
	Node     string `json:"node,omitempty"`
	Role     string `json:"role"`
	Term     uint64 `json:"term"`
	Priority int    `json:"priority,omitempty"`
	Preempt  bool   `json:"preempt"`
	// Active is the gateway this one believes active ("" for none).
	Active string `json:"active"`
	// Unhealthy says why this gateway cannot forward (every data port's
	// link down): it then neither holds nor claims the active role.
	// Empty when healthy.
	Unhealthy string `json:"unhealthy,omitempty"`
	// Lease: witnesses (agents) that granted this gateway's lease at the
	// last request, of those asked, and how long it stays valid.
	LeaseGranted     int           `json:"lease_granted"`
	LeaseAsked       int           `json:"lease_asked"`
	LeaseRemainingMs float64       `json:"lease_remaining_ms"`
	Peers            []GatewayPeer `json:"peers,omitempty"`
	// Takeovers counts the times this gateway became active;
	// LastTakeoverMs is how long the last one took, from the decision to
	// forwarding.
	Takeovers          uint64            `json:"takeovers"`
	LastTakeoverMs     float64           `json:"last_takeover_ms"`
	HeartbeatsSent     uint64            `json:"heartbeats_sent"`
	HeartbeatsReceived uint64            `json:"heartbeats_received"`
	Rejected           map[string]uint64 `json:"heartbeats_rejected,omitempty"`
	LastRebuild        *RebuildStatus    `json:"last_rebuild,omitempty"`
}

// GatewayPeer is another gateway as this one last heard it.
type GatewayPeer struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Priority int    `json:"priority"`
	Role     string `json:"role"`
	Term     uint64 `json:"term"`
	// LastHeartbeatAgeMs is -1 when nothing was ever heard.
	LastHeartbeatAgeMs float64 `json:"last_heartbeat_age_ms"`
}

// RebuildStatus is the last rebuild of the connection table from the
// agents (at start-up or takeover).
type RebuildStatus struct {
	Trigger        string    `json:"trigger"`
	At             time.Time `json:"at"`
	Error          string    `json:"error,omitempty"`
	TotalMs        float64   `json:"total_ms"`
	FetchMs        float64   `json:"fetch_ms"`
	InstallMs      float64   `json:"install_ms"`
	AgentsAsked    int       `json:"agents_asked"`
	AgentsAnswered int       `json:"agents_answered"`
	// AgentsDown names each agent that did not answer in time, with why.
	AgentsDown        []string `json:"agents_down,omitempty"`
	Received          int      `json:"received"`
	Installed         int      `json:"installed"`
	Existing          int      `json:"existing"`
	Foreign           int      `json:"foreign"`
	ConflictsResolved int      `json:"conflicts_resolved"`
	ConflictsDropped  int      `json:"conflicts_dropped"`
}
