package traffic

import "time"

// Report is what vec-loadgen prints with -json: one run of one mode. A run
// passed when Failures is empty; the per-mode section holds the counts.
type Report struct {
	Mode    string   `json:"mode"`
	Target  string   `json:"target"`
	Sources []string `json:"sources"`
	// DurationSec is the wall time of the run, TimedOut whether -timeout
	// cut it short.
	DurationSec float64 `json:"duration_s"`
	TimedOut    bool    `json:"timed_out"`
	// Failures lists, in words, every check of the run that did not hold.
	Failures []string `json:"failures"`

	HTTP     *HTTPResult     `json:"http,omitempty"`
	Download *DownloadResult `json:"download,omitempty"`
	UDP      *UDPResult      `json:"udp,omitempty"`
	Stray    *StrayResult    `json:"stray,omitempty"`
}

// Passed reports whether every check of the run held.
func (r *Report) Passed() bool { return len(r.Failures) == 0 }

// Errors counts failed attempts by class ("refused", "reset", "timeout",
// "eof", "unreachable", "no-port", "bad-reply", "other") and keeps the first
// few distinct messages verbatim.
type Errors struct {
	ByClass map[string]int `json:"by_class"`
	Samples []string       `json:"samples"`
}

// HTTPResult: one fresh TCP connection per request (-mode http).
type HTTPResult struct {
	Requested int `json:"requested"`
	OK        int `json:"ok"`
	Failed    int `json:"failed"`
	// NotRun counts requests never started because -timeout expired.
	NotRun    int            `json:"not_run"`
	PerServer map[string]int `json:"per_server"`
	PerSource map[string]int `json:"per_source"`
	// ConnsPerSec is OK / DurationSec.
	ConnsPerSec  float64 `json:"conns_per_s"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// LatencyMaxMs is the slowest successful request: about a second more
	// than the rest when a SYN had to be retransmitted.
	LatencyMaxMs float64 `json:"latency_max_ms"`
	Errors       Errors  `json:"errors"`
}

// DownloadResult: parallel downloads of /bytes, each checked by SHA-256.
type DownloadResult struct {
	Parallel int    `json:"parallel"`
	Size     int64  `json:"size"`
	Seed     uint64 `json:"seed"`
	// RateLimit is the per-download pacing asked of the server (0: none).
	RateLimit int64 `json:"rate_limit"`
	OK        int   `json:"ok"`
	Failed    int   `json:"failed"`
	// Mismatches counts complete downloads whose SHA-256 was wrong.
	Mismatches int            `json:"mismatches"`
	Bytes      int64          `json:"bytes"`
	PerServer  map[string]int `json:"per_server"`
	Gbps       float64        `json:"gbps"`
	Errors     Errors         `json:"errors"`
	// LastConnected is when the last download to get its response headers
	// got them, FirstDone when the first download ended (done or failed),
	// both by the wall clock (zero when none did). Every download was open
	// over the whole time between them, when LastConnected is earlier.
	LastConnected time.Time `json:"last_connected"`
	FirstDone     time.Time `json:"first_done"`
}

// UDPResult: datagrams from several flows (source address and port), each
// waiting for its echo before sending the next.
type UDPResult struct {
	Flows    int `json:"flows"`
	Sent     int `json:"sent"`
	Received int `json:"received"`
	Lost     int `json:"lost"`
	// WrongSource counts echoes whose source was not the target address: a
	// DSR server that answered from its own address instead of the VIP.
	WrongSource int `json:"wrong_source"`
	// Corrupt counts echoes that did not carry the datagram's payload.
	Corrupt int `json:"corrupt"`
	// SplitFlows counts flows answered by more than one server.
	SplitFlows int `json:"split_flows"`
	// PerServer counts flows by the server that answered them first.
	PerServer map[string]int `json:"per_server"`
	FlowList  []UDPFlow      `json:"flow_list"`
}

// UDPFlow is one source address and port and who answered it.
type UDPFlow struct {
	Source   string         `json:"source"`
	Sent     int            `json:"sent"`
	Received int            `json:"received"`
	Servers  map[string]int `json:"servers"`
}

// StrayResult: TCP segments (ACK+PSH with data) for a connection nobody has
// opened, sent with a raw socket; a gateway must drop them, a server that
// gets one answers with a RST.
type StrayResult struct {
	Source   string       `json:"source"`
	Sent     int          `json:"sent"`
	Answered bool         `json:"answered"`
	Replies  []StrayReply `json:"replies"`
}

// StrayReply is one TCP segment that came back for a stray one.
type StrayReply struct {
	From  string `json:"from"`
	Flags string `json:"flags"`
}
