package advisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"vec/internal/testenv"
)

// fakeClock is a settable clock for Result.Since and the error log pacing.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustNew(t *testing.T, spec Spec, targets []Target, opts ...Option) *Advisor {
	t.Helper()
	a, err := New(spec, targets, zaptest.NewLogger(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// probeAll runs one probe of every target, one after the other.
func probeAll(a *Advisor) []Result {
	for _, t := range a.targets {
		a.check(context.Background(), t)
	}
	return a.Results()
}

func tgt(t *testing.T, server, addr string) Target {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatalf("parse %q: %v", addr, err)
	}
	return Target{Server: server, Addr: ap}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	} else {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	}
	return addr
}

func wantUp(t *testing.T, r Result) {
	t.Helper()
	if !r.Up || r.LastError != "" || r.Failures != 0 || r.Latency <= 0 {
		t.Errorf("%s: want up after a successful probe with a latency, got %+v", r.Server, r)
	}
}

func wantFailed(t *testing.T, r Result, errPart string) {
	t.Helper()
	if r.Failures != r.Checks || r.Checks == 0 || !strings.Contains(r.LastError, errPart) {
		t.Errorf("%s: want every probe failed with %q, got %+v", r.Server, errPart, r)
	}
}

func TestHTTP(t *testing.T) {
	var conns atomic.Int32
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Host)
		mu.Unlock()
		switch r.URL.Path {
		case "/health":
			w.Write(make([]byte, 1<<20)) // far more than a probe reads
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	ok := mustNew(t, Spec{Name: "web", Type: "http", Timeout: time.Second, HTTPMethod: "GET", HTTPPath: "/health", HTTPHost: "app.example"},
		[]Target{tgt(t, "s1", addr)})
	for range 3 {
		probeAll(ok)
	}
	r := ok.Results()[0]
	wantUp(t, r)
	if r.Checks != 3 {
		t.Errorf("checks = %d, want 3", r.Checks)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 probes opened %d connections, want one each", n)
	}

	bad := mustNew(t, Spec{Name: "web-bad", Type: "http", Fall: 1, HTTPMethod: "HEAD", HTTPPath: "/broken"},
		[]Target{tgt(t, "s1", addr)})
	r = probeAll(bad)[0]
	wantFailed(t, r, "status 503, want 200")
	if r.Up {
		t.Errorf("with fall 1 a failed probe marks the server down: %+v", r)
	}

	// The expected status is the configured one, not always 200.
	expect503 := mustNew(t, Spec{Name: "web-503", Type: "http", HTTPPath: "/broken", HTTPExpect: 503},
		[]Target{tgt(t, "s1", addr)})
	wantUp(t, probeAll(expect503)[0])

	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /health app.example", "GET /health app.example", "GET /health app.example",
		"HEAD /broken " + addr, "GET /broken " + addr}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("server saw %q, want %q", seen, want)
	}
}

func TestHTTPS(t *testing.T) {
	var serverName, host atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serverName.Store(r.TLS.ServerName)
		host.Store(r.Host)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain HTTP probe below is expected
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")

	a := mustNew(t, Spec{Name: "tls", Type: "https", HTTPHost: "app.example:8443"}, []Target{tgt(t, "s1", addr)})
	wantUp(t, probeAll(a)[0])
	if serverName.Load() != "app.example" || host.Load() != "app.example:8443" {
		t.Errorf("server name %q, Host %q: want app.example and app.example:8443", serverName.Load(), host.Load())
	}

	// Plain HTTP against a TLS server fails: the probe speaks the type's protocol.
	plain := mustNew(t, Spec{Name: "plain", Type: "http", Fall: 1}, []Target{tgt(t, "s1", addr)})
	wantFailed(t, probeAll(plain)[0], "status 400")
}

func TestHTTPTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	a := mustNew(t, Spec{Name: "slow", Type: "http", Timeout: 100 * time.Millisecond, Fall: 1},
		[]Target{tgt(t, "s1", strings.TrimPrefix(srv.URL, "http://"))})
	start := time.Now()
	r := probeAll(a)[0]
	if took := time.Since(start); took > time.Second {
		t.Errorf("a probe with a 100ms timeout took %v", took)
	}
	wantFailed(t, r, "timeout after 100ms")
	if r.Up || r.Latency != 0 {
		t.Errorf("a timed-out probe marks the server down (fall 1) and has no latency: %+v", r)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	a := mustNew(t, Spec{Name: "tcp", Type: "tcp", Fall: 1},
		[]Target{tgt(t, "open", l.Addr().String()), tgt(t, "closed", closedPort(t, "tcp"))})
	rs := probeAll(a)
	wantUp(t, rs[0])
	wantFailed(t, rs[1], "connection refused")
	if rs[0].Server != "open" || rs[1].Server != "closed" || rs[1].Up {
		t.Errorf("results in target order, the closed port down: %+v", rs)
	}
}

