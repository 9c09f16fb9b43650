package weights

import (
	"vec/control/apiwire"
	"vec/control/manager"
)

// The loop's last interval is explained in the control API's shape,
// apiwire.ManagerReport (`vecctl manager report`, GET /v1/manager, the
// vec_manager_* metrics); serverReport fills in one server's row.
func serverReport(srv manager.ManagedServer, in ServerInput, r ServerResult) apiwire.ServerReport {
	sr := apiwire.ServerReport{Server: srv.Name, IP: srv.IP.String(), Weight: r.Old, Computed: r.New, Reason: r.Reason}
	for c := range len(in.Metrics) {
		sr.Metrics = append(sr.Metrics, apiwire.MetricReport{Class: Class(c).String(), Value: in.Metrics[c], Known: in.Have[c],
			Proportion: r.Proportion[c]})
	}
	return sr
}

// ManagerReport returns the last interval's report.
func (l *Loop) ManagerReport() apiwire.ManagerReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.report
}
