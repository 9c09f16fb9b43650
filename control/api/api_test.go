package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"vec/control/apiwire"
	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/internal/testenv"
)

const (
	adminToken    = "admin-token-0123456789"
	readOnlyToken = "viewer-token-0123456789"
)

type apiEnv struct {
	t      *testing.T
	h      http.Handler
	m      *manager.Manager
	dp     *managertest.Dataplane
	level  zap.AtomicLevel
	path   string
	tokens *Tokens
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	e := &apiEnv{t: t, level: zap.NewAtomicLevel()}
	e.m, e.dp, e.path = managertest.Start(t, managertest.YAML, manager.Options{Log: zap.NewNop(), Level: e.level})
	tokensPath := filepath.Join(t.TempDir(), "tokens")
	tokens := "# role name token\nadmin ops " + adminToken + "\nread-only viewer " + readOnlyToken + "\n"
	if err := os.WriteFile(tokensPath, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	tk := &Tokens{}
	if err := tk.Load(tokensPath); err != nil {
		t.Fatal(err)
	}
	e.tokens = tk
	e.h = NewHandler(Options{Backend: e.m, Tokens: tk})
	return e
}

// do sends a request and returns the status and the decoded body.
func (e *apiEnv) do(token, method, path, body string) (int, map[string]any, string) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		e.t.Fatalf("%s %s: reply is not JSON: %v\n%s", method, path, err, rec.Body.String())
	}
	m, _ := v.(map[string]any)
	return rec.Code, m, rec.Body.String()
}

// wantError checks an error reply's status and code, and that its message
// contains want.
func (e *apiEnv) wantError(status int, code, want string, gotStatus int, body map[string]any, raw string) {
	e.t.Helper()
	errObj, _ := body["error"].(map[string]any)
	text := ""
	if errObj != nil {
		text, _ = errObj["message"].(string)
	}
	if gotStatus != status || errObj == nil || errObj["code"] != code || !strings.Contains(text, want) {
		e.t.Errorf("got %d %s, want %d %s mentioning %q", gotStatus, raw, status, code, want)
	}
}

func TestAuthentication(t *testing.T) {
	e := newAPIEnv(t)
	code, body, raw := e.do("", "GET", "/v1/status", "")
	e.wantError(http.StatusUnauthorized, "unauthorized", "no bearer token", code, body, raw)
	code, body, raw = e.do("wrong-token-0123456789", "GET", "/v1/status", "")
	e.wantError(http.StatusUnauthorized, "unauthorized", "not valid", code, body, raw)
	// Without a token even an unknown path says nothing about routes.
	code, body, raw = e.do("", "GET", "/v1/nothing", "")
	e.wantError(http.StatusUnauthorized, "unauthorized", "bearer", code, body, raw)

	if code, _, raw := e.do(readOnlyToken, "GET", "/v1/status", ""); code != 200 {
		t.Errorf("read-only GET /v1/status: %d %s", code, raw)
	}
	for _, req := range []struct{ method, path, body string }{
		{"DELETE", "/v1/clusters/10.1.0.100", ""},
		{"POST", "/v1/clusters/10.1.0.100/services/http/servers/s1/quiesce", ""},
		{"PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{"weight": 3}`},
		{"PUT", "/v1/log/level", `{"level": "debug"}`},
		{"POST", "/v1/config/save", ""},
	} {
		code, body, raw := e.do(readOnlyToken, req.method, req.path, req.body)
		e.wantError(http.StatusForbidden, "forbidden", "read-only", code, body, raw)
	}
	if _, gen := e.m.Config(); gen != 1 {
		t.Errorf("a read-only token changed the configuration (generation %d)", gen)
	}
	if code, _, raw := e.do(adminToken, "PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{"weight": 3}`); code != 200 {
		t.Errorf("admin PATCH: %d %s", code, raw)
	}
}

func TestTokensFile(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"admin a " + adminToken + "\nadmin a " + readOnlyToken, "already used"},
		{"root a " + adminToken, "not admin or read-only"},
		{"admin a short", "shorter than"},
		{"admin a " + adminToken + "\nread-only b " + adminToken, "same as on line 1"},
		{"# nothing\n", "no tokens"},
		{"admin " + adminToken, "want \"<role> <name> <token>\""},
	} {
		if _, err := parseTokens([]byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tokens %q: %v, want %q", tc.text, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("admin a "+adminToken+"\n"), 0o644)
	if err := (&Tokens{}).Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
		t.Errorf("a world-readable tokens file: %v", err)
	}
	var tk Tokens
	if _, err := tk.Verify("Bearer " + adminToken); err == nil {
		t.Error("an empty token set accepted a token")
	}
	entries, _ := parseTokens([]byte("read-only v " + readOnlyToken))
	tk.set(entries)
	id, err := tk.Verify("bearer " + readOnlyToken)
	if err != nil || id.Name != "v" || id.Role != RoleReadOnly {
		t.Errorf("lower-case scheme: %+v %v", id, err)
	}
	if _, err := tk.Verify("Basic " + readOnlyToken); err == nil {
		t.Error("a Basic header was accepted")
	}
}