func TestUDP(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(append([]byte("pong:"), buf[:n]...), from)
		}
	}()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	targets := []Target{
		tgt(t, "echo", echo.LocalAddr().String()),
		tgt(t, "silent", silent.LocalAddr().String()),
		tgt(t, "closed", closedPort(t, "udp")),
	}
	spec := Spec{Name: "udp", Type: "udp", Timeout: 100 * time.Millisecond, Fall: 1, UDPSend: "ping"}

	spec.UDPExpect = "pong:ping"
	rs := probeAll(mustNew(t, spec, targets))
	wantUp(t, rs[0])
	wantFailed(t, rs[1], "timeout after 100ms")
	wantFailed(t, rs[2], "connection refused")

	spec.UDPExpect = "" // any reply will do
	wantUp(t, probeAll(mustNew(t, spec, targets[:1]))[0])

	spec.UDPExpect = "ready"
	wantFailed(t, probeAll(mustNew(t, spec, targets[:1]))[0], `reply of 9 bytes does not contain "ready"`)
}

func TestCustom(t *testing.T) {
	metric := testenv.WriteScript(t, "metric.sh", `
[ "$1" = "$VEC_IP:$VEC_PORT" ] || { echo "addr $1 vs $VEC_IP:$VEC_PORT" >&2; exit 3; }
[ "$2" = "$VEC_SERVER" ] && [ "$2" = s1 ] || { echo "server $2" >&2; exit 4; }
[ "$VEC_ADVISOR" = load ] || { echo "advisor $VEC_ADVISOR" >&2; exit 5; }
echo " 42.5 "
echo 7
`)
	tg := []Target{tgt(t, "s1", "127.0.0.1:8080")}
	r := probeAll(mustNew(t, Spec{Name: "load", Type: "custom", Command: []string{metric, "{addr}", "{server}"}}, tg))[0]
	wantUp(t, r)
	if !r.HaveMetric || r.Metric != 42.5 {
		t.Errorf("metric %v (have %v), want 42.5 from the first line", r.Metric, r.HaveMetric)
	}

	noMetric := testenv.WriteScript(t, "fine.sh", "echo fine\n")
	r = probeAll(mustNew(t, Spec{Name: "fine", Type: "custom", Command: []string{noMetric}}, tg))[0]
	wantUp(t, r)
	if r.HaveMetric {
		t.Errorf("a first line that is not a number gives no metric: %+v", r)
	}

	failing := testenv.WriteScript(t, "fail.sh", "echo 3\necho 'disk full' >&2\nexit 1\n")
	r = probeAll(mustNew(t, Spec{Name: "fail", Type: "custom", Fall: 1, Command: []string{failing}}, tg))[0]
	wantFailed(t, r, "exit status 1: disk full")
	if r.Up || r.HaveMetric {
		t.Errorf("exit 1 is a failed probe, and a failed probe gives no metric: %+v", r)
	}

	// The timeout kills the command and what it started (sleep holds stdout).
	slow := testenv.WriteScript(t, "slow.sh", "sleep 5\necho 1\n")
	start := time.Now()
	r = probeAll(mustNew(t, Spec{Name: "slow", Type: "custom", Timeout: 150 * time.Millisecond, Command: []string{slow}}, tg))[0]
	if took := time.Since(start); took > time.Second {
		t.Errorf("a custom probe with a 150ms timeout took %v", took)
	}
	wantFailed(t, r, "timeout after 150ms")

	missing := filepath.Join(t.TempDir(), "missing")
	wantFailed(t, probeAll(mustNew(t, Spec{Name: "missing", Type: "custom", Command: []string{missing}}, tg))[0], "no such file")
}

// switchDialer succeeds or fails as told, without a network.
type switchDialer struct {
	fail  atomic.Bool
	dials atomic.Int32
}

