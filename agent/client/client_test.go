package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vec/agent/auth"
	"vec/agent/wire"
)

var (
	vipA = netip.MustParseAddr("10.0.0.1")
	vipB = netip.MustParseAddr("10.0.0.2")
)

func key(t *testing.T, fill byte) auth.Key {
	t.Helper()
	k, err := auth.NewKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeAgent verifies requests like the real agent and answers what respond
// returns, signed unless respond says otherwise. It lets tests play a
// broken or hostile agent.
type fakeAgent struct {
	srv      *httptest.Server
	verifier *auth.Verifier
	respond  func(w http.ResponseWriter, req auth.Request, body []byte) (status int, reply []byte, sign bool)
}

func newFakeAgent(t *testing.T, name string, k auth.Key,
	respond func(w http.ResponseWriter, req auth.Request, body []byte) (int, []byte, bool)) *fakeAgent {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Agent: name, Keys: []auth.Key{k}})
	if err != nil {
		t.Fatal(err)
	}
	fa := &fakeAgent{verifier: v, respond: respond}
	fa.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := v.Verify(r, body)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(wire.ErrorReply{Error: "unauthorized: " + err.Error()})
			return
		}
		status, reply, sign := fa.respond(w, req, body)
		if sign {
			v.SignReply(req, w.Header(), status, reply)
		}
		w.WriteHeader(status)
		w.Write(reply)
	}))
	t.Cleanup(fa.srv.Close)
	return fa
}

func (fa *fakeAgent) target(name string) Target { return Target{Name: name, URL: fa.srv.URL} }

func tcpEntry(vip string, client string, state wire.State) wire.Entry {
	return wire.Entry{Proto: wire.ProtoTCP, VIP: netip.MustParseAddrPort(vip), Client: netip.MustParseAddrPort(client), State: state}
}

func pageJSON(t *testing.T, server string, vips []netip.Addr, entries []wire.Entry, next string) []byte {
	t.Helper()
	b, err := json.Marshal(wire.ConnectionsReply{Server: server, VIPs: vips, Entries: entries, NextCursor: next})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConnectionsValidatesEntries(t *testing.T) {
	k := key(t, 1)
	good1 := tcpEntry("10.0.0.1:80", "192.0.2.1:1000", wire.StateActive)
	good2 := tcpEntry("10.0.0.2:443", "192.0.2.1:1000", wire.StateFIN)
	foreign := tcpEntry("10.0.0.3:80", "192.0.2.1:1000", wire.StateActive) // a VIP we do not own
	reply := fmt.Sprintf(`{"server":"srv1","vips":["10.0.0.1","10.0.0.2"],"entries":[%s,%s,%s,
		{"proto":"sctp","client":"192.0.2.1:1","vip":"10.0.0.1:80","state":"ACTIVE"},
		{"proto":"tcp","client":"","vip":"10.0.0.1:80","state":"ACTIVE"},
		{"proto":"tcp","client":"192.0.2.1:1","vip":"10.0.0.1:80","state":"TIME-WAIT"},
		{"proto":"tcp","client":"0.0.0.0:1","vip":"10.0.0.1:80","state":"ACTIVE"}]}`,
		good1.AppendJSON(nil), good2.AppendJSON(nil), foreign.AppendJSON(nil))
	fa := newFakeAgent(t, "srv1", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		return http.StatusOK, []byte(reply), true
	})
	c := newClient(t, Options{Key: k})
	sh, err := c.Connections(context.Background(), fa.target("srv1"), []netip.Addr{vipA, vipB})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sh.Entries, []wire.Entry{good1, good2}) {
		t.Errorf("entries %v", sh.Entries)
	}
	if sh.Dropped != (Dropped{ForeignVIP: 1, Invalid: 4}) || !sh.Complete || sh.Pages != 1 {
		t.Errorf("dropped %+v complete %v pages %d", sh.Dropped, sh.Complete, sh.Pages)
	}

	// The VIP the agent did not claim to serve is foreign too.
	sh, err = c.Connections(context.Background(), fa.target("srv1"), []netip.Addr{vipA})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sh.Entries, []wire.Entry{good1}) || sh.Dropped.ForeignVIP != 2 {
		t.Errorf("only vipA asked for: entries %v dropped %+v", sh.Entries, sh.Dropped)
	}
}

