package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vec/e2e"
	"vec/e2e/traffic"
	"vec/fastpath/pktbuild"
)

var (
	loopback  = netip.MustParseAddr("127.0.0.1")
	loopback6 = netip.IPv6Loopback()
)

// testConfig parses a command line for mode and target (host:port), with
// the loopback address of the target's family as the source.
func testConfig(t *testing.T, mode, target string, extra ...string) config {
	t.Helper()
	src := loopback
	if ap, err := netip.ParseAddrPort(target); err == nil && ap.Addr().Is6() {
		src = loopback6
	}
	args := append([]string{"-mode", mode, "-target", target, "-sources", src.String()}, extra...)
	cfg, _, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runOK(t *testing.T, cfg config) *traffic.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// twoServers answers "/" as s1 and s2 alternately, and /bytes with the
// stream for seed+corruptSeed (0: the right one), on 127.0.0.1.
func twoServers(t *testing.T, corruptSeed uint64) string {
	return twoServersOn(t, loopback, corruptSeed)
}

// twoServersOn is twoServers listening on ip.
func twoServersOn(t *testing.T, ip netip.Addr, corruptSeed uint64) string {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := fmt.Sprintf("s%d", 1+n.Add(1)%2)
		w.Header().Set(traffic.ServerHeader, name)
		if r.URL.Path == traffic.BytesPath {
			size, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
			seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
			io.CopyN(w, traffic.NewStream(seed+corruptSeed), size)
			return
		}
		io.WriteString(w, traffic.HTTPBody(name))
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestHTTPCountsPerServer(t *testing.T) {
	target := twoServers(t, 0)
	rep := runOK(t, testConfig(t, "http", target, "-n", "40", "-c", "4"))
	h := rep.HTTP
	if !rep.Passed() || h.OK != 40 || h.PerServer["s1"] != 20 || h.PerServer["s2"] != 20 || h.PerSource["127.0.0.1"] != 40 {
		t.Fatalf("%+v %v", h, rep.Failures)
	}
}

func TestHTTPReportsBadRepliesAndRefusals(t *testing.T) {
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(traffic.ServerHeader, "s1")
		io.WriteString(w, "s2\n") // body and header disagree
	}))
	defer liar.Close()
	rep := runOK(t, testConfig(t, "http", liar.Listener.Addr().String(), "-n", "5", "-c", "2"))
	if rep.Passed() || rep.HTTP.Failed != 5 || rep.HTTP.Errors.ByClass["bad-reply"] != 5 {
		t.Fatalf("%+v", rep.HTTP)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rep = runOK(t, testConfig(t, "http", closed, "-n", "3", "-c", "1"))
	if rep.Passed() || rep.HTTP.Errors.ByClass["refused"] != 3 {
		t.Fatalf("%+v", rep.HTTP)
	}
}

func TestHTTPIsBoundedByTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	start := time.Now()
	rep := runOK(t, testConfig(t, "http", srv.Listener.Addr().String(), "-n", "1000", "-c", "2", "-timeout", "300ms"))
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("run took %v despite -timeout 300ms", d)
	}
	if rep.Passed() || !rep.TimedOut || rep.HTTP.NotRun == 0 {
		t.Fatalf("%+v %+v", rep, rep.HTTP)
	}
}

func TestDownloadChecksSHA256(t *testing.T) {
	rep := runOK(t, testConfig(t, "download", twoServers(t, 0), "-parallel", "4", "-size", "300001", "-seed", "5"))
	if d := rep.Download; !rep.Passed() || d.OK != 4 || d.Bytes != 4*300001 || d.PerServer["s1"]+d.PerServer["s2"] != 4 {
		t.Fatalf("%+v %v", d, rep.Failures)
	}
	rep = runOK(t, testConfig(t, "download", twoServers(t, 1), "-parallel", "3", "-size", "300001", "-seed", "5"))
	if d := rep.Download; rep.Passed() || d.Mismatches != 3 || d.OK != 0 {
		t.Fatalf("wrong stream not caught: %+v", d)
	}
}

