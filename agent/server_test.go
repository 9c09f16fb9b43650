package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/metrics"
	"vec/agent/wire"
)

// fakeTable serves fixed entries (sorted on construction).
type fakeTable struct {
	vips    []netip.Addr
	entries []wire.Entry
}

func newFakeTable(vips []netip.Addr, entries []wire.Entry) *fakeTable {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, wire.Compare)
	return &fakeTable{vips: vips, entries: entries}
}

func (f *fakeTable) VIPs() []netip.Addr { return f.vips }

func (f *fakeTable) Served(want []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, v := range want {
		if slices.Contains(f.vips, v) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

func (f *fakeTable) Entries(vips []netip.Addr) ([]wire.Entry, error) {
	var out []wire.Entry
	for _, e := range f.entries {
		if slices.Contains(vips, e.VIP.Addr()) {
			out = append(out, e)
		}
	}
	return out, nil
}

type fakeMetrics struct{}

func (fakeMetrics) Host() (metrics.Host, error) {
	cpu := 12.5
	return metrics.Host{CPUPercent: &cpu, Load1: 1, Load5: 2, Load15: 3, MemUsed: 100, MemTotal: 1000}, nil
}

func (fakeMetrics) Custom() []wire.CustomMetric {
	v := 7.0
	return []wire.CustomMetric{{Name: "queue", Value: &v}, {Name: "broken", Error: "exit status 1"}}
}

var (
	vipA = netip.MustParseAddr("10.0.0.1")
	vipB = netip.MustParseAddr("10.0.0.2")
)

// syntheticEntries returns n TCP entries on vipA:80 and vipB:443, every
// tenth in FIN, plus an unconnected UDP socket on vipA:53.
func syntheticEntries(n int) []wire.Entry {
	out := []wire.Entry{{Proto: wire.ProtoUDP, VIP: netip.AddrPortFrom(vipA, 53), State: wire.StateActive}}
	for i := range n {
		vip := netip.AddrPortFrom(vipA, 80)
		if i%2 == 1 {
			vip = netip.AddrPortFrom(vipB, 443)
		}
		state := wire.StateActive
		if i%10 == 0 {
			state = wire.StateFIN
		}
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 200)}), uint16(1024+i/200))
		out = append(out, wire.Entry{Proto: wire.ProtoTCP, Client: client, VIP: vip, State: state})
	}
	return out
}

