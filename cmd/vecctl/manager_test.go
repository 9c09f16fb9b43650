package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"vec/control/apiwire"
	"vec/control/config"
)

func TestManagerCommands(t *testing.T) {
	flags := serve(t)
	run := func(args ...string) (int, string) {
		t.Helper()
		return capture(t, append(append([]string{}, flags...), args...)...)
	}
	// This vecd runs no weight loop: nothing to report.
	if code, out := run("manager", "report", "-o", "json"); code != exitServer || !strings.Contains(out, "manager_unavailable") {
		t.Errorf("manager report without a manager: exit %d, %s", code, out)
	}
	steps := [][]string{
		{"manager", "start"},
		{"manager", "advisor", "add", "web", "--service", "10.1.0.100:http", "--type", "http", "--path", "/health",
			"--expect-status", "204", "--interval", "2s", "--timeout", "500ms", "--fall", "2", "--rise", "3"},
		{"manager", "advisor", "add", "load", "--service", "10.1.0.100:http", "--type", "custom", "--command", "/usr/local/bin/probe -q  --fast"},
		{"manager", "set", "--interval", "1s", "--proportions", "40,40,20,0", "--smoothing", "2", "--sensitivity", "10",
			"--system-metric", "memory", "--host-interval", "3s"},
		{"manager", "rule", "add", "night", "--service", "10.1.0.100:http", "--type", "window", "--servers", "s1",
			"--from", "22:00", "--to", "02:00", "--weight", "0"},
		{"manager", "rule", "add", "busy", "--service", "10.1.0.100:http", "--type", "script", "--servers", "s1",
			"--weight", "2", "--command", "/usr/local/bin/busy s1", "--interval", "30s"},
		{"manager", "advisor", "remove", "load"},
		{"manager", "rule", "remove", "busy"},
	}
	for i, args := range steps {
		code, out := run(append(args, "-o", "json")...)
		var ch apiwire.Change
		if code != exitOK || json.Unmarshal([]byte(out), &ch) != nil || ch.Generation != uint64(2+i) {
			t.Fatalf("vecctl %s: exit %d, %s", strings.Join(args, " "), code, out)
		}
	}
	// Refused by vecd: exit 1.
	for _, args := range [][]string{
		{"manager", "set", "--proportions", "60,50,0,0"},
		{"manager", "set", "--interval", "2"},
		{"manager", "advisor", "add", "web", "--service", "10.1.0.100:http", "--type", "tcp"},
		{"manager", "advisor", "remove", "nope"},
		{"manager", "rule", "add", "x", "--service", "10.1.0.100:http", "--type", "window", "--servers", "s9", "--from", "1:00", "--to", "2:00"},
		{"manager", "rule", "remove", "nope"},
	} {
		if code, out := run(args...); code != exitServer {
			t.Errorf("vecctl %s: exit %d, want %d (%s)", strings.Join(args, " "), code, exitServer, out)
		}
	}
	// Bad usage: exit 2, nothing sent.
	for _, args := range [][]string{
		{"manager", "set"},
		{"manager", "set", "--proportions", "50,50"},
		{"manager", "set", "--proportions", "50,50,zero,0"},
		{"manager", "set", "--smoothing", "much"},
		{"manager", "advisor", "add", "web2", "--service", "10.1.0.100:http"},
		{"manager", "advisor", "add", "--type", "tcp", "--service", "10.1.0.100:http"},
		{"manager", "rule", "add", "r", "--service", "10.1.0.100:http", "--type", "always"},
		{"manager", "rule", "remove"},
		{"manager", "start", "now"},
	} {
		if code, out := run(args...); code != exitUsage {
			t.Errorf("vecctl %s: exit %d, want %d (%s)", strings.Join(args, " "), code, exitUsage, out)
		}
	}
	// Every change is configuration: config save writes them.
	if code, out := run("config", "save"); code != exitOK {
		t.Fatalf("config save: exit %d %s", code, out)
	}
	cfg, err := config.Load(filepath.Join(filepath.Dir(flags[1]), "vecd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Manager
	if !m.Enabled || m.Interval != time.Second || *m.Proportions != (config.Proportions{Active: 40, New: 40, Advisor: 20}) ||
		m.Smoothing != 2 || *m.Sensitivity != 10 || m.SystemMetric != "memory" || m.HostInterval != 3*time.Second {
		t.Errorf("saved manager settings: %+v", m)
	}
	if len(m.Advisors) != 1 || m.Advisors[0].HTTP.Path != "/health" || m.Advisors[0].HTTP.ExpectStatus != 204 ||
		m.Advisors[0].Timeout != 500*time.Millisecond || m.Advisors[0].Fall != 2 || m.Advisors[0].Rise != 3 {
		t.Errorf("saved advisors: %+v", m.Advisors)
	}
	if len(m.Rules) != 1 || m.Rules[0].Name != "night" || *m.Rules[0].Weight != 0 || m.Rules[0].To != "02:00" {
		t.Errorf("saved rules: %+v", m.Rules)
	}
	if code, out := run("manager", "stop"); code != exitOK || !strings.Contains(out, "generation 10") {
		t.Errorf("manager stop: exit %d, %s", code, out)
	}
}

func TestManagerCommandsBuildRequests(t *testing.T) {
	// The custom advisor's --command was split into its words.
	flags := serve(t)
	if code, out := capture(t, append(flags, "manager", "advisor", "add", "load", "--service", "10.1.0.100:http",
		"--type", "custom", "--command", " /usr/local/bin/probe -q  --fast ")...); code != exitOK {
		t.Fatalf("advisor add: exit %d %s", code, out)
	}
	code, out := capture(t, append(flags, "config", "show", "-o", "json")...)
	if code != exitOK || !regexp.MustCompile(`command:\\n\s+- /usr/local/bin/probe\\n\s+- -q\\n\s+- --fast\\n`).MatchString(out) {
		t.Errorf("the advisor's command in the configuration: %s", out)
	}
}

func TestManagerReportTable(t *testing.T) {
	metrics := func(active, latency, pa, pl float64) []apiwire.MetricReport {
		return []apiwire.MetricReport{{Class: "active", Value: active, Known: true, Proportion: pa}, {Class: "new"},
			{Class: "advisor", Value: latency, Known: latency > 0, Proportion: pl}, {Class: "system"}}
	}
	rep := apiwire.ManagerReport{Enabled: true, At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.Local), Generation: 4, IntervalS: 2,
		Proportions: apiwire.Proportions{Active: 50, Advisor: 50}, Smoothing: 1.5, Sensitivity: 5,
		Services: []apiwire.ServiceReport{{Service: "10.1.0.100:http", Bound: 20, Pushed: true, Servers: []apiwire.ServerReport{
			{Server: "s1", Weight: 10, Computed: 13, Reason: "computed", Metrics: metrics(10, 1.25, 0.25, 0.2)},
			{Server: "s2", Weight: 10, Computed: 0, Reason: "down: advisor web: timeout", Metrics: metrics(30, 0, 0, 0)},
		}}},
		Advisors: []apiwire.AdvisorReport{{Name: "web", Type: "http", Service: "10.1.0.100:http", Servers: []apiwire.AdvisorResult{
			{Server: "s1", Up: true, Latency: 1250 * time.Microsecond, Checks: 9},
			{Server: "s2", Up: false, LastError: "timeout", Checks: 9, Failures: 4}}}},
		Rules: []apiwire.RuleReport{{Name: "night", Type: "window", Service: "10.1.0.100:http", Holds: true}},
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	printManagerReport(&rep)(w)
	w.Flush()
	out := b.String()
	for _, want := range []string{
		"running, every 2s; proportions 50/0/50/0",
		"2026-12-01 10:00:00 (configuration generation 4)",
		"service 10.1.0.100:http: weight bound 20, sent to the workers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	for _, row := range [][]string{
		{"server", "weight", "reason", "active", "new", "advisor", "system"},
		{"s1", "10 → 13", "computed", "10 (25.0%)", "-", "1.2 (20.0%)", "-"},
		{"s2", "10 → 0", "down: advisor web: timeout", "30", "-", "-", "-"},
		{"web", "http", "10.1.0.100:http", "s1", "up", "1.2 ms", "9", "0", "(none)"},
		{"web", "http", "10.1.0.100:http", "s2", "down", "-", "9", "4", "timeout"},
		{"night", "window", "10.1.0.100:http", "true", "(none)"},
	} {
		pattern := `(?m)^` + strings.Join(quoteAll(row), `\s{2,}`) + `\s*$`
		if !regexp.MustCompile(pattern).MatchString(out) {
			t.Errorf("the report lacks the row %q:\n%s", row, out)
		}
	}

	b.Reset()
	printManagerReport(&apiwire.ManagerReport{})(&b)
	if !strings.Contains(b.String(), "stopped") {
		t.Errorf("a stopped manager's report: %s", b.String())
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = regexp.QuoteMeta(x)
	}
	return out
}