// udpEcho answers like vec-backend on 127.0.0.1; name picks the server name
// per datagram.
func udpEcho(t *testing.T, name func(i int) string, replyFrom *net.UDPConn) string {
	t.Helper()
	return udpEchoOn(t, loopback, name, replyFrom)
}

// udpEchoOn is udpEcho listening on ip.
func udpEchoOn(t *testing.T, ip netip.Addr, name func(i int) string, replyFrom *net.UDPConn) string {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := c
	if replyFrom != nil {
		out = replyFrom
	}
	go func() {
		buf := make([]byte, 2048)
		for i := 0; ; i++ {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			out.WriteToUDP(traffic.UDPReply(name(i), buf[:n]), from)
		}
	}()
	return c.LocalAddr().String()
}

func TestUDPFlowsAndTheirServers(t *testing.T) {
	target := udpEcho(t, func(int) string { return "s1" }, nil)
	rep := runOK(t, testConfig(t, "udp", target, "-n", "40", "-flows", "8"))
	u := rep.UDP
	if !rep.Passed() || u.Sent != 40 || u.Received != 40 || u.PerServer["s1"] != 8 || len(u.FlowList) != 8 {
		t.Fatalf("%+v %v", u, rep.Failures)
	}

	// Alternating answers split every flow.
	target = udpEcho(t, func(i int) string { return fmt.Sprintf("s%d", 1+i%2) }, nil)
	rep = runOK(t, testConfig(t, "udp", target, "-n", "4", "-flows", "1"))
	if rep.Passed() || rep.UDP.SplitFlows != 1 {
		t.Fatalf("split flow not caught: %+v", rep.UDP)
	}

	// Echoes from another socket, as a DSR server without IP_PKTINFO would
	// send them from its own address.
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	target = udpEcho(t, func(int) string { return "s1" }, other)
	rep = runOK(t, testConfig(t, "udp", target, "-n", "3", "-flows", "1"))
	if rep.Passed() || rep.UDP.WrongSource != 3 {
		t.Fatalf("wrong source not caught: %+v", rep.UDP)
	}

	// Nobody listening: every datagram lost, the run still bounded.
	ln, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback.AsSlice()})
	silent := ln.LocalAddr().String()
	defer ln.Close()
	rep = runOK(t, testConfig(t, "udp", silent, "-n", "2", "-flows", "2", "-reply-wait", "100ms"))
	if rep.Passed() || rep.UDP.Lost != 2 {
		t.Fatalf("loss not counted: %+v", rep.UDP)
	}
}

func TestFlagString(t *testing.T) {
	if got := flagString(pktbuild.RST | pktbuild.ACK); got != "RST|ACK" {
		t.Fatal(got)
	}
	if got := flagString(0); got != "none" {
		t.Fatal(got)
	}
}

func TestStrayOnLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		e2e.SkipOrFail(t, "stray mode needs a raw socket (root)")
	}
	// A closed port answers a stray segment with RST; a port whose
	// segments are dropped answers nothing.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rep := runOK(t, testConfig(t, "stray", closed, "-n", "2", "-reply-wait", "300ms"))
	if rep.Passed() || !rep.Stray.Answered || rep.Stray.Sent != 2 || rep.Stray.Replies[0].Flags != "RST|ACK" && rep.Stray.Replies[0].Flags != "RST" {
		t.Fatalf("%+v", rep.Stray)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-mode", "udp", "-sources", "10.99.0.21,10.99.0.22"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.target.String() != "10.99.0.100:5353" || cfg.n != 1000 || len(cfg.sources) != 2 {
		t.Fatalf("%+v", cfg)
	}
	for _, bad := range [][]string{
		{"-mode", "nope"},
		{"-target", "example.org"},
		{"-sources", "x"},
		{"-mode", "udp", "-n", "3", "-flows", "4", "-sources", "10.0.0.1"},
		{"-n", "-1", "-sources", "10.0.0.1"},
		{"-timeout", "0s", "-sources", "10.0.0.1"},
		{"extra", "-sources", "10.0.0.1"},
	} {
		if _, _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestHTTPConnRateIsSteady(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Header().Set(traffic.ServerHeader, "s1")
		io.WriteString(w, traffic.HTTPBody("s1"))
	}))
	defer srv.Close()
	// 21 requests at 50/s: the last starts 400 ms after the first, however
	// many workers are free.
	rep := runOK(t, testConfig(t, "http", srv.Listener.Addr().String(), "-n", "21", "-c", "16", "-conn-rate", "50"))
	if !rep.Passed() || rep.HTTP.OK != 21 {
		t.Fatalf("%+v %v", rep.HTTP, rep.Failures)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	if span := arrivals[len(arrivals)-1].Sub(arrivals[0]); span < 380*time.Millisecond || span > 2*time.Second {
		t.Fatalf("21 requests at 50/s arrived over %v, want about 400 ms", span)
	}
	// None early: request i starts no sooner than i gaps after the first
	// (a stall of the machine may make some late, and the next ones catch
	// up, keeping the average rate).
	for i, at := range arrivals {
		if early := time.Duration(i)*20*time.Millisecond - at.Sub(arrivals[0]); early > 10*time.Millisecond {
			t.Fatalf("request %d arrived %v early for 50/s: not paced", i, early)
		}
	}
	if rep.HTTP.LatencyMaxMs < rep.HTTP.LatencyP50Ms {
		t.Fatalf("max latency %.2f ms below the median %.2f ms", rep.HTTP.LatencyMaxMs, rep.HTTP.LatencyP50Ms)
	}
}

func TestDownloadReportsWhenStreamsWereOpen(t *testing.T) {
	// Headers at once, the body after 300 ms: every download is open from
	// its headers until then.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(traffic.ServerHeader, "s1")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
		size, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		io.CopyN(w, traffic.NewStream(0), size)
	}))
	defer srv.Close()
	before := time.Now()
	rep := runOK(t, testConfig(t, "download", srv.Listener.Addr().String(), "-parallel", "5", "-size", "1000"))
	d := rep.Download
	if !rep.Passed() || d.OK != 5 {
		t.Fatalf("%+v %v", d, rep.Failures)
	}
	if d.LastConnected.Before(before) || d.FirstDone.Sub(d.LastConnected) < 200*time.Millisecond || time.Since(d.FirstDone) < 0 {
		t.Fatalf("last connected %v, first done %v (run began %v): want the 300 ms of open streams between them",
			d.LastConnected, d.FirstDone, before)
	}
}

