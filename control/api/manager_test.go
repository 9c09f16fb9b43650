package api

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/control/config"
)

// fixedManager reports the same interval every time.
type fixedManager apiwire.ManagerReport

func (f fixedManager) ManagerReport() apiwire.ManagerReport { return apiwire.ManagerReport(f) }

func TestManagerReportEndpoint(t *testing.T) {
	e := newAPIEnv(t)
	code, body, raw := e.do(readOnlyToken, "GET", "/v1/manager", "")
	e.wantError(http.StatusNotFound, "manager_unavailable", "no manager", code, body, raw)

	rep := fixedManager{Enabled: true, At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Generation: 3, IntervalS: 2,
		Smoothing: 1.5, Sensitivity: 5,
		Services: []apiwire.ServiceReport{{Service: "10.1.0.100:http", Bound: 20, Pushed: true,
			Servers: []apiwire.ServerReport{{Server: "s1", IP: "10.1.0.11", Weight: 10, Computed: 7, Reason: "computed",
				Metrics: []apiwire.MetricReport{{Class: "active", Value: 30, Known: true, Proportion: 0.75}}}}}},
		Rules: []apiwire.RuleReport{{Name: "night", Type: "window", Service: "10.1.0.100:http", Holds: true}}}
	e.h = NewHandler(Options{Backend: e.m, Tokens: e.tokens, Manager: rep})
	code, body, raw = e.do(readOnlyToken, "GET", "/v1/manager", "")
	if code != 200 || body["enabled"] != true || body["generation"] != 3.0 || body["interval_s"] != 2.0 {
		t.Fatalf("GET /v1/manager: %d %s", code, raw)
	}
	srv := body["services"].([]any)[0].(map[string]any)["servers"].([]any)[0].(map[string]any)
	metric := srv["metrics"].([]any)[0].(map[string]any)
	if srv["computed"] != 7.0 || srv["reason"] != "computed" || metric["proportion"] != 0.75 || metric["known"] != true {
		t.Errorf("the server's report: %s", raw)
	}
	if rule := body["rules"].([]any)[0].(map[string]any); rule["holds"] != true {
		t.Errorf("the rule's report: %s", raw)
	}
}

