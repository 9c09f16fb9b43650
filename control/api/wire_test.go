package api

import (
	"encoding/json"
	"testing"
	"time"

	"vec/control/advisor"
	"vec/control/config"
	"vec/control/weights"
)

// The manager's report reaches clients as apiwire.ManagerReport: its JSON
// must be the report's own, field for field, empty and absent lists
// included.
func TestWireReportKeepsTheReportsJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	full := weights.Report{Enabled: true, At: at, Generation: 3, Interval: 2 * time.Second, IntervalS: 2,
		Proportions: config.Proportions{Active: 40, New: 30, Advisor: 20, System: 10}, Smoothing: 1.5, Sensitivity: 5,
		Services: []weights.ServiceReport{{Service: "10.1.0.100:http", Bound: 20, Pushed: true,
			Servers: []weights.ServerReport{{Server: "s1", IP: "10.1.0.11", Weight: 10, Computed: 7, Reason: "computed",
				Metrics: []weights.MetricReport{{Class: "active", Value: 30, Known: true, Proportion: 0.75}, {Class: "new"}}},
				{Server: "s2", IP: "10.1.0.12", Reason: "down", Metrics: []weights.MetricReport{}}}},
			{Service: "10.1.0.100:dns", Servers: nil}},
		Advisors: []weights.AdvisorReport{{Name: "web", Type: "http", Service: "10.1.0.100:http",
			Servers: []advisor.Result{{Server: "s1", Up: true, Latency: 1500 * time.Microsecond, Metric: 2.5, HaveMetric: true,
				LastError: "timeout", Checks: 9, Failures: 1, Since: at}}}, {Name: "idle", Servers: []advisor.Result{}}},
		Rules: []weights.RuleReport{{Name: "night", Type: "window", Service: "10.1.0.100:http", Holds: true, LastError: "x"}},
		Error: "last interval failed"}
	for name, rep := range map[string]weights.Report{"full": full, "empty": {}, "stopped": {Services: []weights.ServiceReport{}}} {
		want, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(wireReport(rep))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: the wire report's JSON differs from the report's:\n got %s\nwant %s", name, got, want)
		}
	}
}
