package api

import (
	"errors"
	"testing"

	"vec/recovery"
)

// fakeHA is a gateway's recovery side whose takeover answer is set by the
// test.
type fakeHA struct {
	takeoverErr error
	requested   int
}

func (f *fakeHA) HAStatus() recovery.GatewayStatus {
	return recovery.GatewayStatus{Node: "gw2", Role: "backup", Term: 7, Active: "gw1"}
}

func (f *fakeHA) RequestTakeover() error {
	f.requested++
	return f.takeoverErr
}

func TestHAEndpoints(t *testing.T) {
	e := newAPIEnv(t)
	for _, req := range []struct{ token, method, path string }{
		{readOnlyToken, "GET", "/v1/ha"}, {adminToken, "POST", "/v1/ha/takeover"},
	} {
		code, body, raw := e.do(req.token, req.method, req.path, "")
		e.wantError(404, "ha_not_configured", "no recovery side", code, body, raw)
	}

	ha := &fakeHA{}
	e.h = NewHandler(Options{Backend: e.m, Tokens: e.tokens, HA: ha})
	code, body, raw := e.do(readOnlyToken, "GET", "/v1/ha", "")
	if code != 200 || body["role"] != "backup" || body["active"] != "gw1" || body["term"] != 7.0 {
		t.Fatalf("GET /v1/ha: %d %s", code, raw)
	}
	code, body, raw = e.do(readOnlyToken, "POST", "/v1/ha/takeover", "")
	e.wantError(403, "forbidden", "may only read", code, body, raw)
	if ha.requested != 0 {
		t.Fatal("a read-only token requested a takeover")
	}
	if code, _, raw := e.do(adminToken, "POST", "/v1/ha/takeover", ""); code != 200 || ha.requested != 1 {
		t.Fatalf("POST /v1/ha/takeover: %d %s", code, raw)
	}
	ha.takeoverErr = errors.New("ha: this gateway is active already")
	code, body, raw = e.do(adminToken, "POST", "/v1/ha/takeover", "")
	e.wantError(409, "conflict", "active already", code, body, raw)
}