// testWitness is a Witness with the default maximum lease on the clock now
// (nil: time.Now).
func testWitness(tb testing.TB, now func() time.Time) *Witness {
	tb.Helper()
	w, err := NewWitness(DefaultMaxLease, zap.NewNop(), now)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// testHandler is NewHandler(cfg) with a verifier for cfg.Name that accepts
// one key, 32 bytes of keyByte, and checks timestamps against now (nil:
// time.Now); where cfg leaves them nil, fakeMetrics and a test witness on
// now. It returns the key with the handler.
func testHandler(tb testing.TB, keyByte byte, now func() time.Time, cfg HandlerConfig) (http.Handler, auth.Key) {
	tb.Helper()
	key, err := auth.NewKey(bytes.Repeat([]byte{keyByte}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Verifier, err = auth.NewVerifier(auth.VerifierConfig{Agent: cfg.Name, Keys: []auth.Key{key}, Now: now}); err != nil {
		tb.Fatal(err)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = fakeMetrics{}
	}
	if cfg.Witness == nil {
		cfg.Witness = testWitness(tb, now)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return h, key
}

type testAgent struct {
	srv   *httptest.Server
	key   auth.Key
	clock *time.Time
}

func newTestAgent(t *testing.T, table EntrySource, maxEntries, maxBytes int) *testAgent {
	t.Helper()
	now := time.Now()
	ta := &testAgent{clock: &now}
	h, key := testHandler(t, 7, func() time.Time { return *ta.clock }, HandlerConfig{Name: "srv1", Table: table,
		MaxEntries: maxEntries, MaxBytes: maxBytes, Logger: zaptest.NewLogger(t)})
	ta.key = key
	ta.srv = httptest.NewServer(h)
	t.Cleanup(ta.srv.Close)
	return ta
}

// send signs (unless key is zero) and sends a request; it returns status,
// body and whether the reply's signature verified.
func (ta *testAgent) send(t *testing.T, method, path string, body []byte, key auth.Key, at time.Time) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, ta.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var signed auth.Signed
	if !key.IsZero() {
		if signed, err = auth.SignRequest(req, body, key, "srv1", at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sigErr error
	if key.IsZero() {
		sigErr = fmt.Errorf("not signed")
	} else {
		sigErr = signed.VerifyReply(resp.StatusCode, resp.Header, reply)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != auth.Scheme {
		t.Errorf("401 without WWW-Authenticate: %s", auth.Scheme)
	}
	return resp.StatusCode, reply, sigErr
}

func errorText(t *testing.T, body []byte) string {
	t.Helper()
	var e wire.ErrorReply
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error reply %q is not JSON: %v", body, err)
	}
	return e.Error
}

func TestHandlerRefusesUnauthenticated(t *testing.T) {
	ta := newTestAgent(t, newFakeTable([]netip.Addr{vipA}, syntheticEntries(10)), 0, 0)
	body := []byte(`{"vips":["10.0.0.1"]}`)
	other, _ := auth.NewKey(bytes.Repeat([]byte{8}, 32))

	status, reply, _ := ta.send(t, http.MethodPost, wire.PathConnections, body, auth.Key{}, time.Now())
	if status != http.StatusUnauthorized || !strings.Contains(errorText(t, reply), "missing Authorization header") {
		t.Errorf("no credentials: %d %s", status, reply)
	}
	status, reply, _ = ta.send(t, http.MethodPost, wire.PathConnections, body, other, time.Now())
	if status != http.StatusUnauthorized || !strings.Contains(errorText(t, reply), "unknown key") {
		t.Errorf("wrong key: %d %s", status, reply)
	}
	status, reply, _ = ta.send(t, http.MethodPost, wire.PathConnections, body, ta.key, time.Now().Add(-2*time.Minute))
	if status != http.StatusUnauthorized || !strings.Contains(errorText(t, reply), "stale request or clock skew") {
		t.Errorf("stale timestamp: %d %s", status, reply)
	}
	status, reply, _ = ta.send(t, http.MethodGet, wire.PathConnections, nil, ta.key, time.Now())
	if status != http.StatusMethodNotAllowed {
		t.Errorf("GET connections: %d %s", status, reply)
	}
}

func TestHandlerRefusesReplayedRequest(t *testing.T) {
	ta := newTestAgent(t, newFakeTable([]netip.Addr{vipA}, syntheticEntries(10)), 0, 0)
	body := []byte(`{"vips":["10.0.0.1"]}`)
	req, err := http.NewRequest(http.MethodPost, ta.srv.URL+wire.PathConnections, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.SignRequest(req, body, ta.key, "srv1", time.Now()); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		replay := req.Clone(req.Context())
		replay.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(replay)
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("send %d: status %d (%s), want %d", i+1, resp.StatusCode, reply, want)
		}
		if i == 1 && !strings.Contains(errorText(t, reply), "replayed request") {
			t.Fatalf("replay refused with %q", reply)
		}
	}
}

func TestHandlerPagesByEntriesAndBytes(t *testing.T) {
	all := syntheticEntries(2500)
	table := newFakeTable([]netip.Addr{vipA, vipB}, all)
	for _, c := range []struct {
		name                          string
		maxEntries, maxBytes          int // the agent's
		askEntries, askBytes, minPage int
	}{
		{"agent entry cap", 100, 0, 0, 0, 25},
		{"client entry cap", 0, 0, 300, 0, 9},
		{"client byte cap", 0, 0, 0, 8 << 10, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			ta := newTestAgent(t, table, c.maxEntries, c.maxBytes)
			var got []wire.Entry
			cursor := ""
			pages := 0
			for {
				body, _ := json.Marshal(wire.ConnectionsRequest{VIPs: []netip.Addr{vipB, vipA}, Cursor: cursor,
					MaxEntries: c.askEntries, MaxBytes: c.askBytes})
				status, reply, sigErr := ta.send(t, http.MethodPost, wire.PathConnections, body, ta.key, time.Now())
				if status != http.StatusOK || sigErr != nil {
					t.Fatalf("page %d: %d %s (signature: %v)", pages, status, reply, sigErr)
				}
				if c.askBytes > 0 && len(reply) > c.askBytes {
					t.Fatalf("page of %d bytes, asked for at most %d", len(reply), c.askBytes)
				}
				var p wire.ConnectionsReply
				if err := json.Unmarshal(reply, &p); err != nil {
					t.Fatal(err)
				}
				if p.Server != "srv1" || !slices.Equal(p.VIPs, []netip.Addr{vipA, vipB}) {
					t.Fatalf("envelope %q %v", p.Server, p.VIPs)
				}
				got = append(got, p.Entries...)
				pages++
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if !slices.Equal(got, table.entries) {
				t.Fatalf("paged listing differs: %d entries, want %d", len(got), len(table.entries))
			}
			if pages < c.minPage {
				t.Errorf("%d pages, want at least %d", pages, c.minPage)
			}
		})
	}
}

func TestHandlerBadRequests(t *testing.T) {
	ta := newTestAgent(t, newFakeTable([]netip.Addr{vipA}, syntheticEntries(10)), 0, 0)
	for _, c := range []struct{ body, want string }{
		{`{"vips":[]}`, "names no VIP"},
		{`{"vips":["10.0.0.1"],"extra":1}`, "unknown field"},
		{`{"vips":["10.0.0.1"]} {}`, "data after"},
		{`{"vips":["10.0.0.1"],"cursor":"!!"}`, "cursor"},
		{`{"vips":["10.0.0.1"],"max_bytes":100}`, "below the minimum"},
		{`{"vips":["not-an-ip"]}`, "connections request"},
	} {
		status, reply, sigErr := ta.send(t, http.MethodPost, wire.PathConnections, []byte(c.body), ta.key, time.Now())
		if status != http.StatusBadRequest || !strings.Contains(errorText(t, reply), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, status, reply, c.want)
		}
		if sigErr != nil {
			t.Errorf("%s: authenticated refusal not signed: %v", c.body, sigErr)
		}
	}
	// A VIP this agent does not serve is no error: it is left out.
	status, reply, _ := ta.send(t, http.MethodPost, wire.PathConnections, []byte(`{"vips":["10.0.0.9"]}`), ta.key, time.Now())
	var p wire.ConnectionsReply
	if status != http.StatusOK || json.Unmarshal(reply, &p) != nil || len(p.VIPs) != 0 || len(p.Entries) != 0 {
		t.Errorf("unserved VIP: %d %s", status, reply)
	}
}

func TestHandlerMetrics(t *testing.T) {
	ta := newTestAgent(t, newFakeTable([]netip.Addr{vipA, vipB}, syntheticEntries(100)), 0, 0)
	status, reply, sigErr := ta.send(t, http.MethodGet, wire.PathMetrics, nil, ta.key, time.Now())
	if status != http.StatusOK || sigErr != nil {
		t.Fatalf("%d %s %v", status, reply, sigErr)
	}
	var m wire.MetricsReply
	if err := json.Unmarshal(reply, &m); err != nil {
		t.Fatal(err)
	}
	wantCounts := []wire.ServiceCount{
		{Proto: wire.ProtoTCP, VIP: netip.AddrPortFrom(vipA, 80), Active: 40, FIN: 10},
		{Proto: wire.ProtoTCP, VIP: netip.AddrPortFrom(vipB, 443), Active: 50},
		{Proto: wire.ProtoUDP, VIP: netip.AddrPortFrom(vipA, 53), Active: 1},
	}
	if m.Server != "srv1" || *m.CPUPercent != 12.5 || m.Load5 != 2 || m.MemUsedBytes != 100 || !slices.Equal(m.Connections, wantCounts) {
		t.Errorf("metrics %s", reply)
	}
	if len(m.Custom) != 2 || *m.Custom[0].Value != 7 || m.Custom[1].Value != nil || m.Custom[1].Error != "exit status 1" {
		t.Errorf("custom metrics %+v", m.Custom)
	}
	if !strings.Contains(string(reply), `"value":null`) {
		t.Errorf("no value is not encoded as null: %s", reply)
	}
}

// TestHandlerPagesFromOneSnapshot: the pages after the first come from the
// first page's listing while it is fresh, so a table changing meanwhile
// still gives a consistent listing; after the snapshot expired, paging
// resumes after the cursor's entry in a fresh listing.
func TestHandlerPagesFromOneSnapshot(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	table := newFakeTable([]netip.Addr{vipA, vipB}, syntheticEntries(30))
	original := slices.Clone(table.entries)
	h, key := testHandler(t, 7, clock, HandlerConfig{Name: "srv1", Table: table, MaxEntries: 10, Logger: zaptest.NewLogger(t), Now: clock})
	ta := &testAgent{srv: httptest.NewServer(h), key: key, clock: &now}
	defer ta.srv.Close()

	page := func(cursor string) wire.ConnectionsReply {
		t.Helper()
		body, _ := json.Marshal(wire.ConnectionsRequest{VIPs: []netip.Addr{vipA, vipB}, Cursor: cursor})
		status, reply, _ := ta.send(t, http.MethodPost, wire.PathConnections, body, key, now)
		var p wire.ConnectionsReply
		if status != http.StatusOK || json.Unmarshal(reply, &p) != nil {
			t.Fatalf("%d %s", status, reply)
		}
		return p
	}
	p1 := page("")
	// The table changes: every entry after the first page goes away.
	table.entries = table.entries[:10]
	p2 := page(p1.NextCursor)
	if !slices.Equal(p2.Entries, original[10:20]) {
		t.Fatalf("second page not from the snapshot: %v", p2.Entries)
	}
	now = now.Add(snapshotTTL + time.Second)
	p3 := page(p2.NextCursor)
	if len(p3.Entries) != 0 || p3.NextCursor != "" {
		t.Fatalf("after the snapshot expired: %v, cursor %q; want the fresh listing's (empty) rest", p3.Entries, p3.NextCursor)
	}
}

// TestHandlerLease: the witness behind POST /v1/lease, authenticated and
// signed like the other endpoints, refusing malformed requests.
func TestHandlerLease(t *testing.T) {
	ta := newTestAgent(t, newFakeTable([]netip.Addr{vipA}, nil), 0, 0)
	lease := func(body string) (int, []byte) {
		t.Helper()
		status, reply, sigErr := ta.send(t, http.MethodPost, wire.PathLease, []byte(body), ta.key, *ta.clock)
		if sigErr != nil {
			t.Errorf("%s: reply not signed: %v", body, sigErr)
		}
		return status, reply
	}
	decode := func(reply []byte) wire.LeaseReply {
		t.Helper()
		var l wire.LeaseReply
		if err := json.Unmarshal(reply, &l); err != nil {
			t.Fatalf("lease reply %s: %v", reply, err)
		}
		return l
	}

	ask := `{"gateway":"gw1","term":1,"duration_ms":1500}`
	status, reply := lease(ask)
	if l := decode(reply); status != http.StatusOK || l != (wire.LeaseReply{Server: "srv1"}) {
		t.Errorf("in the quiet period: %d %s", status, reply)
	}
	*ta.clock = ta.clock.Add(DefaultMaxLease)
	status, reply = lease(ask)
	if l := decode(reply); status != http.StatusOK || l != (wire.LeaseReply{Server: "srv1", Granted: true, Term: 1, Holder: "gw1", RemainingMs: 1500}) {
		t.Errorf("after the quiet period: %d %s", status, reply)
	}
	if want := `{"server":"srv1","granted":true,"term":1,"holder":"gw1","remaining_ms":1500}`; string(reply) != want {
		t.Errorf("encoding %s, want %s", reply, want)
	}
	status, reply = lease(`{"gateway":"gw2","term":2,"duration_ms":1500}`)
	if l := decode(reply); status != http.StatusOK || l.Granted || l.Holder != "gw1" || l.Term != 1 {
		t.Errorf("another gateway: %d %s", status, reply)
	}
	status, reply = lease(`{"gateway":"gw1","term":1,"duration_ms":0,"release":true}`)
	if l := decode(reply); status != http.StatusOK || l != (wire.LeaseReply{Server: "srv1", Term: 1}) {
		t.Errorf("release: %d %s", status, reply)
	}

	for _, c := range []struct{ body, want string }{
		{`{"gateway":"gw1","term":1,"duration_ms":1000,"extra":1}`, "unknown field"},
		{`{"gateway":"gw1","term":1,"duration_ms":1000} {}`, "data after"},
		{`{"gateway":"gw1","term":-1,"duration_ms":1000}`, "lease request"},
		{`{"gateway":"gw1","term":0,"duration_ms":1000}`, "term must be at least 1"},
		{`{"gateway":"","term":1,"duration_ms":1000}`, `gateway ""`},
		{`{"gateway":"gw1","term":1}`, "duration_ms 0"},
	} {
		status, reply := lease(c.body)
		if status != http.StatusBadRequest || !strings.Contains(errorText(t, reply), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, status, reply, c.want)
		}
	}
	status, reply, _ = ta.send(t, http.MethodPost, wire.PathLease, []byte(ask), auth.Key{}, *ta.clock)
	if status != http.StatusUnauthorized {
		t.Errorf("unsigned lease request: %d %s", status, reply)
	}
	status, reply, _ = ta.send(t, http.MethodPost, wire.PathLease, bytes.Repeat([]byte(" "), wire.MaxRequestBytes+1), ta.key, *ta.clock)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize lease request: %d %s", status, reply)
	}
	status, reply, _ = ta.send(t, http.MethodGet, wire.PathLease, nil, ta.key, *ta.clock)
	if status != http.StatusMethodNotAllowed {
		t.Errorf("GET lease: %d %s", status, reply)
	}
}

// TestLeaseWithPerAgentKeys: the gateway client asks two agents, each with
// its own key, for a lease; each accepts only its own key.
func TestLeaseWithPerAgentKeys(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	var targets []client.Target
	for i, name := range []string{"srv1", "srv2"} {
		// The agents check signatures against the real clock, their
		// witnesses run on the test's.
		h, key := testHandler(t, byte(0x10+i), nil, HandlerConfig{Name: name, Table: newFakeTable([]netip.Addr{vipA}, nil),
			Witness: testWitness(t, clock), Logger: zaptest.NewLogger(t)})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		targets = append(targets, client.Target{Name: name, URL: srv.URL, Key: key})
	}
	now = now.Add(DefaultMaxLease) // past the quiet period
	c, err := client.New(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := wire.LeaseRequest{Gateway: "gw1", Term: 4, DurationMs: 1000}
	for _, r := range c.LeaseAll(context.Background(), targets, req) {
		want := wire.LeaseReply{Server: r.Target.Name, Granted: true, Term: 4, Holder: "gw1", RemainingMs: 1000}
		if r.Err != nil || r.Reply != want {
			t.Errorf("%s: %+v, %v", r.Target.Name, r.Reply, r.Err)
		}
	}
	// srv2's key does not open srv1.
	crossed := targets[0]
	crossed.Key = targets[1].Key
	if _, err := c.Lease(context.Background(), crossed, req); !errors.Is(err, client.ErrRefused) || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("srv1 asked with srv2's key: %v", err)
	}
}
