package apiwire

import "time"

// BGPStatus is the gateway's BGP speaker as the control API (GET /v1/bgp,
// and the replies of POST /v1/gateway/drain and /undrain), vecctl and
// Prometheus show it.
type BGPStatus struct {
	LocalAS  uint32 `json:"local_as"`
	RouterID string `json:"router_id"`
	// NextHop is the next hop of every announcement: the gateway's
	// data-plane address.
	NextHop     string   `json:"next_hop"`
	Communities []string `json:"communities"`
	// Drained is set between POST /v1/gateway/drain and /undrain: every
	// VIP is withdrawn whatever its servers.
	Drained bool `json:"drained"`
	// Forwarding is false while the gateway cannot take traffic (its
	// workers in standby, every data port's link down): nothing is
	// announced then either.
	Forwarding bool `json:"forwarding"`
	// Eligible lists the VIPs that have a server taking new connections:
	// those announced unless drained or not forwarding. Announced lists
	// the prefixes announced now ("192.0.2.10/32"). Both sorted.
	Eligible  []string  `json:"eligible"`
	Announced []string  `json:"announced"`
	Peers     []BGPPeer `json:"peers"`
}

// BGPPeer is one BGP session.
type BGPPeer struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	AS      uint32 `json:"as"`
	// State is the session's BGP state: idle, connect, active, opensent,
	// openconfirm or established.
	State string `json:"state"`
	// Since is when the session was last established (state established)
	// or last went down (other states); absent when it never was up.
	Since *time.Time `json:"since,omitempty"`
	// UptimeSeconds is how long the session has been established (0 in
	// other states).
	UptimeSeconds float64 `json:"uptime_seconds"`
	// HoldTimeSeconds is the hold time negotiated with the peer
	// (established only).
	HoldTimeSeconds uint64 `json:"hold_time_seconds,omitempty"`
	// Messages counted on the session: all of them and UPDATEs alone.
	MessagesReceived uint64 `json:"messages_received"`
	MessagesSent     uint64 `json:"messages_sent"`
	UpdatesReceived  uint64 `json:"updates_received"`
	UpdatesSent      uint64 `json:"updates_sent"`
}
