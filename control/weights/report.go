package weights

import (
	"time"

	"vec/control/advisor"
	"vec/control/config"
	"vec/control/manager"
)

// Report explains the loop's last interval: for every server each metric,
// its proportion, the weight computed and why (`vecctl manager report`,
// GET /v1/manager, the vec_manager_* metrics).
type Report struct {
	Enabled     bool               `json:"enabled"`
	At          time.Time          `json:"at"`
	Generation  uint64             `json:"generation"`
	Interval    time.Duration      `json:"-"`
	IntervalS   float64            `json:"interval_s"`
	Proportions config.Proportions `json:"proportions"`
	Smoothing   float64            `json:"smoothing"`
	Sensitivity float64            `json:"sensitivity"`
	Services    []ServiceReport    `json:"services"`
	Advisors    []AdvisorReport    `json:"advisors"`
	Rules       []RuleReport       `json:"rules"`
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
	// Metrics are by class: active, new, advisor, system.
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
	Name    string           `json:"name"`
	Type    string           `json:"type"`
	Service string           `json:"service"`
	Servers []advisor.Result `json:"servers"`
}

// RuleReport is one rule's state.
type RuleReport struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Service   string `json:"service"`
	Holds     bool   `json:"holds"`
	LastError string `json:"last_error,omitempty"`
}

func serverReport(srv manager.ManagedServer, in ServerInput, r ServerResult) ServerReport {
	sr := ServerReport{Server: srv.Name, IP: srv.IP.String(), Weight: r.Old, Computed: r.New, Reason: r.Reason}
	for c := range len(in.Metrics) {
		sr.Metrics = append(sr.Metrics, MetricReport{Class: Class(c).String(), Value: in.Metrics[c], Known: in.Have[c],
			Proportion: r.Proportion[c]})
	}
	return sr
}

// ManagerReport returns the last interval's report.
func (l *Loop) ManagerReport() Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := l.report
	rep.IntervalS = rep.Interval.Seconds()
	return rep
}
