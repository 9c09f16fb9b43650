package client

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"vec/agent/auth"
	"vec/agent/wire"
)

// leaseAgent is a fake witness that grants every request (capped at 2 s)
// and records the last request it decoded.
func leaseAgent(t *testing.T, name string, k auth.Key, last *wire.LeaseRequest) *fakeAgent {
	t.Helper()
	return newFakeAgent(t, name, k, func(_ http.ResponseWriter, _ auth.Request, body []byte) (int, []byte, bool) {
		var req wire.LeaseRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return http.StatusBadRequest, []byte(`{"error":"lease request: ` + err.Error() + `"}`), true
		}
		if last != nil {
			*last = req
		}
		rep := wire.LeaseReply{Server: name, Term: req.Term}
		if !req.Release {
			rep.Granted, rep.Holder, rep.RemainingMs = true, req.Gateway, min(req.DurationMs, 2000)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Error(err)
		}
		return http.StatusOK, b, true
	})
}

func TestLeaseRoundTrip(t *testing.T) {
	k := key(t, 1)
	var got wire.LeaseRequest
	fa := leaseAgent(t, "srv1", k, &got)
	c := newClient(t, Options{Key: k})

	req := wire.LeaseRequest{Gateway: "gw1", Term: 7, DurationMs: 5000}
	rep, err := c.Lease(context.Background(), fa.target("srv1"), req)
	if err != nil {
		t.Fatal(err)
	}
	if got != req {
		t.Errorf("agent received %+v, sent %+v", got, req)
	}
	if want := (wire.LeaseReply{Server: "srv1", Granted: true, Term: 7, Holder: "gw1", RemainingMs: 2000}); rep != want {
		t.Errorf("reply %+v, want %+v", rep, want)
	}

	release := wire.LeaseRequest{Gateway: "gw1", Term: 7, Release: true}
	rep, err = c.Lease(context.Background(), fa.target("srv1"), release)
	if err != nil {
		t.Fatal(err)
	}
	if got != release || rep != (wire.LeaseReply{Server: "srv1", Term: 7}) {
		t.Errorf("release: agent received %+v, replied %+v", got, rep)
	}
}

func TestLeaseRefusesBadReplies(t *testing.T) {
	k := key(t, 1)
	req := wire.LeaseRequest{Gateway: "gw1", Term: 3, DurationMs: 1000}
	for _, c := range []struct {
		name  string
		req   wire.LeaseRequest
		reply string
		sign  bool
		want  string
	}{
		{"unsigned", req, `{"server":"srv1","granted":true,"term":3,"holder":"gw1","remaining_ms":1000}`, false, "not signed"},
		{"another agent's reply", req, `{"server":"srv2","granted":true,"term":3,"holder":"gw1","remaining_ms":1000}`, true, `reply names server "srv2"`},
		{"malformed", req, `{"server":"srv1","granted":tru`, true, "malformed lease reply"},
		{"unknown field", req, `{"server":"srv1","granted":false,"term":3,"holder":"","remaining_ms":0,"lease":1}`, true, "unknown field"},
		{"missing field", req, `{"server":"srv1","granted":false,"term":3,"holder":""}`, true, "a field is missing"},
		{"data after the object", req, `{"server":"srv1","granted":false,"term":3,"holder":"","remaining_ms":0} {}`, true, "data after"},
		{"wrong type", req, `{"server":"srv1","granted":"yes","term":3,"holder":"gw1","remaining_ms":1000}`, true, "malformed lease reply"},
		{"no server", req, `{"server":"","granted":false,"term":3,"holder":"","remaining_ms":0}`, true, "no server name"},
		{"negative time", req, `{"server":"srv1","granted":false,"term":3,"holder":"","remaining_ms":-1}`, true, "-1 ms remaining"},
		{"holder without time", req, `{"server":"srv1","granted":false,"term":3,"holder":"gw2","remaining_ms":0}`, true, `holder "gw2" with 0 ms`},
		{"time without holder", req, `{"server":"srv1","granted":false,"term":3,"holder":"","remaining_ms":5}`, true, `holder "" with 5 ms`},
		{"grant to another gateway", req, `{"server":"srv1","granted":true,"term":3,"holder":"gw2","remaining_ms":1000}`, true, `grants term 3 to "gw2"`},
		{"grant of another term", req, `{"server":"srv1","granted":true,"term":4,"holder":"gw1","remaining_ms":1000}`, true, `grants term 4 to "gw1"`},
		{"grant longer than asked", req, `{"server":"srv1","granted":true,"term":3,"holder":"gw1","remaining_ms":1001}`, true, "grants 1001 ms, asked for 1000"},
		{"release answered as a grant", wire.LeaseRequest{Gateway: "gw1", Term: 3, Release: true},
			`{"server":"srv1","granted":true,"term":3,"holder":"gw1","remaining_ms":1000}`, true, "release answered as a grant"},
		{"oversize", req, `{"server":"srv1","granted":false,"term":3,"holder":"` + strings.Repeat("g", wire.MaxLeaseReplyBytes) + `","remaining_ms":1}`, true, "more than 4096"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fa := newFakeAgent(t, "srv1", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, []byte(c.reply), c.sign
			})
			_, err := newClient(t, Options{Key: k}).Lease(context.Background(), fa.target("srv1"), c.req)
			if !errors.Is(err, ErrBadReply) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrBadReply with %q", err, c.want)
			}
		})
	}

	fa := newFakeAgent(t, "srv1", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		return http.StatusBadRequest, []byte(`{"error":"lease request: term must be at least 1"}`), true
	})
	_, err := newClient(t, Options{Key: k}).Lease(context.Background(), fa.target("srv1"), wire.LeaseRequest{Gateway: "gw1", DurationMs: 1})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "400 Bad Request: lease request: term must be at least 1") {
		t.Fatalf("signed refusal: %v", err)
	}
}

