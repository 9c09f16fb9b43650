package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap"

	"vec/e2e"
	"vec/e2e/traffic"
)

func TestRootNamesServer(t *testing.T) {
	srv := httptest.NewServer(newHandler("s7", noDelay(t), zap.NewNop()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(traffic.ServerHeader) != "s7" || string(body) != "s7\n" {
		t.Fatalf("GET /: %s %q %q", resp.Status, resp.Header.Get(traffic.ServerHeader), body)
	}
	if resp, err := http.Get(srv.URL + "/nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nothing: %v %v", resp, err)
	}
}

func TestBytesStreamsTheDeterministicStream(t *testing.T) {
	srv := httptest.NewServer(newHandler("s1", noDelay(t), zap.NewNop()))
	defer srv.Close()
	const n = 1_000_003
	resp, err := http.Get(srv.URL + "/bytes?n=1000003&seed=42")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	if err != nil || got != n || resp.ContentLength != n {
		t.Fatalf("read %d bytes (Content-Length %d): %v", got, resp.ContentLength, err)
	}
	if sum, want := [32]byte(h.Sum(nil)), traffic.StreamSum(42, n); sum != want {
		t.Fatalf("SHA-256 %x, want %x", sum, want)
	}

	for _, q := range []string{"", "n=-1", "n=x", "n=10&seed=-3", "n=10&rate=-1", "n=1099511627777"} {
		resp, err := http.Get(srv.URL + "/bytes?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/bytes?%s: %s, want 400", q, resp.Status)
		}
	}
}

func TestBytesRateIsPaced(t *testing.T) {
	srv := httptest.NewServer(newHandler("s1", noDelay(t), zap.NewNop()))
	defer srv.Close()
	start := time.Now()
	// 40 kB at 100 kB/s: the last chunk is due 0.38 s after the first.
	resp, err := http.Get(srv.URL + "/bytes?n=40000&rate=100000")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 40000 {
		t.Fatalf("read %d: %v", n, err)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Fatalf("paced download took %v, want ≥ 0.35 s", d)
	}
}

// startEcho serves the echo on addr as s3 and returns its port.
func startEcho(t *testing.T, addr string) (*echoServer, uint16) {
	t.Helper()
	e, err := listenEcho(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	go e.serve("s3")
	return e, uint16(e.sockets[0].conn.LocalAddr().(*net.UDPAddr).Port)
}

// echoFrom sends one datagram from c to to and returns where the echo came
// from, after checking its content.
func echoFrom(t *testing.T, c *net.UDPConn, to netip.AddrPort) netip.AddrPort {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte("hello"), to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("echo of a datagram to %v: %v", to, err)
	}
	name, payload, ok := traffic.ParseUDPReply(buf[:n])
	if !ok || name != "s3" || string(payload) != "hello" {
		t.Fatalf("reply %q", buf[:n])
	}
	return netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

func udpClient(t *testing.T, network, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The echo must answer from the address a datagram was sent to, not from
// the one the route back would pick: 127.0.0.2 here, the VIP under DSR.
func TestEchoRepliesFromTheDestinationAddress(t *testing.T) {
	_, port := startEcho(t, ":0")
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)
	if from := echoFrom(t, udpClient(t, "udp4", "127.0.0.1"), to); from != to {
		t.Fatalf("reply from %v, want %v", from, to)
	}
}

// The same over IPv6, where lo has only ::1: a scratch namespace gives its
// lo a second address, as a server holds an IPv6 VIP, and the echo to it
// must come from it rather than from ::1.
func TestEchoRepliesFromTheDestinationAddressOverIPv6(t *testing.T) {
	if os.Geteuid() != 0 {
		e2e.SkipOrFail(t, "a scratch network namespace needs root")
	}
	ns := fmt.Sprintf("vectmp6-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "set", "lo", "up")
	const vip = "fd00:99::100"
	ip("-n", ns, "addr", "add", vip+"/128", "dev", "lo", "nodad")

	var e *echoServer
	var c *net.UDPConn
	if err := e2e.InNetns(ns, func() error {
		var err error
		if e, err = listenEcho(":0"); err != nil {
			return err
		}
		c, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer c.Close()
	go e.serve("s3")
	port := uint16(e.sockets[0].conn.LocalAddr().(*net.UDPAddr).Port)
	for _, dst := range []string{vip, "::1"} {
		to := netip.AddrPortFrom(netip.MustParseAddr(dst), port)
		if from := echoFrom(t, c, to); from != to {
			t.Fatalf("reply from %v, want %v", from, to)
		}
	}
}

// Without a host, -http and -udp serve both families on one port each; with
// one, only that address.
func TestListenServesBothFamilies(t *testing.T) {
	socks, err := listen(options{httpAddr: ":0", udpAddr: ":0"})
	if err != nil {
		t.Fatal(err)
	}
	defer socks.http.Close()
	defer socks.echo.Close()
	if socks.control != nil {
		t.Fatalf("a control listener without -control: %v", socks.control.Addr())
	}
	srv := &http.Server{Handler: newHandler("s3", noDelay(t), zap.NewNop())}
	go srv.Serve(socks.http)
	defer srv.Close()
	go socks.echo.serve("s3")

	httpPort := socks.http.Addr().(*net.TCPAddr).Port
	udpPort := uint16(socks.echo.sockets[0].conn.LocalAddr().(*net.UDPAddr).Port)
	if len(socks.echo.sockets) != 2 {
		t.Fatalf("echo sockets %s, want one IPv4 and one IPv6", socks.echo)
	}
	for _, c := range []struct{ network, ip, url string }{
		{"udp4", "127.0.0.1", fmt.Sprintf("http://127.0.0.1:%d/", httpPort)},
		{"udp6", "::1", fmt.Sprintf("http://[::1]:%d/", httpPort)},
	} {
		if body, _ := get(t, c.url); body != "s3\n" {
			t.Fatalf("GET %s: %q", c.url, body)
		}
		to := netip.AddrPortFrom(netip.MustParseAddr(c.ip), udpPort)
		if from := echoFrom(t, udpClient(t, c.network, c.ip), to); from != to {
			t.Fatalf("reply from %v, want %v", from, to)
		}
	}

	// An address with a host keeps to it.
	only4, err := listen(options{httpAddr: "127.0.0.1:0", udpAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer only4.http.Close()
	defer only4.echo.Close()
	if len(only4.echo.sockets) != 1 || only4.echo.sockets[0].ipv6 {
		t.Fatalf("echo on 127.0.0.1: sockets %s", only4.echo)
	}
	if c, err := net.Dial("tcp6", fmt.Sprintf("[::1]:%d", only4.http.Addr().(*net.TCPAddr).Port)); err == nil {
		c.Close()
		t.Fatal("-http 127.0.0.1:0 accepted a connection on [::1]")
	}
	only6, err := listen(options{httpAddr: "[::1]:0", udpAddr: "[::1]:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer only6.http.Close()
	defer only6.echo.Close()
	if len(only6.echo.sockets) != 1 || !only6.echo.sockets[0].ipv6 {
		t.Fatalf("echo on [::1]: sockets %s", only6.echo)
	}
}
