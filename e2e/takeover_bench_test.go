package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vec/e2e/traffic"
)

// BenchmarkTakeover10k measures a failover with takeoverConns live
// connections: the client opens them through the active gateway (HTTP
// keep-alive to the VIP, one request each), the active's vecd is killed
// (-9), and once the backup has taken over every connection carries one
// more request. Reported: the time from the kill to the backup's workers
// forwarding (takeover-ms, which includes the master-down interval), the
// rebuild's own phases (rebuild-ms, fetch-ms, install-ms), the entries it
// installed, and the connections that failed their second request
// (failed-conns; the goal is 0) and how long the last second request took
// after the kill (all-answered-ms).
//
//	go test -run '^$' -bench Takeover10k -benchtime 1x ./e2e/
func BenchmarkTakeover10k(b *testing.B) {
	for range b.N {
		benchTakeover(b, takeoverConns)
	}
}

// takeoverConns is the number of live connections of BenchmarkTakeover10k.
const takeoverConns = 10000

func benchTakeover(b *testing.B, n int) {
	b.StopTimer()
	rc := startRecoveryCluster(b, recOptions{HA: true})
	gw1, gw2 := startPair(b, rc)

	conns := openKeepAlive(b, rc, n)
	defer func() {
		for _, c := range conns {
			c.conn.Close()
		}
	}()
	gw1.waitEntries(uint64(n), 30*time.Second)
	union, _, err := rc.agentUnion()
	if err != nil {
		b.Fatal(err)
	}

	b.StartTimer()
	killAt := gw1.kill()
	activeAt := gw2.waitMode("active", 30*time.Second)
	b.StopTimer()
	rebuild := gw2.lastTakeover()

	// One more request on every connection, all at once: each must be
	// answered by the server that has had it from the start.
	failed := requestAll(b, conns, 512, 15*time.Second)
	answeredAt := time.Now()

	b.ReportMetric(float64(activeAt.Sub(killAt).Milliseconds()), "takeover-ms")
	b.ReportMetric(rebuild.num("total")*1000, "rebuild-ms")
	b.ReportMetric(rebuild.num("fetch")*1000, "fetch-ms")
	b.ReportMetric(rebuild.num("install")*1000, "install-ms")
	b.ReportMetric(rebuild.num("installed"), "installed")
	b.ReportMetric(float64(failed), "failed-conns")
	b.ReportMetric(float64(answeredAt.Sub(killAt).Milliseconds()), "all-answered-ms")
	b.Logf("%d connections, the agents listed %d; takeover %s after the kill: %s; %d second requests failed",
		n, union, ms(activeAt.Sub(killAt)), rebuild.brief(), failed)
	if failed != 0 {
		b.Errorf("%d of %d connections did not survive the takeover", failed, n)
	}
}

// keepAlive is one client connection to the VIP carrying HTTP requests.
type keepAlive struct {
	conn net.Conn
	rd   *bufio.Reader
}

// request sends one GET / and reads the whole answer.
func (k *keepAlive) request(timeout time.Duration) error {
	k.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(k.conn, "GET / HTTP/1.1\r\nHost: vip\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(k.rd, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(traffic.ServerHeader) == "" {
		return fmt.Errorf("answer %s from %q", resp.Status, resp.Header.Get(traffic.ServerHeader))
	}
	_, err = bufio.NewReader(resp.Body).WriteTo(discard{})
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// openKeepAlive opens n connections from the client namespace to the VIP,
// spread over the client's addresses, and makes one request on each.
func openKeepAlive(tb testing.TB, rc *recCluster, n int) []*keepAlive {
	tb.Helper()
	target := netip.AddrPortFrom(rc.VIP(), traffic.HTTPPort).String()
	sources := rc.ClientAddrs()
	conns := make([]*keepAlive, n)
	for i := range conns {
		d := net.Dialer{Timeout: 5 * time.Second,
			LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(sources[i%len(sources)], 0))}
		var c net.Conn
		if err := InNetns(rc.ClientNS(), func() error {
			var err error
			c, err = d.Dial("tcp", target)
			return err
		}); err != nil {
			tb.Fatalf("connection %d: %v", i, err)
		}
		conns[i] = &keepAlive{conn: c, rd: bufio.NewReader(c)}
	}
	if failed := requestAll(tb, conns, 256, 10*time.Second); failed != 0 {
		tb.Fatalf("%d of %d connections failed their first request before the takeover", failed, n)
	}
	return conns
}

// requestAll makes one request on every connection, parallel of them at a
// time, each within timeout, and returns how many failed (the first three
// failures logged).
func requestAll(tb testing.TB, conns []*keepAlive, parallel int, timeout time.Duration) int64 {
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, c := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.request(timeout); err != nil && failed.Add(1) <= 3 {
				tb.Logf("connection from %s: %v", c.conn.LocalAddr(), err)
			}
		})
	}
	wg.Wait()
	return failed.Load()
}