func TestManagerChangesThroughTheAPI(t *testing.T) {
	e := newAPIEnv(t)
	steps := []struct{ method, path, body string }{
		{"POST", "/v1/manager/start", ""},
		{"POST", "/v1/manager/advisors", `{"name": "web", "service": "10.1.0.100:http", "type": "http", "interval": "2s",
			"timeout": "300ms", "fall": 2, "http": {"path": "/health", "host": "www.example", "expect_status": 204}}`},
		{"POST", "/v1/manager/advisors", `{"name": "ping", "service": "10.1.0.100:http", "type": "tcp", "port": 8080}`},
		{"PATCH", "/v1/manager", `{"interval": "500ms", "proportions": {"active": 40, "new": 40, "advisor": 20},
			"smoothing": 3, "sensitivity": 0, "system_metric": "load1", "host_interval": "1s"}`},
		{"POST", "/v1/manager/rules", `{"name": "night", "service": "10.1.0.100:http", "type": "window",
			"servers": ["s2"], "from": "22:00", "to": "02:00", "weight": 0}`},
		{"POST", "/v1/manager/rules", `{"name": "check", "service": "10.1.0.100:http", "type": "script",
			"servers": ["s1", "s2"], "weight": 5, "command": ["/usr/local/bin/busy", "-q"], "interval": "30s"}`},
		{"DELETE", "/v1/manager/advisors/ping", ""},
		{"DELETE", "/v1/manager/rules/check", ""},
	}
	for i, s := range steps {
		code, body, raw := e.do(adminToken, s.method, s.path, s.body)
		if code != 200 || body["generation"] != float64(2+i) {
			t.Fatalf("%s %s: %d %s", s.method, s.path, code, raw)
		}
	}
	cfg, _ := e.m.Config()
	m := cfg.Manager
	if !m.Enabled || m.Interval != 500*time.Millisecond || m.Proportions == nil || m.Proportions.Advisor != 20 ||
		m.Proportions.System != 0 || m.Smoothing != 3 || m.Sensitivity == nil || *m.Sensitivity != 0 ||
		m.SystemMetric != "load1" || m.HostInterval != time.Second || m.HostTimeout != 0 {
		t.Errorf("manager settings after the patch: %+v", m)
	}
	if len(m.Advisors) != 1 || m.Advisors[0].Name != "web" || m.Advisors[0].Interval != 2*time.Second ||
		m.Advisors[0].Timeout != 300*time.Millisecond || m.Advisors[0].Fall != 2 || m.Advisors[0].HTTP.Path != "/health" ||
		m.Advisors[0].HTTP.Host != "www.example" || m.Advisors[0].HTTP.ExpectStatus != 204 {
		t.Errorf("advisors: %+v", m.Advisors)
	}
	if len(m.Rules) != 1 || m.Rules[0].Name != "night" || m.Rules[0].Weight == nil || *m.Rules[0].Weight != 0 ||
		m.Rules[0].From != "22:00" || len(m.Rules[0].Servers) != 1 {
		t.Errorf("rules: %+v", m.Rules)
	}
	// A patch leaves what it does not name alone.
	if code, _, raw := e.do(adminToken, "PATCH", "/v1/manager", `{"host_timeout": "0s"}`); code != 200 {
		t.Fatalf("PATCH host_timeout: %d %s", code, raw)
	}
	if cfg, _ := e.m.Config(); cfg.Manager.Interval != 500*time.Millisecond || cfg.Manager.Proportions.Advisor != 20 {
		t.Errorf("a patch of host_timeout changed other settings: %+v", cfg.Manager)
	}
	// Changes are configuration: saved with the rest.
	if code, _, raw := e.do(adminToken, "POST", "/v1/config/save", ""); code != 200 {
		t.Fatalf("save: %s", raw)
	}
	saved, err := config.Load(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if inForce, _ := e.m.Config(); !reflect.DeepEqual(saved.Manager, inForce.Manager) {
		t.Errorf("the saved manager section\n%+v\nis not the one in force\n%+v", saved.Manager, inForce.Manager)
	}
	if code, body, raw := e.do(adminToken, "POST", "/v1/manager/stop", ""); code != 200 || body["generation"] != 11.0 {
		t.Fatalf("stop: %d %s", code, raw)
	}
	if cfg, _ := e.m.Config(); cfg.Manager.Enabled || len(cfg.Manager.Advisors) != 1 {
		t.Errorf("after stop: %+v", cfg.Manager)
	}
}

func TestManagerChangesAreChecked(t *testing.T) {
	e := newAPIEnv(t)
	code, body, raw := e.do(adminToken, "PATCH", "/v1/manager", `{"proportions": {"active": 60, "new": 50}}`)
	e.wantError(http.StatusUnprocessableEntity, "invalid_config", "want 100", code, body, raw)
	wantProblem := func(field string, body map[string]any) {
		t.Helper()
		problems, _ := body["error"].(map[string]any)["problems"].([]any)
		for _, p := range problems {
			if p.(map[string]any)["field"] == field {
				return
			}
		}
		t.Errorf("no problem names %s: %v", field, problems)
	}
	wantProblem("manager.proportions", body)

	for _, tc := range []struct {
		method, path, body string
		status             int
		code, want         string
	}{
		{"PATCH", "/v1/manager", `{}`, 400, "bad_request", "changes nothing"},
		{"PATCH", "/v1/manager", `{"interval": "2"}`, 400, "bad_request", `interval: "2" is not a duration`},
		{"PATCH", "/v1/manager", `{"smoothing": "high"}`, 400, "bad_request", `field "smoothing"`},
		{"PATCH", "/v1/manager", `{"proportions": {"active": 50, "idle": 50}}`, 400, "bad_request", `unknown field "idle"`},
		{"PATCH", "/v1/manager", `{"interval": "10ms"}`, 422, "invalid_config", "manager.interval"},
		{"PATCH", "/v1/manager", `{"system_metric": "disk"}`, 422, "invalid_config", "manager.system_metric"},
		{"POST", "/v1/manager/advisors", `{"name": "web", "service": "10.1.0.100:http", "type": "smtp"}`, 422, "invalid_config", `"smtp" is not http`},
		{"POST", "/v1/manager/advisors", `{"name": "web", "service": "10.1.0.100:dns", "type": "tcp"}`, 422, "invalid_config", "no service 10.1.0.100:dns"},
		{"POST", "/v1/manager/advisors", `{"name": "web", "service": "10.1.0.100:http", "type": "tcp", "timeout": "soon"}`, 400, "bad_request", `timeout: "soon"`},
		{"POST", "/v1/manager/rules", `{"name": "night", "service": "10.1.0.100:http", "type": "window", "servers": ["s9"], "from": "22:00", "to": "02:00"}`, 422, "invalid_config", `"s9" is not a server`},
		{"POST", "/v1/manager/rules", `{"name": "night", "service": "10.1.0.100:http", "type": "window", "servers": ["s1"], "from": "10pm", "to": "02:00"}`, 422, "invalid_config", "HH:MM"},
		{"DELETE", "/v1/manager/advisors/nope", "", 404, "not_found", "advisor nope does not exist"},
		{"DELETE", "/v1/manager/rules/nope", "", 404, "not_found", "rule nope does not exist"},
		{"GET", "/v1/manager/start", "", 405, "method_not_allowed", "POST"},
	} {
		code, body, raw := e.do(adminToken, tc.method, tc.path, tc.body)
		e.wantError(tc.status, tc.code, tc.want, code, body, raw)
	}
	if _, gen := e.m.Config(); gen != 1 {
		t.Fatalf("rejected changes moved the generation to %d", gen)
	}

	// A duplicate name is a conflict.
	advisor := `{"name": "web", "service": "10.1.0.100:http", "type": "tcp"}`
	rule := `{"name": "off", "service": "10.1.0.100:http", "type": "always", "servers": ["s1"]}`
	for _, req := range []struct{ path, body string }{{"/v1/manager/advisors", advisor}, {"/v1/manager/rules", rule}} {
		if code, _, raw := e.do(adminToken, "POST", req.path, req.body); code != 200 {
			t.Fatalf("POST %s: %d %s", req.path, code, raw)
		}
		code, body, raw := e.do(adminToken, "POST", req.path, req.body)
		e.wantError(http.StatusConflict, "conflict", "already exists", code, body, raw)
	}

	// A read-only token changes nothing.
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/v1/manager/start", ""},
		{"POST", "/v1/manager/stop", ""},
		{"PATCH", "/v1/manager", `{"smoothing": 2}`},
		{"POST", "/v1/manager/advisors", `{"name": "web2", "service": "10.1.0.100:http", "type": "tcp"}`},
		{"DELETE", "/v1/manager/advisors/web", ""},
		{"POST", "/v1/manager/rules", `{"name": "off2", "service": "10.1.0.100:http", "type": "always", "servers": ["s2"]}`},
		{"DELETE", "/v1/manager/rules/off", ""},
	} {
		code, body, raw := e.do(readOnlyToken, req.method, req.path, req.body)
		e.wantError(http.StatusForbidden, "forbidden", "may only read", code, body, raw)
	}
	if _, gen := e.m.Config(); gen != 3 {
		t.Errorf("generation %d after two additions and refused changes, want 3", gen)
	}
}
