package api

import (
	"errors"
	"testing"

	"vec/control/apiwire"
)

// fakeBGP is a BGP speaker whose drain answer is set by the test.
type fakeBGP struct {
	drained bool
	calls   int
	err     error
}

func (f *fakeBGP) BGPStatus() apiwire.BGPStatus {
	st := apiwire.BGPStatus{LocalAS: 65001, RouterID: "192.0.2.1", NextHop: "192.0.2.1", Drained: f.drained,
		Forwarding: true, Eligible: []string{"192.0.2.10"}, Announced: []string{},
		Peers: []apiwire.BGPPeer{{Address: "198.51.100.1", Port: 179, AS: 65000, State: "established"}}}
	if !f.drained {
		st.Announced = []string{"192.0.2.10/32"}
	}
	return st
}

func (f *fakeBGP) setDrained(on bool) error {
	f.calls++
	if f.err != nil {
		return f.err
	}
	f.drained = on
	return nil
}

func (f *fakeBGP) Drain() error   { return f.setDrained(true) }
func (f *fakeBGP) Undrain() error { return f.setDrained(false) }

func TestBGPEndpoints(t *testing.T) {
	e := newAPIEnv(t)
	for _, req := range []struct{ token, method, path string }{
		{readOnlyToken, "GET", "/v1/bgp"}, {adminToken, "POST", "/v1/gateway/drain"}, {adminToken, "POST", "/v1/gateway/undrain"},
	} {
		code, body, raw := e.do(req.token, req.method, req.path, "")
		e.wantError(404, "bgp_not_configured", "no bgp section", code, body, raw)
	}

	sp := &fakeBGP{}
	e.h = NewHandler(Options{Backend: e.m, Tokens: e.tokens, BGP: sp})
	code, body, raw := e.do(readOnlyToken, "GET", "/v1/bgp", "")
	peers, _ := body["peers"].([]any)
	if code != 200 || body["local_as"] != 65001.0 || body["drained"] != false || len(peers) != 1 ||
		peers[0].(map[string]any)["state"] != "established" {
		t.Fatalf("GET /v1/bgp: %d %s", code, raw)
	}
	code, body, raw = e.do(readOnlyToken, "POST", "/v1/gateway/drain", "")
	e.wantError(403, "forbidden", "may only read", code, body, raw)
	if sp.calls != 0 {
		t.Fatal("a read-only token drained the gateway")
	}
	code, body, raw = e.do(adminToken, "POST", "/v1/gateway/drain", "")
	if code != 200 || !sp.drained || body["drained"] != true || len(body["announced"].([]any)) != 0 {
		t.Fatalf("POST /v1/gateway/drain: %d %s", code, raw)
	}
	code, body, raw = e.do(adminToken, "POST", "/v1/gateway/undrain", "")
	if code != 200 || sp.drained || body["drained"] != false || len(body["announced"].([]any)) != 1 {
		t.Fatalf("POST /v1/gateway/undrain: %d %s", code, raw)
	}
	code, body, raw = e.do(adminToken, "GET", "/v1/gateway/drain", "")
	e.wantError(405, "method_not_allowed", "takes POST", code, body, raw)

	sp.err = errors.New("bgp: the speaker has stopped")
	code, body, raw = e.do(adminToken, "POST", "/v1/gateway/drain", "")
	e.wantError(503, "bgp_unavailable", "has stopped", code, body, raw)
}