func TestConnectionsRefusesBadReplies(t *testing.T) {
	k := key(t, 1)
	vips := []netip.Addr{vipA}
	e1 := tcpEntry("10.0.0.1:80", "192.0.2.1:1000", wire.StateActive)
	e2 := tcpEntry("10.0.0.1:80", "192.0.2.1:1001", wire.StateActive)
	var recorded struct {
		sync.Mutex
		header http.Header
		body   []byte
	}
	cases := []struct {
		name    string
		opts    Options
		respond func(w http.ResponseWriter, req auth.Request, body []byte) (int, []byte, bool)
		want    []string
	}{
		{"oversize reply with Content-Length", Options{MaxReplyBytes: wire.MinMaxBytes},
			func(w http.ResponseWriter, _ auth.Request, _ []byte) (int, []byte, bool) {
				w.Header().Set("Content-Length", fmt.Sprint(wire.MinMaxBytes+1))
				return http.StatusOK, bytes.Repeat([]byte(" "), wire.MinMaxBytes+1), true
			}, []string{"agent reply rejected", "reply of 4097 bytes, more than 4096"}},
		{"oversize chunked reply", Options{MaxReplyBytes: wire.MinMaxBytes},
			func(w http.ResponseWriter, _ auth.Request, _ []byte) (int, []byte, bool) {
				w.Header().Set("Transfer-Encoding", "chunked")
				w.(http.Flusher).Flush()
				return http.StatusOK, bytes.Repeat([]byte(" "), 3*wire.MinMaxBytes), false
			}, []string{"agent reply rejected", "reply of more than 4096 bytes"}},
		{"malformed reply", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, []byte(`{"server":"srv1","entries":[`), true
			}, []string{"agent reply rejected", "malformed connections reply"}},
		{"more entries than asked for", Options{MaxEntriesPerPage: 1},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e1, e2}, ""), true
			}, []string{"agent reply rejected", "2 entries, more than the 1"}},
		{"unsigned reply", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e1}, ""), false
			}, []string{"agent reply rejected", "not signed"}},
		{"forged signature", Options{},
			func(w http.ResponseWriter, _ auth.Request, _ []byte) (int, []byte, bool) {
				w.Header().Set(auth.ReplySignatureHeader, strings.Repeat("ab", 32))
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e1}, ""), false
			}, []string{"agent reply rejected", "signature does not match"}},
		{"body altered after signing", Options{},
			func(w http.ResponseWriter, req auth.Request, _ []byte) (int, []byte, bool) {
				// Sign one body, send another (a man in the middle).
				fakeSigner(t, k).SignReply(req, w.Header(), http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e1}, ""))
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e2}, ""), false
			}, []string{"agent reply rejected", "signature does not match"}},
		{"replayed reply", Options{},
			func(w http.ResponseWriter, req auth.Request, _ []byte) (int, []byte, bool) {
				recorded.Lock()
				defer recorded.Unlock()
				if recorded.header == nil {
					// The first request gets a genuine reply, which is recorded…
					body := pageJSON(t, "srv1", vips, []wire.Entry{e1}, "")
					recorded.header = http.Header{}
					fakeSigner(t, k).SignReply(req, recorded.header, http.StatusOK, body)
					recorded.body = body
				}
				// …and every request gets it.
				w.Header().Set(auth.ReplySignatureHeader, recorded.header.Get(auth.ReplySignatureHeader))
				return http.StatusOK, recorded.body, false
			}, []string{"agent reply rejected", "signature does not match"}},
		{"another agent's reply", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv2", vips, []wire.Entry{e1}, ""), true
			}, []string{"agent reply rejected", `reply names server "srv2"`}},
		{"entries out of order", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e2, e1}, ""), true
			}, []string{"agent reply rejected", "out of order"}},
		{"page repeated forever", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv1", vips, []wire.Entry{e1}, wire.Cursor{After: e1}.Encode()), true
			}, []string{"agent reply rejected", "out of order or repeated"}},
		{"empty page with a cursor", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusOK, pageJSON(t, "srv1", vips, nil, wire.Cursor{After: e1}.Encode()), true
			}, []string{"agent reply rejected", "without entries has a next cursor"}},
		{"signed refusal", Options{},
			func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
				return http.StatusInternalServerError, []byte(`{"error":"listing connections: boom"}`), true
			}, []string{"agent refused the request", "500 Internal Server Error: listing connections: boom"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fa := newFakeAgent(t, "srv1", k, c.respond)
			c.opts.Key = k
			cl := newClient(t, c.opts)
			_, err := cl.Connections(context.Background(), fa.target("srv1"), vips)
			if c.name == "replayed reply" {
				// The first reply is genuine; the second request gets it again.
				if err != nil {
					t.Fatalf("genuine reply refused: %v", err)
				}
				_, err = cl.Connections(context.Background(), fa.target("srv1"), vips)
			}
			if !errors.Is(err, ErrBadReply) && !errors.Is(err, ErrRefused) {
				t.Errorf("error %v wraps neither ErrBadReply nor ErrRefused", err)
			}
			if err == nil {
				t.Fatal("reply accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// fakeSigner is a verifier-signer with key k, for replies recorded by hand:
// it signs for the request it is given, whoever verified it.
func fakeSigner(t *testing.T, k auth.Key) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Agent: "srv1", Keys: []auth.Key{k}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConnectionsAuthenticationFailures(t *testing.T) {
	k := key(t, 1)
	fa := newFakeAgent(t, "srv1", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		return http.StatusOK, pageJSON(t, "srv1", []netip.Addr{vipA}, nil, ""), true
	})
	for _, c := range []struct {
		name   string
		opts   Options
		target Target
		want   string
	}{
		{"wrong key", Options{Key: key(t, 2)}, fa.target("srv1"), "401 Unauthorized (unsigned reply): unauthorized: unknown key"},
		{"clock far behind", Options{Key: k, Now: func() time.Time { return time.Now().Add(-time.Hour) }}, fa.target("srv1"), "stale request or clock skew"},
		{"addressed to another agent", Options{Key: k}, fa.target("srv9"), `addressed to agent "srv9"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := newClient(t, c.opts).Connections(context.Background(), c.target, []netip.Addr{vipA})
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrRefused with %q", err, c.want)
			}
		})
	}
}

func TestConnectionsFollowsCursor(t *testing.T) {
	k := key(t, 1)
	var all []wire.Entry
	for i := range 25 {
		all = append(all, tcpEntry("10.0.0.1:80", fmt.Sprintf("192.0.2.1:%d", 1000+i), wire.StateActive))
	}
	fa := newFakeAgent(t, "srv1", k, func(_ http.ResponseWriter, _ auth.Request, body []byte) (int, []byte, bool) {
		var req wire.ConnectionsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return http.StatusBadRequest, nil, true
		}
		from := 0
		if req.Cursor != "" {
			c, err := wire.ParseCursor(req.Cursor)
			if err != nil {
				return http.StatusBadRequest, nil, true
			}
			for from < len(all) && wire.Compare(all[from], c.After) <= 0 {
				from++
			}
		}
		to := min(from+req.MaxEntries, len(all))
		next := ""
		if to < len(all) {
			next = wire.Cursor{After: all[to-1]}.Encode()
		}
		return http.StatusOK, pageJSON(t, "srv1", []netip.Addr{vipA}, all[from:to], next), true
	})
	sh, err := newClient(t, Options{Key: k, MaxEntriesPerPage: 10}).Connections(context.Background(), fa.target("srv1"), []netip.Addr{vipA})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sh.Entries, all) || sh.Pages != 3 || !sh.Complete {
		t.Fatalf("%d entries in %d pages (complete %v)", len(sh.Entries), sh.Pages, sh.Complete)
	}
	_, err = newClient(t, Options{Key: k, MaxEntriesPerPage: 10, MaxTotalEntries: 15}).Connections(context.Background(), fa.target("srv1"), []netip.Addr{vipA})
	if !errors.Is(err, ErrBadReply) || !strings.Contains(err.Error(), "more than 15 entries") {
		t.Fatalf("total cap: %v", err)
	}
}

func TestConnectionsAllWithDeadline(t *testing.T) {
	k := key(t, 1)
	e := tcpEntry("10.0.0.1:80", "192.0.2.1:1000", wire.StateActive)
	quick := newFakeAgent(t, "quick", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		return http.StatusOK, pageJSON(t, "quick", []netip.Addr{vipA}, []wire.Entry{e}, ""), true
	})
	release := make(chan struct{})
	defer close(release)
	hung := newFakeAgent(t, "hung", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		<-release
		return http.StatusOK, nil, true
	})
	// An address nothing listens on: a server whose agent is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := Target{Name: "down", URL: "http://" + ln.Addr().String()}
	ln.Close()

	targets := []Target{quick.target("quick"), hung.target("hung"), down}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	results := newClient(t, Options{Key: k}).ConnectionsAll(ctx, targets, []netip.Addr{vipA})
	elapsed := time.Since(start)
	if elapsed > 2*time.Second {
		t.Fatalf("ConnectionsAll took %s with a 300ms deadline", elapsed)
	}
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	if r := results[0]; r.Err != nil || r.Target.Name != "quick" || !slices.Equal(r.Shadow.Entries, []wire.Entry{e}) {
		t.Errorf("quick agent: %+v", r)
	}
	if r := results[1]; !errors.Is(r.Err, context.DeadlineExceeded) || r.Target.Name != "hung" {
		t.Errorf("hung agent: %v", r.Err)
	}
	if r := results[2]; r.Err == nil || r.Target.Name != "down" || errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("down agent: %v", r.Err)
	}
}

func TestMetrics(t *testing.T) {
	k := key(t, 1)
	cpu := 42.0
	v := 3.0
	good := wire.MetricsReply{Server: "srv1", Time: time.Now().UTC().Truncate(time.Second), CPUPercent: &cpu, Load1: 0.5,
		MemUsedBytes: 1, MemTotalBytes: 2,
		Connections: []wire.ServiceCount{{Proto: wire.ProtoTCP, VIP: netip.MustParseAddrPort("10.0.0.1:80"), Active: 3, FIN: 1}},
		Custom:      []wire.CustomMetric{{Name: "q", Value: &v}, {Name: "hung", Error: "timed out after 5s"}}}
	body, _ := json.Marshal(good)
	var mu sync.Mutex
	reply := body
	fa := newFakeAgent(t, "srv1", k, func(http.ResponseWriter, auth.Request, []byte) (int, []byte, bool) {
		mu.Lock()
		defer mu.Unlock()
		return http.StatusOK, reply, true
	})
	c := newClient(t, Options{Key: k})
	results := c.MetricsAll(context.Background(), []Target{fa.target("srv1")})
	if results[0].Err != nil {
		t.Fatal(results[0].Err)
	}
	m := results[0].Metrics
	if *m.CPUPercent != 42 || m.Custom[1].Value != nil || m.Custom[1].Error == "" || m.Connections[0].Active != 3 {
		t.Errorf("metrics %+v", m)
	}
	for _, bad := range []string{
		`{"server":"srv1","time":"2024-01-01T00:00:00Z","cpu_percent":140}`,
		`{"server":"srv1","time":"2024-01-01T00:00:00Z","mem_used_bytes":3,"mem_total_bytes":2}`,
		`{"server":"srv2","time":"2024-01-01T00:00:00Z"}`,
		`{"server":"srv1"}`,
		`[]`,
	} {
		mu.Lock()
		reply = []byte(bad)
		mu.Unlock()
		if _, err := c.Metrics(context.Background(), fa.target("srv1")); !errors.Is(err, ErrBadReply) {
			t.Errorf("%s: %v, want ErrBadReply", bad, err)
		}
	}
}
