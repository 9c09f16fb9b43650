package weights

import (
	"vec/control/apiwire"
	"vec/control/manager"
)

// Report explains the loop's last interval: for every server each metric,
// its proportion, the weight computed and why (`vecctl manager report`,
// GET /v1/manager, the vec_manager_* metrics). It is the control API's
// shape, defined in control/apiwire, as are its parts.
type Report = apiwire.ManagerReport

// The report's parts.
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
	return l.report
}
