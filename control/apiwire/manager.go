package apiwire

import "time"

// Proportions are the importance of the metric classes, in percent.
type Proportions struct {
	Active  float64 `json:"active"`
	New     float64 `json:"new"`
	Advisor float64 `json:"advisor"`
	System  float64 `json:"system"`
}

// ManagerPatch changes the manager's settings; absent fields stay.
// Proportions, when given, replace all four (an absent class is 0).
type ManagerPatch struct {
	Interval     *string      `json:"interval"`
	Proportions  *Proportions `json:"proportions"`
	Smoothing    *float64     `json:"smoothing"`
	Sensitivity  *float64     `json:"sensitivity"`
	SystemMetric *string      `json:"system_metric"`
	HostInterval *string      `json:"host_interval"`
	HostTimeout  *string      `json:"host_timeout"`
}

// Advisor is a probe of every server of one service, as in the
// configuration's manager.advisors.
type Advisor struct {
	Name     string       `json:"name"`
	Service  string       `json:"service"`
	Type     string       `json:"type"`
	Interval string       `json:"interval,omitempty"`
	Timeout  string       `json:"timeout,omitempty"`
	Fall     int          `json:"fall,omitempty"`
	Rise     int          `json:"rise,omitempty"`
	Port     int          `json:"port,omitempty"`
	HTTP     *AdvisorHTTP `json:"http,omitempty"`
	UDP      *AdvisorUDP  `json:"udp,omitempty"`
	Command  []string     `json:"command,omitempty"`
}

// AdvisorHTTP is an http or https advisor's request.
type AdvisorHTTP struct {
	Method       string `json:"method,omitempty"`
	Path         string `json:"path,omitempty"`
	Host         string `json:"host,omitempty"`
	ExpectStatus int    `json:"expect_status,omitempty"`
}

// AdvisorUDP is a udp advisor's request and expected reply.
type AdvisorUDP struct {
	Send   string `json:"send,omitempty"`
	Expect string `json:"expect,omitempty"`
}

// Rule is a user metric, as in the configuration's manager.rules.
type Rule struct {
	Name     string   `json:"name"`
	Service  string   `json:"service"`
	Type     string   `json:"type"`
	Servers  []string `json:"servers"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Weight   *int     `json:"weight,omitempty"`
	Command  []string `json:"command,omitempty"`
	Interval string   `json:"interval,omitempty"`
}

// MetricClasses name the manager's metric classes in the order of
// Proportions and of each server's Metrics in a ManagerReport.
var MetricClasses = [4]string{"active", "new", "advisor", "system"}

// ManagerReport explains the manager's last interval (GET /v1/manager):
// for every server each metric, its proportion, the weight computed and
// why; the advisors' and rules' states.
type ManagerReport struct {
	Enabled     bool            `json:"enabled"`
	At          time.Time       `json:"at"`
	Generation  uint64          `json:"generation"`
	IntervalS   float64         `json:"interval_s"`
	Proportions Proportions     `json:"proportions"`
	Smoothing   float64         `json:"smoothing"`
	Sensitivity float64         `json:"sensitivity"`
	Services    []ServiceReport `json:"services"`
	Advisors    []AdvisorReport `json:"advisors"`
	Rules       []RuleReport    `json:"rules"`
	// Error is why the last interval computed or applied nothing.
	Error string `json:"error,omitempty"`
}

// ServiceReport is one service's interval.
type ServiceReport struct {
	Service string `json:"service"` // VIP:SERVICE
	Bound   int    `json:"weight_bound"`
	// Pushed: the new weights went to the workers (they changed by more
	// than the sensitivity, or a server went down, came back or was held
	// by a rule).
	Pushed  bool           `json:"pushed"`
	Servers []ServerReport `json:"servers"`
}

// ServerReport is one server's interval.
type ServerReport struct {
	Server string `json:"server"`
	IP     string `json:"ip"`
	// Weight was in force; Computed is the formula's result (in force
	// from now on when the service was pushed).
	Weight   int    `json:"weight"`
	Computed int    `json:"computed"`
	Reason   string `json:"reason"`
	// Metrics are by class, in the order of MetricClasses.
	Metrics []MetricReport `json:"metrics"`
}

// MetricReport is one metric class of a server.
type MetricReport struct {
	Class string `json:"class"`
	// Value is the raw metric (connections, new connections in the
	// interval, advisor latency in ms, system load), Known whether it was
	// read this interval, Proportion its share of the service's total.
	Value      float64 `json:"value"`
	Known      bool    `json:"known"`
	Proportion float64 `json:"proportion"`
}

// AdvisorReport is one advisor's last results.
type AdvisorReport struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Service string          `json:"service"`
	Servers []AdvisorResult `json:"servers"`
}

// AdvisorResult is an advisor's state of one server, as its probes left
// it.
type AdvisorResult struct {
	Server string `json:"server"`
	Up     bool   `json:"up"`
	// Latency is the last successful probe's (nanoseconds in JSON).
	Latency time.Duration `json:"latency_ns"`
	// Metric is the number a custom advisor's last successful probe
	// printed, when HaveMetric.
	Metric     float64 `json:"metric"`
	HaveMetric bool    `json:"have_metric"`
	// LastError says why the last failed probe failed; a success clears it
	// once the target is up again, so a down target always shows why.
	LastError string `json:"last_error,omitempty"`
	// Checks and Failures count the probes run and failed since the
	// advisor started.
	Checks   uint64 `json:"checks"`
	Failures uint64 `json:"failures"`
	// Since is when Up last changed (when the advisor started, at first).
	Since time.Time `json:"since"`
}

// RuleReport is one rule's state.
type RuleReport struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Service   string `json:"service"`
	Holds     bool   `json:"holds"`
	LastError string `json:"last_error,omitempty"`
}