// TestPerAgentKeys: each agent accepts only its own key, and the client
// signs every request with its target's key.
func TestPerAgentKeys(t *testing.T) {
	k1, k2 := key(t, 1), key(t, 2)
	a1 := leaseAgent(t, "srv1", k1, nil)
	a2 := leaseAgent(t, "srv2", k2, nil)
	targets := []Target{{Name: "srv1", URL: a1.srv.URL, Key: k1}, {Name: "srv2", URL: a2.srv.URL, Key: k2}}
	req := wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: 500}

	c := newClient(t, Options{}) // no client-wide key: every target has its own
	for i, r := range c.LeaseAll(context.Background(), targets, req) {
		want := wire.LeaseReply{Server: targets[i].Name, Granted: true, Term: 1, Holder: "gw1", RemainingMs: 500}
		if r.Err != nil || r.Reply != want || r.Target.Name != targets[i].Name {
			t.Errorf("%s: %+v, %v", targets[i].Name, r.Reply, r.Err)
		}
	}

	// A target given another agent's key is refused by its agent.
	crossed := Target{Name: "srv1", URL: a1.srv.URL, Key: k2}
	if _, err := c.Lease(context.Background(), crossed, req); !errors.Is(err, ErrRefused) ||
		!strings.Contains(err.Error(), "401 Unauthorized (unsigned reply): unauthorized: unknown key "+k2.ID) {
		t.Errorf("srv1 with srv2's key: %v", err)
	}

	// Options.Key signs for the targets without a key of their own.
	withDefault := newClient(t, Options{Key: k1})
	results := withDefault.LeaseAll(context.Background(), []Target{a1.target("srv1"), a2.target("srv2"), targets[1]}, req)
	if results[0].Err != nil {
		t.Errorf("srv1 with the client's key: %v", results[0].Err)
	}
	if !errors.Is(results[1].Err, ErrRefused) {
		t.Errorf("srv2 with the client's key (srv1's): %v", results[1].Err)
	}
	if results[2].Err != nil {
		t.Errorf("srv2 with its own key, the client's set: %v", results[2].Err)
	}
}

// TestReplyForgedWithAnotherAgentsKey: the holder of srv2's key (a
// compromised server) intercepts a request to srv1 and answers it, signed
// with the key it has, by the protocol's formula; the client refuses the
// reply. The same forgery with srv1's key is accepted, which shows the
// hand-made signature is the protocol's.
func TestReplyForgedWithAnotherAgentsKey(t *testing.T) {
	secret1, secret2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	k1, err := auth.NewKey(secret1)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"server":"srv1","granted":true,"term":1,"holder":"gw1","remaining_ms":500}`)
	var signWith atomic.Pointer[[]byte]
	forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mac := hmac.New(sha256.New, *signWith.Load())
		fmt.Fprintf(mac, "vec-agent-reply-v1\n%s\n%s\n%s\n%s\n%d\n%x", cred.Agent, r.Method, r.URL.RequestURI(), cred.Nonce,
			http.StatusOK, sha256.Sum256(body))
		w.Header().Set(auth.ReplySignatureHeader, hex.EncodeToString(mac.Sum(nil)))
		w.Write(body)
	}))
	defer forger.Close()
	c := newClient(t, Options{})
	target := Target{Name: "srv1", URL: forger.URL, Key: k1}
	req := wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: 500}

	signWith.Store(&secret2)
	if _, err := c.Lease(context.Background(), target, req); !errors.Is(err, ErrBadReply) || !strings.Contains(err.Error(), "signature does not match") {
		t.Errorf("reply signed with srv2's key: %v", err)
	}
	signWith.Store(&secret1)
	if _, err := c.Lease(context.Background(), target, req); err != nil {
		t.Errorf("reply signed with srv1's key: %v", err)
	}
}

func TestNoKey(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1) }))
	defer srv.Close()
	c, err := New(Options{})
	if err != nil {
		t.Fatalf("New without a key: %v", err)
	}
	_, err = c.Lease(context.Background(), Target{Name: "srv1", URL: srv.URL}, wire.LeaseRequest{Gateway: "gw1", Term: 1, DurationMs: 1})
	if err == nil || !strings.Contains(err.Error(), "agent srv1: no key") {
		t.Errorf("target without a key: %v", err)
	}
	if _, err := c.Metrics(context.Background(), Target{Name: "srv2", URL: srv.URL}); err == nil || !strings.Contains(err.Error(), "agent srv2: no key") {
		t.Errorf("metrics without a key: %v", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("%d requests sent without a key", n)
	}
}
