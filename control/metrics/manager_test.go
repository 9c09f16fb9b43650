package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vec/control/advisor"
	"vec/control/apiwire"
)

type fixedManager apiwire.ManagerReport

func (f fixedManager) ManagerReport() apiwire.ManagerReport { return apiwire.ManagerReport(f) }

// gather registers c alone and returns its samples by "name{labels}".
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()+labels(m)] = value(m)
		}
	}
	return got
}

// wantSamples reports every series of want that got lacks or has with
// another value.
func wantSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (present %t), want %v", series, g, ok, v)
		}
	}
}

func TestManagerCollectorReportsTheLastInterval(t *testing.T) {
	metrics := func(active, newConns, latency float64, haveLatency bool, pa, pn, pl float64) []apiwire.MetricReport {
		return []apiwire.MetricReport{
			{Class: "active", Value: active, Known: true, Proportion: pa},
			{Class: "new", Value: newConns, Known: true, Proportion: pn},
			{Class: "advisor", Value: latency, Known: haveLatency, Proportion: pl},
			{Class: "system", Proportion: math.NaN()},
		}
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 500_000_000, time.UTC)
	rep := fixedManager{Enabled: true, At: at, Proportions: apiwire.Proportions{Active: 40, New: 40, Advisor: 20},
		Services: []apiwire.ServiceReport{{Service: "10.1.0.100:http", Bound: 20, Pushed: true, Servers: []apiwire.ServerReport{
			{Server: "s1", Weight: 10, Computed: 13, Reason: "computed", Metrics: metrics(10, 30, 2, true, 0.25, 0.5, 0.4)},
			{Server: "s2", Weight: 10, Computed: 7, Reason: "computed", Metrics: metrics(30, 30, 3, true, 0.75, 0.5, 0.6)},
			{Server: "s3", Weight: 10, Computed: 0, Reason: "down: advisor web: timeout", Metrics: metrics(4, 0, 0, false, 0, 0, 0)},
			{Server: "s4", Weight: 5, Computed: 0, Reason: "rule nightly", Metrics: metrics(1, 0, 0, false, 0, 0, 0)},
			{Server: "s5", Weight: 3, Computed: 3, Reason: "kept: no metric", Metrics: metrics(0, 0, 0, false, 0, 0, 0)},
		}}},
		Advisors: []apiwire.AdvisorReport{{Name: "web", Type: "http", Service: "10.1.0.100:http", Servers: []advisor.Result{
			{Server: "s1", Up: true, Latency: 2 * time.Millisecond},
			{Server: "s3", Up: false, Latency: 0, LastError: "timeout"},
		}}},
		Rules: []apiwire.RuleReport{{Name: "nightly", Holds: true}, {Name: "xmas", Holds: false}},
	}
	got := gather(t, NewManagerCollector(rep))
	want := map[string]float64{
		`vec_manager_enabled`:                         1,
		`vec_manager_last_interval_timestamp_seconds`: float64(at.Unix()) + 0.5,
		`vec_manager_server_computed_weight{server="s1",service="http",vip="10.1.0.100"}`:                   13,
		`vec_manager_server_computed_weight{server="s3",service="http",vip="10.1.0.100"}`:                   0,
		`vec_manager_server_reason{reason="computed",server="s2",service="http",vip="10.1.0.100"}`:          1,
		`vec_manager_server_reason{reason="down",server="s3",service="http",vip="10.1.0.100"}`:              1,
		`vec_manager_server_reason{reason="rule",server="s4",service="http",vip="10.1.0.100"}`:              1,
		`vec_manager_server_reason{reason="kept",server="s5",service="http",vip="10.1.0.100"}`:              1,
		`vec_manager_server_metric{class="active",server="s2",service="http",vip="10.1.0.100"}`:             30,
		`vec_manager_server_metric{class="advisor",server="s1",service="http",vip="10.1.0.100"}`:            2,
		`vec_manager_server_metric{class="active",server="s3",service="http",vip="10.1.0.100"}`:             4,
		`vec_manager_server_metric_proportion{class="active",server="s1",service="http",vip="10.1.0.100"}`:  0.25,
		`vec_manager_server_metric_proportion{class="new",server="s2",service="http",vip="10.1.0.100"}`:     0.5,
		`vec_manager_server_metric_proportion{class="advisor",server="s2",service="http",vip="10.1.0.100"}`: 0.6,
		`vec_manager_advisor_up{advisor="web",server="s1"}`:                                                 1,
		`vec_manager_advisor_up{advisor="web",server="s3"}`:                                                 0,
		`vec_manager_advisor_latency_seconds{advisor="web",server="s1"}`:                                    0.002,
		`vec_manager_rule_holds{rule="nightly"}`:                                                            1,
		`vec_manager_rule_holds{rule="xmas"}`:                                                               0,
	}
	wantSamples(t, got, want)
	// Unknown metrics have no sample, nor do proportions of classes that
	// did not take part or of servers that are not live; a server has
	// only the reason it has.
	for _, series := range []string{
		`vec_manager_server_metric{class="advisor",server="s3",service="http",vip="10.1.0.100"}`,
		`vec_manager_server_metric{class="system",server="s1",service="http",vip="10.1.0.100"}`,
		`vec_manager_server_metric_proportion{class="system",server="s1",service="http",vip="10.1.0.100"}`,
		`vec_manager_server_metric_proportion{class="active",server="s3",service="http",vip="10.1.0.100"}`,
		`vec_manager_server_reason{reason="computed",server="s3",service="http",vip="10.1.0.100"}`,
	} {
		if _, ok := got[series]; ok {
			t.Errorf("%s is exported", series)
		}
	}
	// 2 manager samples; 5 servers × (weight, reason); 12 known metrics;
	// 6 proportions (s1 and s2 × 3 classes); 2 advisor targets × 2; 2 rules.
	if n := len(got); n != 36 {
		t.Errorf("%d samples, want 36: %v", n, got)
	}

	// Stopped: only the state, and no interval yet.
	got = gather(t, NewManagerCollector(fixedManager{}))
	if len(got) != 1 || got["vec_manager_enabled"] != 0 {
		t.Errorf("a stopped manager exports %v", got)
	}
}

func TestReasonLabel(t *testing.T) {
	for reason, want := range map[string]string{
		"computed": "computed", "quiesced": "quiesced", "fixed": "fixed", "down: advisor web: timeout": "down",
		"down: agent s2 silent for more than 6s": "down", "rule nightly-s2": "rule", "kept: no metric": "kept",
		"not computed: weight bound 0": "not_computed",
	} {
		if got := reasonLabel(reason); got != want {
			t.Errorf("reasonLabel(%q) = %q, want %q", reason, got, want)
		}
	}
}

// An IPv6 service's VIP label is the whole address: VIP:SERVICE splits at
// its last colon.
func TestManagerCollectorLabelsIPv6VIPs(t *testing.T) {
	rep := fixedManager{Enabled: true, At: time.Unix(1, 0), Services: []apiwire.ServiceReport{{Service: "2001:db8::100:http",
		Servers: []apiwire.ServerReport{{Server: "s1", Weight: 4, Computed: 5, Reason: "computed"}}}}}
	wantSamples(t, gather(t, NewManagerCollector(rep)), map[string]float64{
		`vec_manager_server_computed_weight{server="s1",service="http",vip="2001:db8::100"}`: 5,
	})
}