func (d *switchDialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.dials.Add(1)
	if d.fail.Load() {
		return nil, errors.New("injected failure")
	}
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

func TestDampening(t *testing.T) {
	clock := newFakeClock()
	start := clock.now()
	var d switchDialer
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := New(Spec{Name: "damp", Type: "tcp", Fall: 3, Rise: 2}, []Target{tgt(t, "s1", "192.0.2.1:80")},
		zap.New(core), WithClock(clock.now), WithDialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Results()[0]; !r.Up || !r.Since.Equal(start) || r.Checks != 0 {
		t.Fatalf("a target starts up, since New: %+v", r)
	}
	step := func(fail bool) Result {
		t.Helper()
		clock.advance(time.Second)
		d.fail.Store(fail)
		return probeAll(a)[0]
	}

	// Failing two probes out of three never reaches three in a row.
	for range 3 {
		step(true)
		step(true)
		if r := step(false); !r.Up || r.LastError != "" || !r.Since.Equal(start) {
			t.Fatalf("2 failures then a success with fall 3: want still up since start, got %+v", r)
		}
	}

	step(true)
	step(true)
	r := step(true)
	downAt := clock.now()
	if r.Up || !r.Since.Equal(downAt) || r.LastError != "injected failure" || r.Checks != 12 || r.Failures != 9 {
		t.Fatalf("3 failures in a row with fall 3: want down now, got %+v", r)
	}
	if r = step(false); r.Up || r.LastError != "injected failure" {
		t.Fatalf("1 success with rise 2: want still down, still saying why, got %+v", r)
	}
	step(true) // a failure restarts the count of successes
	if r = step(false); r.Up {
		t.Fatalf("a failure between successes: want still down, got %+v", r)
	}
	r = step(false)
	if !r.Up || !r.Since.Equal(clock.now()) || r.LastError != "" || r.Failures != 10 {
		t.Fatalf("2 successes in a row with rise 2: want up now, got %+v", r)
	}
	if d.dials.Load() != int32(r.Checks) {
		t.Errorf("the probes used the injected dialer %d times for %d checks", d.dials.Load(), r.Checks)
	}

	var changes []string
	for _, e := range logs.FilterLevelExact(zapcore.InfoLevel).All() {
		f := e.ContextMap()
		changes = append(changes, fmt.Sprintf("%s %s %s: %s", e.Message, f["advisor"], f["server"], f["why"]))
	}
	want := []string{
		"server down damp s1: 3 consecutive failed probes, last: injected failure",
		"server up damp s1: 2 consecutive successful probes",
	}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("state change logs %q, want %q", changes, want)
	}
}

func TestErrorLogRateLimit(t *testing.T) {
	clock := newFakeClock()
	var d switchDialer
	d.fail.Store(true)
	core, logs := observer.New(zapcore.WarnLevel)
	a, err := New(Spec{Name: "quiet", Type: "tcp", Fall: 100}, []Target{tgt(t, "s1", "192.0.2.1:80")},
		zap.New(core), WithClock(clock.now), WithDialer(d.dial))
	if err != nil {
		t.Fatal(err)
	}
	for range 30 { // one probe a second for 30s
		probeAll(a)
		clock.advance(time.Second)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("30 failures within a minute logged %d times, want once", n)
	}
	clock.advance(30 * time.Second)
	probeAll(a)
	entries := logs.All()
	if len(entries) != 2 || entries[1].ContextMap()["failures_not_logged"] != int64(29) {
		t.Fatalf("a minute later: want a second message counting the 29 not logged, got %v", entries)
	}
}

func TestStartStop(t *testing.T) {
	var fastDials atomic.Int32
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		if address == "192.0.2.1:80" { // a server that never answers
			<-ctx.Done()
			return nil, ctx.Err()
		}
		fastDials.Add(1)
		c1, c2 := net.Pipe()
		c2.Close()
		return c1, nil
	}
	a := mustNew(t, Spec{Name: "run", Type: "tcp", Interval: 20 * time.Millisecond, Timeout: 5 * time.Second},
		[]Target{tgt(t, "stuck", "192.0.2.1:80"), tgt(t, "fast", "192.0.2.2:80")}, WithDialer(dial))
	a.Start()
	a.Start() // a second Start changes nothing
	deadline := time.Now().Add(2 * time.Second)
	for a.Results()[1].Checks < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rs := a.Results()
	if rs[1].Checks < 5 || !rs[1].Up {
		t.Fatalf("the fast target was probed %d times while the other's probe hung: %+v", rs[1].Checks, rs)
	}
	start := time.Now()
	a.Stop()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Stop took %v with a probe in flight: it must cancel it", took)
	}
	after := a.Results()
	if after[0].Checks != 0 {
		t.Errorf("a probe cut short by Stop is not counted: %+v", after[0])
	}
	n := fastDials.Load()
	time.Sleep(60 * time.Millisecond)
	if fastDials.Load() != n || a.Results()[1].Checks != after[1].Checks {
		t.Errorf("probes ran after Stop returned")
	}
	a.Stop() // a second Stop changes nothing

	a.Start() // a stopped advisor starts again and keeps its results
	deadline = time.Now().Add(2 * time.Second)
	for a.Results()[1].Checks <= after[1].Checks && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	a.Stop()
	if a.Results()[1].Checks <= after[1].Checks {
		t.Errorf("a restarted advisor did not probe again")
	}
}

