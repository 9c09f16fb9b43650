package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var managerYAML = fullYAML + `
manager:
  enabled: true
  interval: 1s
  proportions: {active: 40, new: 40, advisor: 20, system: 0}
  smoothing: 2
  advisors:
    - {name: web, service: "10.10.0.100:http", type: http, interval: 500ms, timeout: 200ms, http: {path: /health}}
  rules:
    - {name: nightly, service: "10.10.0.100:http", type: window, servers: [web2], from: "22:00", to: "02:00"}
`

func TestManagerSection(t *testing.T) {
	cfg := mustParse(t, managerYAML)
	live := mustLive(t, cfg)
	m := live.Manager
	if !m.Enabled || m.Interval != time.Second || m.Proportions != (Proportions{40, 40, 20, 0}) || m.Smoothing != 2 ||
		m.Sensitivity != DefaultSensitivity || m.SystemMetric != "cpu" || m.HostInterval != DefaultHostInterval {
		t.Errorf("manager %+v", m)
	}
	if len(m.Advisors) != 1 || m.Advisors[0].Service != 0 || m.Advisors[0].HTTP.Method != "GET" || m.Advisors[0].HTTP.ExpectStatus != 200 ||
		m.Advisors[0].Fall != DefaultAdvisorFall || m.Advisors[0].Rise != DefaultAdvisorRise {
		t.Errorf("advisors %+v", m.Advisors)
	}
	if len(m.Rules) != 1 || m.Rules[0].Service != 0 || m.Rules[0].Weight != 0 || !reflect.DeepEqual(m.Rules[0].Servers, []string{"web2"}) {
		t.Errorf("rules %+v", m.Rules)
	}
	// The section is live: a change is no restart-only problem, and it
	// survives Marshal.
	changed := cfg.Clone()
	changed.Manager.Enabled = false
	if err := changed.RestartOnly(cfg); err != nil {
		t.Errorf("changing the manager section while running: %v", err)
	}
	data, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "!!float") {
		t.Errorf("marshalled floats carry a tag:\n%s", data)
	}
	again, err := ParseBytes(data)
	if err != nil {
		t.Fatalf("marshalled configuration does not parse: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(again.Manager, cfg.Manager) {
		t.Errorf("round trip changed the manager section:\n%+v\n%+v", again.Manager, cfg.Manager)
	}
}

func TestManagerProblems(t *testing.T) {
	wantRejected(t, managerYAML, []rejectedEdit{
		{"advisor: 20, system: 0", "advisor: 30, system: 0", "manager.proportions: active 40 + new 40 + advisor 30 + system 0 = 110"},
		{"smoothing: 2", "smoothing: -1", "manager.smoothing"},
		{`service: "10.10.0.100:http", type: http`, `service: "10.10.0.100:smtp", type: http`, "manager.advisors[0].service: no service 10.10.0.100:smtp"},
		{"type: http, interval", "type: tcp, interval", "manager.advisors[0].http: only an http or https advisor"},
		{"timeout: 200ms", "timeout: 2s", "manager.advisors[0].timeout"},
		{"servers: [web2]", "servers: [web9]", `manager.rules[0].servers[0]: "web9" is not a server`},
		{`to: "02:00"`, `to: "22:00"`, "manager.rules[0]: a window rule needs from and to as two different HH:MM"},
		{"type: window", "type: sometimes", "manager.rules[0].type"},
		{"interval: 1s\n", "interval: 1s\n  host_timeout: 5s\n", "manager.host_timeout: needs the servers' agents"},
	})
}