func TestParseConnRate(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-conn-rate", "50", "-sources", "10.0.0.1"}, io.Discard)
	if err != nil || cfg.connRate != 50 {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, bad := range []string{"-1", "NaN", "2e6"} {
		if _, _, err := parseFlags([]string{"-conn-rate", bad, "-sources", "10.0.0.1"}, io.Discard); err == nil {
			t.Errorf("-conn-rate %s accepted", bad)
		}
	}
}

// The http, download and udp modes over IPv6, against servers on [::1].
func TestModesOverIPv6(t *testing.T) {
	target := twoServersOn(t, loopback6, 0)
	if !strings.HasPrefix(target, "[::1]:") {
		t.Fatalf("server on %s", target)
	}
	rep := runOK(t, testConfig(t, "http", target, "-n", "40", "-c", "4"))
	if h := rep.HTTP; !rep.Passed() || h.OK != 40 || h.PerServer["s1"] != 20 || h.PerServer["s2"] != 20 || h.PerSource["::1"] != 40 {
		t.Fatalf("http: %+v %v", h, rep.Failures)
	}
	if rep.Target != target || len(rep.Sources) != 1 || rep.Sources[0] != "::1" {
		t.Fatalf("report target %q sources %q", rep.Target, rep.Sources)
	}

	rep = runOK(t, testConfig(t, "download", target, "-parallel", "4", "-size", "300001", "-seed", "5"))
	if d := rep.Download; !rep.Passed() || d.OK != 4 || d.Bytes != 4*300001 {
		t.Fatalf("download: %+v %v", d, rep.Failures)
	}
	rep = runOK(t, testConfig(t, "download", twoServersOn(t, loopback6, 1), "-parallel", "2", "-size", "1000", "-seed", "5"))
	if d := rep.Download; rep.Passed() || d.Mismatches != 2 {
		t.Fatalf("wrong stream over IPv6 not caught: %+v", d)
	}

	udpTarget := udpEchoOn(t, loopback6, func(int) string { return "s1" }, nil)
	rep = runOK(t, testConfig(t, "udp", udpTarget, "-n", "40", "-flows", "8"))
	if u := rep.UDP; !rep.Passed() || u.Sent != 40 || u.Received != 40 || u.PerServer["s1"] != 8 {
		t.Fatalf("udp: %+v %v", u, rep.Failures)
	}
	for _, fl := range rep.UDP.FlowList {
		if !strings.HasPrefix(fl.Source, "[::1]:") {
			t.Fatalf("flow from %s, want [::1]", fl.Source)
		}
	}
	// Echoes from another IPv6 socket are from the wrong source.
	other, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rep = runOK(t, testConfig(t, "udp", udpEchoOn(t, loopback6, func(int) string { return "s1" }, other), "-n", "3", "-flows", "1"))
	if rep.Passed() || rep.UDP.WrongSource != 3 {
		t.Fatalf("wrong source over IPv6 not caught: %+v", rep.UDP)
	}
}

func TestParseFlagsIPv6(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-target", "fd00:99::100", "-sources", "fd00:99::21,fd00:99::22"}, "[fd00:99::100]:80"},
		{[]string{"-target", "[fd00:99::100]:8080", "-sources", "fd00:99::21"}, "[fd00:99::100]:8080"},
		{[]string{"-mode", "udp", "-target", "fd00:99::100", "-sources", "fd00:99::21"}, "[fd00:99::100]:5353"},
		{[]string{"-target", "[::ffff:10.99.0.100]:80", "-sources", "10.99.0.21"}, "10.99.0.100:80"},
	} {
		cfg, _, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if cfg.target.String() != c.want {
			t.Errorf("%v: target %s, want %s", c.args, cfg.target, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want []string // in the message
	}{
		{[]string{"-target", "[fd00:99::100]:80", "-sources", "10.99.0.21"}, []string{"10.99.0.21", "[fd00:99::100]:80", "IPv4", "IPv6"}},
		{[]string{"-target", "10.99.0.100", "-sources", "10.99.0.21,fd00:99::21"}, []string{"fd00:99::21", "10.99.0.100:80", "IPv4", "IPv6"}},
		{[]string{"-mode", "stray", "-target", "fd00:99::100", "-sources", "fd00:99::21"}, []string{"stray", "IPv4 only"}},
		{[]string{"-target", "[fd00:99::100", "-sources", "fd00:99::21"}, []string{"-target"}},
	} {
		_, _, err := parseFlags(c.args, io.Discard)
		if err == nil {
			t.Errorf("%v accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %q", c.args, err, w)
			}
		}
	}
}

func TestDefaultSourcesAreOfTheTargetFamily(t *testing.T) {
	for _, c := range []struct {
		ip         string
		ipv6, want bool
	}{
		{"10.99.0.21", false, true},
		{"10.99.0.21", true, false},
		{"fd00:99::21", true, true},
		{"2001:db8::21", true, true},
		{"fd00:99::21", false, false},
		{"fe80::1", true, false},
		{"::1", true, false},
		{"::ffff:10.99.0.21", true, false},
	} {
		if got := defaultSource(netip.MustParseAddr(c.ip), c.ipv6); got != c.want {
			t.Errorf("defaultSource(%s, ipv6=%v) = %v, want %v", c.ip, c.ipv6, got, c.want)
		}
	}
}
