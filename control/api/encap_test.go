package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A service's forwarding mode and GUE port go into the configuration
// through the API and come back in GET /v1/services; absent, the JSON
// leaves them out (dsr, as before they existed). An encapsulating
// service is validated like one in the file: without gateway.ip or
// encapsulation.source it is refused.
func TestServiceForwardingThroughTheAPI(t *testing.T) {
	e := newAPIEnv(t) // managertest.YAML: no gateway.ip
	gue := `{"vip": "10.1.0.200", "services": [{"name": "web", "protocol": "tcp", "port": 8080, "forwarding": "gue", "gue_port": 7000,
		"servers": [{"name": "b1", "ip": "10.1.0.21", "mac": "02:00:00:00:00:21", "weight": 2}]}]}`
	code, body, raw := e.do(adminToken, "POST", "/v1/clusters", gue)
	e.wantError(http.StatusUnprocessableEntity, "invalid_config", "set encapsulation.source or gateway.ip", code, body, raw)
	problems, _ := body["error"].(map[string]any)["problems"].([]any)
	if len(problems) != 1 || problems[0].(map[string]any)["field"] != "clusters[1].services[0].forwarding" {
		t.Fatalf("gue service without a source: problems %v, want one on clusters[1].services[0].forwarding", problems)
	}

	cfg, _ := e.m.Config()
	cfg.Gateway.IP = "10.1.0.1"
	if _, err := e.m.Replace(t.Context(), cfg, "test"); err != nil {
		t.Fatalf("setting gateway.ip: %v", err)
	}
	if code, _, raw := e.do(adminToken, "POST", "/v1/clusters", gue); code != 200 {
		t.Fatalf("gue service: %d %s", code, raw)
	}
	cfg, _ = e.m.Config()
	if s := cfg.Clusters[1].Services[0]; s.Forwarding != "gue" || s.GUEPort != 7000 {
		t.Errorf("configured service: forwarding %q port %d, want gue 7000", s.Forwarding, s.GUEPort)
	}

	req := httptest.NewRequest("GET", "/v1/services", nil)
	req.Header.Set("Authorization", "Bearer "+readOnlyToken)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var rows []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("services: %v %s", err, rec.Body.String())
	}
	if _, has := rows[0]["forwarding"]; has {
		t.Errorf("the dsr service (left at the default) shows forwarding: %v", rows[0])
	}
	if rows[1]["forwarding"] != "gue" || rows[1]["gue_port"] != 7000.0 {
		t.Errorf("the gue service's row: %v", rows[1])
	}
}
