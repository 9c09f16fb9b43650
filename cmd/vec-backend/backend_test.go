package main

import (
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

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

// The echo must answer from the address a datagram was sent to, not from
// the one the route back would pick: 127.0.0.2 here, the VIP under DSR.
func TestEchoRepliesFromTheDestinationAddress(t *testing.T) {
	e, err := listenEcho("0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	go e.serve("s3")
	port := e.conn.LocalAddr().(*net.UDPAddr).Port

	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port}
	if _, err := c.WriteToUDP([]byte("hello"), to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	name, payload, ok := traffic.ParseUDPReply(buf[:n])
	if !ok || name != "s3" || string(payload) != "hello" {
		t.Fatalf("reply %q", buf[:n])
	}
	if !from.IP.Equal(to.IP) || from.Port != port {
		t.Fatalf("reply from %v, want %v", from, to)
	}
}
