package wire

import (
	"net/netip"
	"time"
)

// Endpoints. All need a signed request (agent/auth); all replies are signed.
const (
	// PathConnections takes a POST of a ConnectionsRequest and answers a
	// ConnectionsReply.
	PathConnections = "/v1/connections"
	// PathMetrics takes a GET (empty body) and answers a MetricsReply.
	PathMetrics = "/v1/metrics"
	// PathLease takes a POST of a LeaseRequest and answers a LeaseReply.
	PathLease = "/v1/lease"
)

// Size limits of the protocol.
const (
	// MaxRequestBytes bounds a request body.
	MaxRequestBytes = 64 << 10
	// MaxRequestVIPs bounds the VIPs one request may name.
	MaxRequestVIPs = 1024
	// DefaultMaxEntries and DefaultMaxBytes are a page's size when neither
	// side asks for less.
	DefaultMaxEntries = 10000
	DefaultMaxBytes   = 2 << 20
	// MinMaxBytes is the smallest byte cap a client may ask for: room for
	// the envelope and a few entries, so every page makes progress.
	MinMaxBytes = 4 << 10
	// Upper bounds of what may be asked for.
	LimitMaxEntries = 100000
	LimitMaxBytes   = 16 << 20
	// MaxMetricsBytes bounds a metrics reply.
	MaxMetricsBytes = 1 << 20
	// MaxLeaseReplyBytes bounds a lease reply (two names of at most 255
	// bytes and three numbers).
	MaxLeaseReplyBytes = 4 << 10
	// MaxErrorBytes bounds an error reply the client reads.
	MaxErrorBytes = 4 << 10
)

// ConnectionsRequest asks for the agent's shadow-table entries on some VIPs,
// one page at a time.
type ConnectionsRequest struct {
	// VIPs are the gateway's VIPs; the agent answers for those it serves.
	VIPs []netip.Addr `json:"vips"`
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string `json:"cursor,omitempty"`
	// MaxEntries and MaxBytes are the client's page limits; the agent
	// answers within the smaller of these and its own (0: the agent's).
	MaxEntries int `json:"max_entries,omitempty"`
	MaxBytes   int `json:"max_bytes,omitempty"`
}

// ConnectionsReply is one page of a shadow table, entries in Compare order.
type ConnectionsReply struct {
	// Server is the answering agent's name.
	Server string `json:"server"`
	// VIPs are the requested VIPs this agent serves: the page covers those.
	VIPs    []netip.Addr `json:"vips"`
	Entries []Entry      `json:"entries"`
	// NextCursor resumes after the last entry; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// MetricsReply is the host-metric report (IBM's Metric Server).
type MetricsReply struct {
	Server string    `json:"server"`
	Time   time.Time `json:"time"`
	// CPUPercent is the share of CPU time not idle over the last sampling
	// interval, 0..100 (all CPUs together); null until the first interval
	// has passed.
	CPUPercent *float64 `json:"cpu_percent"`
	Load1      float64  `json:"load1"`
	Load5      float64  `json:"load5"`
	Load15     float64  `json:"load15"`
	// MemUsedBytes is MemTotal minus MemAvailable.
	MemUsedBytes  uint64 `json:"mem_used_bytes"`
	MemTotalBytes uint64 `json:"mem_total_bytes"`
	// Connections counts the shadow table per service.
	Connections []ServiceCount `json:"connections"`
	// Custom holds the operator's script metrics, in configuration order.
	Custom []CustomMetric `json:"custom"`
}

// ServiceCount is the number of connections on one VIP and port.
type ServiceCount struct {
	Proto  Proto          `json:"proto"`
	VIP    netip.AddrPort `json:"vip"`
	Active int            `json:"active"`
	FIN    int            `json:"fin"`
}

// CustomMetric is the last result of one operator script.
type CustomMetric struct {
	Name string `json:"name"`
	// Value is null when the script has no value: not run yet, timed out,
	// exited non-zero or printed no number. Error then says which.
	Value *float64 `json:"value"`
	Error string   `json:"error,omitempty"`
	// Updated is when the script last finished (zero before its first run).
	Updated time.Time `json:"updated"`
}

// LeaseRequest asks an agent, as a witness, for a lease for a gateway's
// term, renews it, or (Release) ends it. A gateway forwards only while it
// holds leases from a majority of the agents (docs/recovery.md).
type LeaseRequest struct {
	// Gateway is the asking gateway's name.
	Gateway string `json:"gateway"`
	// Term is the gateway's term (at least 1).
	Term uint64 `json:"term"`
	// DurationMs is the lease asked for, in milliseconds; the agent grants
	// at most its own maximum. Ignored by a release.
	DurationMs int64 `json:"duration_ms"`
	// Release ends the lease Gateway holds for Term.
	Release bool `json:"release,omitempty"`
}

// LeaseReply is the agent's lease state after a LeaseRequest.
type LeaseReply struct {
	// Server is the answering agent's name.
	Server string `json:"server"`
	// Granted is true when the asking gateway now holds the lease for its
	// term (never for a release).
	Granted bool `json:"granted"`
	// Term is the highest term this agent has granted.
	Term uint64 `json:"term"`
	// Holder is the gateway holding a live lease, "" for none.
	Holder string `json:"holder"`
	// RemainingMs is what is left of Holder's lease (rounded up), 0 when
	// there is no holder.
	RemainingMs int64 `json:"remaining_ms"`
}

// ErrorReply is the body of every non-200 reply.
type ErrorReply struct {
	Error string `json:"error"`
}
