package weights

import (
	"time"

	"vec/control/apiwire"
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

// The report's parts are the control API's shapes, defined in
// control/apiwire; only Report, which carries the interval as a Duration
// and the configuration's proportions, is the loop's own (control/api
// turns it into an apiwire.ManagerReport).
type (
	ServiceReport = apiwire.ServiceReport
	ServerReport  = apiwire.ServerReport
	MetricReport  = apiwire.MetricReport
	AdvisorReport = apiwire.AdvisorReport
	RuleReport    = apiwire.RuleReport
)

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