func TestNewDefaults(t *testing.T) {
	a := mustNew(t, Spec{Name: "d", Type: "https"}, nil)
	want := Spec{Name: "d", Type: "https", Interval: time.Second, Timeout: time.Second, Fall: 3, Rise: 2,
		HTTPMethod: "GET", HTTPPath: "/", HTTPExpect: 200}
	if fmt.Sprint(a.spec) != fmt.Sprint(want) {
		t.Errorf("defaults %+v, want %+v", a.spec, want)
	}
	if len(a.Results()) != 0 {
		t.Errorf("no targets, no results")
	}
}

func TestNewRejects(t *testing.T) {
	ok := []Target{tgt(t, "s1", "127.0.0.1:80")}
	for _, c := range []struct {
		spec    Spec
		targets []Target
		want    string
	}{
		{Spec{Type: "tcp"}, ok, "advisor: name is empty"},
		{Spec{Name: "a", Type: "icmp"}, ok, `advisor "a": type "icmp": want http, https, tcp, udp or custom`},
		{Spec{Name: "a", Type: "tcp", Interval: -time.Second}, ok, `advisor "a": interval -1s is negative`},
		{Spec{Name: "a", Type: "tcp", Timeout: -1}, ok, "timeout -1ns is negative"},
		{Spec{Name: "a", Type: "tcp", Fall: -1}, ok, "fall -1 is negative"},
		{Spec{Name: "a", Type: "tcp", Rise: -2}, ok, "rise -2 is negative"},
		{Spec{Name: "a", Type: "tcp", HTTPPath: "/x"}, ok, "http settings (method, path, host, expect_status) are only for types http and https, not tcp"},
		{Spec{Name: "a", Type: "http", UDPSend: "x"}, ok, "udp settings (send, expect) are only for type udp, not http"},
		{Spec{Name: "a", Type: "udp", Command: []string{"x"}}, ok, "command is only for type custom, not udp"},
		{Spec{Name: "a", Type: "custom"}, ok, "type custom needs a command"},
		{Spec{Name: "a", Type: "custom", Command: []string{""}}, ok, "type custom needs a command"},
		{Spec{Name: "a", Type: "http", HTTPPath: "health"}, ok, `http path "health" does not start with /`},
		{Spec{Name: "a", Type: "http", HTTPHost: "a b"}, ok, `http host "a b" is not a host name`},
		{Spec{Name: "a", Type: "http", HTTPExpect: 1000}, ok, "http expect_status 1000 is not an HTTP status"},
		{Spec{Name: "a", Type: "http", HTTPMethod: "G T"}, ok, `http method "G T" or path "/"`},
		{Spec{Name: "a", Type: "tcp"}, []Target{{Addr: ok[0].Addr}}, `advisor "a": target 0: server name is empty`},
		{Spec{Name: "a", Type: "tcp"}, append(ok, ok[0]), `advisor "a": server "s1" listed twice`},
		{Spec{Name: "a", Type: "tcp"}, []Target{tgt(t, "s1", "127.0.0.1:0")}, `server "s1": address 127.0.0.1:0 has no IP or no port`},
		{Spec{Name: "a", Type: "tcp"}, []Target{{Server: "s1"}}, `server "s1": address invalid AddrPort has no IP or no port`},
	} {
		_, err := New(c.spec, c.targets, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v, %v): error %v, want one containing %q", c.spec, c.targets, err, c.want)
		}
	}
}
