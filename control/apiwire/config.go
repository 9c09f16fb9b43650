package apiwire

// The configuration's bodies. Field names are those of the configuration
// file; durations are strings with a unit ("90s").

// Cluster is a cluster (VIP) with its services.
type Cluster struct {
	VIP        string    `json:"vip"`
	AnswerPing bool      `json:"answer_ping,omitempty"`
	Services   []Service `json:"services"`
}

// Service is a service with its servers.
type Service struct {
	Name         string   `json:"name"`
	Protocol     string   `json:"protocol"`
	Port         int      `json:"port"`
	Disabled     bool     `json:"disabled,omitempty"`
	StaleTimeout string   `json:"stale_timeout,omitempty"`
	FinTimeout   string   `json:"fin_timeout,omitempty"`
	SynTimeout   string   `json:"syn_timeout,omitempty"`
	ResetTimeout string   `json:"reset_timeout,omitempty"`
	DrainTimeout string   `json:"drain_timeout,omitempty"`
	WeightBound  *int     `json:"weight_bound,omitempty"`
	Servers      []Server `json:"servers"`
	// Forwarding is dsr, ipip or gue (absent: dsr); GUEPort the UDP port
	// of a gue service's packets (absent: 6080).
	Forwarding string `json:"forwarding,omitempty"`
	GUEPort    int    `json:"gue_port,omitempty"`
}

// Server is one server.
type Server struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	MAC      string `json:"mac,omitempty"`
	Weight   *int   `json:"weight"`
	Quiesced bool   `json:"quiesced,omitempty"`
	// Fixed keeps the weight whatever the manager computes.
	Fixed bool `json:"fixed,omitempty"`
}

// ServiceRow is one service in GET /v1/services.
type ServiceRow struct {
	VIP string `json:"vip"`
	Service
}

// ServicePatch changes a service's settings; absent fields stay.
type ServicePatch struct {
	StaleTimeout *string `json:"stale_timeout"`
	FinTimeout   *string `json:"fin_timeout"`
	DrainTimeout *string `json:"drain_timeout"`
	WeightBound  *int    `json:"weight_bound"`
	Disabled     *bool   `json:"disabled"`
}

// ServerPatch changes a server; absent fields stay.
type ServerPatch struct {
	Weight   *int    `json:"weight"`
	MAC      *string `json:"mac"`
	Quiesced *bool   `json:"quiesced"`
}

// LogLevel is the body of PUT /v1/log/level and its reply.
type LogLevel struct {
	Level string `json:"level"`
}

// ConfigReply is the body of GET /v1/config.
type ConfigReply struct {
	Generation uint64 `json:"generation"`
	YAML       string `json:"yaml"`
}

// SaveReply is the body of POST /v1/config/save.
type SaveReply struct {
	Generation uint64 `json:"generation"`
	File       string `json:"file"`
}

// ErrorBody is the JSON of every error reply.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Problems lists, for a rejected change,
// every problem of the configuration it would have produced.
type ErrorDetail struct {
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one problem of a rejected configuration.
type Problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}