// TestTokensFileChecks: the tokens file is checked on the descriptor it is
// read from: something else than a regular file, or a file owned by
// another user (that root could read anyway), is refused with a clear
// error, and the tokens loaded before stay.
func TestTokensFileChecks(t *testing.T) {
	dir := t.TempDir()
	var tk Tokens
	good := filepath.Join(dir, "tokens")
	if err := os.WriteFile(good, []byte("admin a "+adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tk.Load(good); err != nil {
		t.Fatalf("owner-only tokens file: %v", err)
	}
	if err := tk.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), dir) {
		t.Errorf("a directory as tokens file: %v", err)
	}
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the owner check needs root to give the tokens file another owner")
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("admin b "+readOnlyToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	if err := tk.Load(other); err == nil || !strings.Contains(err.Error(), "owned by uid 12345") || !strings.Contains(err.Error(), other) {
		t.Errorf("a tokens file of another user: %v", err)
	}
	if id, err := tk.Verify("Bearer " + adminToken); err != nil || id.Name != "a" {
		t.Errorf("the tokens loaded first were lost: %+v %v", id, err)
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newAPIEnv(t)
	code, body, raw := e.do(adminToken, "GET", "/v1/nothing", "")
	e.wantError(http.StatusNotFound, "unknown_endpoint", "/v1/nothing", code, body, raw)
	code, body, raw = e.do(adminToken, "DELETE", "/v1/status", "")
	e.wantError(http.StatusMethodNotAllowed, "method_not_allowed", "GET", code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters", `{"vip": "10.1.0.200",`)
	e.wantError(http.StatusBadRequest, "bad_request", "JSON", code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters", `{"vip": "10.1.0.200", "colour": "red"}`)
	e.wantError(http.StatusBadRequest, "bad_request", `unknown field "colour"`, code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters", `{"vip": 7}`)
	e.wantError(http.StatusBadRequest, "bad_request", `field "vip"`, code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters", `{"vip": "10.1.0.200"} {}`)
	e.wantError(http.StatusBadRequest, "bad_request", "more than one JSON value", code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters", ``)
	e.wantError(http.StatusBadRequest, "bad_request", "needs a JSON body", code, body, raw)
	code, body, raw = e.do(adminToken, "GET", "/v1/connections?colour=red", "")
	e.wantError(http.StatusBadRequest, "bad_request", "unknown query parameter", code, body, raw)
	code, body, raw = e.do(adminToken, "GET", "/v1/connections?limit=0", "")
	e.wantError(http.StatusBadRequest, "bad_request", "limit", code, body, raw)
	// Pages go by cursor; page numbers (a scan from the start) are gone.
	code, body, raw = e.do(adminToken, "GET", "/v1/connections?page=1000000", "")
	e.wantError(http.StatusBadRequest, "bad_request", "unknown query parameter", code, body, raw)
	code, body, raw = e.do(adminToken, "GET", "/v1/connections?cursor=0.x.0", "")
	e.wantError(http.StatusBadRequest, "bad_request", "cursor", code, body, raw)
	code, body, raw = e.do(adminToken, "PUT", "/v1/log/level", `{"level": "loud"}`)
	e.wantError(http.StatusBadRequest, "bad_request", "loud", code, body, raw)
}

func TestBadChangesAreRejected(t *testing.T) {
	e := newAPIEnv(t)
	dup := `{"vip": "10.1.0.100", "services": [{"name": "x", "protocol": "tcp", "port": 81,
		"servers": [{"name": "a", "ip": "10.1.0.21", "mac": "02:00:00:00:00:21", "weight": 1}]}]}`
	code, body, raw := e.do(adminToken, "POST", "/v1/clusters", dup)
	e.wantError(http.StatusConflict, "conflict", "cluster 10.1.0.100 already exists", code, body, raw)

	code, body, raw = e.do(adminToken, "PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{"weight": 21}`)
	e.wantError(http.StatusUnprocessableEntity, "invalid_config", "weight_bound", code, body, raw)
	problems, _ := body["error"].(map[string]any)["problems"].([]any)
	if len(problems) != 1 || problems[0].(map[string]any)["field"] != "clusters[0].services[0].servers[0].weight" {
		t.Errorf("problems %v", problems)
	}
	code, body, raw = e.do(adminToken, "DELETE", "/v1/clusters/10.1.0.100/services/http/servers/s9", "")
	e.wantError(http.StatusNotFound, "not_found", "server s9", code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters/10.1.0.100/services/http/servers",
		`{"name": "s3", "ip": "10.1.0.300", "mac": "02:00:00:00:00:13", "weight": 1}`)
	e.wantError(http.StatusUnprocessableEntity, "invalid_config", `"10.1.0.300" is not an IPv4 address`, code, body, raw)
	code, body, raw = e.do(adminToken, "DELETE", "/v1/clusters/10.1.0.100/services/http", "")
	e.wantError(http.StatusUnprocessableEntity, "invalid_config", "a cluster needs at least one service", code, body, raw)
	code, body, raw = e.do(adminToken, "POST", "/v1/clusters/10.1.0.100/services",
		`{"name": "slow", "protocol": "tcp", "port": 81, "stale_timeout": "soon", "servers": []}`)
	e.wantError(http.StatusBadRequest, "bad_request", `"soon" is not a duration`, code, body, raw)
	code, body, raw = e.do(adminToken, "PATCH", "/v1/clusters/10.1.0.100/services/http", `{}`)
	e.wantError(http.StatusBadRequest, "bad_request", "changes nothing: give stale_timeout", code, body, raw)
	code, body, raw = e.do(adminToken, "PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{}`)
	e.wantError(http.StatusBadRequest, "bad_request", "changes nothing: give weight", code, body, raw)
	if _, gen := e.m.Config(); gen != 1 {
		t.Errorf("rejected changes moved the generation to %d", gen)
	}
}

func TestChangesThroughTheAPI(t *testing.T) {
	e := newAPIEnv(t)
	add := `{"vip": "10.1.0.200", "services": [{"name": "web", "protocol": "tcp", "port": 8080, "stale_timeout": "60s",
		"servers": [{"name": "b1", "ip": "10.1.0.21", "mac": "02:00:00:00:00:21", "weight": 2}]}]}`
	code, body, raw := e.do(adminToken, "POST", "/v1/clusters", add)
	if code != 200 || body["generation"] != 2.0 || body["ack_latency_ms"] == nil {
		t.Fatalf("add cluster: %d %s", code, raw)
	}
	req := httptest.NewRequest("GET", "/v1/clusters", nil)
	req.Header.Set("Authorization", "Bearer "+readOnlyToken)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var cls []apiwire.Cluster
	if err := json.Unmarshal(rec.Body.Bytes(), &cls); err != nil || len(cls) != 2 || cls[1].Services[0].StaleTimeout != "1m0s" {
		t.Errorf("clusters: %v %s", err, rec.Body.String())
	}
	steps := []struct{ method, path, body string }{
		{"POST", "/v1/clusters/10.1.0.100/services/http/servers", `{"name": "s3", "ip": "10.1.0.13", "mac": "02:00:00:00:00:13", "weight": 1}`},
		{"PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{"weight": 4}`},
		{"POST", "/v1/clusters/10.1.0.100/services/http/servers/10.1.0.12/quiesce", ""},
		{"PATCH", "/v1/clusters/10.1.0.100/services/http", `{"fin_timeout": "10s", "weight_bound": 10}`},
		{"DELETE", "/v1/clusters/10.1.0.100/services/http/servers/s3", ""},
		{"DELETE", "/v1/clusters/10.1.0.200", ""},
		{"PUT", "/v1/log/level", `{"level": "debug"}`},
	}
	for i, s := range steps {
		code, body, raw := e.do(adminToken, s.method, s.path, s.body)
		if code != 200 || body["generation"] != float64(3+i) {
			t.Errorf("%s %s: %d %s", s.method, s.path, code, raw)
		}
	}
	if e.level.Level().String() != "debug" {
		t.Errorf("log level %s after PUT debug", e.level.Level())
	}
	cfg, _ := e.m.Config()
	http := cfg.Clusters[0].Services[0]
	if len(cfg.Clusters) != 1 || *http.Servers[0].Weight != 4 || !http.Servers[1].Quiesced || len(http.Servers) != 2 ||
		http.FinTimeout != 10*time.Second || *http.WeightBound != 10 {
		t.Errorf("configuration after the steps: %+v", cfg.Clusters)
	}
	// The servers' view: weights and state.
	req = httptest.NewRequest("GET", "/v1/servers?vip=10.1.0.100&service=http", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var servers []apiwire.ServerCounters
	if err := json.Unmarshal(rec.Body.Bytes(), &servers); err != nil {
		t.Fatal(err)
	}
	// s3 was removed: it drains (without connections it is released at
	// the next drain check, which the manager's Run loop makes).
	if len(servers) != 3 || servers[0].EffectiveWeight != 4 || servers[1].EffectiveWeight != 0 || !servers[1].Quiesced ||
		servers[1].Weight != 1 || servers[2].Server != "s3" || !servers[2].Draining {
		t.Errorf("servers %+v", servers)
	}
	code, body, raw = e.do(adminToken, "GET", "/v1/status", "")
	if code != 200 || body["generation"] != 9.0 || body["log_level"] != "debug" {
		t.Errorf("status %s", raw)
	}
	code, body, raw = e.do(adminToken, "GET", "/v1/config", "")
	if code != 200 || !strings.Contains(body["yaml"].(string), "quiesced: true") {
		t.Errorf("config %s", raw)
	}
	// Save writes the file; reload takes it back.
	if code, _, raw := e.do(adminToken, "POST", "/v1/config/save", ""); code != 200 {
		t.Errorf("save: %s", raw)
	}
	saved, _ := os.ReadFile(e.path)
	if !strings.Contains(string(saved), "weight: 4") {
		t.Errorf("saved file:\n%s", saved)
	}
	if code, body, raw := e.do(adminToken, "POST", "/v1/config/reload", ""); code != 200 || body["generation"] != 10.0 {
		t.Errorf("reload: %s", raw)
	}
	code, body, raw = e.do(adminToken, "GET", "/v1/counters", "")
	serving := 0
	for _, s := range body["servers"].([]any) {
		if s.(map[string]any)["draining"] == false {
			serving++
		}
	}
	if code != 200 || serving != 2 {
		t.Errorf("counters %s", raw)
	}
	code, body, raw = e.do(adminToken, "GET", "/v1/connections?vip=10.1.0.100&state=active&limit=5", "")
	if code != 200 || body["connections"] == nil || body["more"] != false || body["next_cursor"] != "" {
		t.Errorf("connections %s", raw)
	}
}
