package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jumboMTU is the MTU of every link of the client → gateway → server path
// in the jumbo test, and of vecd's port.
const jumboMTU = 9000

// jumboUploadPort is the service port of the upload server the test runs
// in the first server namespace.
const jumboUploadPort = 5001

// A client on an MTU-9000 network (netns.sh --mtu, on net_af_packet, whose
// ring frames it sizes) uploads through vecd to a server: every data
// segment crosses vecd as one ~9 KB frame, larger than the 2 KB mbufs vecd
// used to have. The body must arrive intact, and vecd must have forwarded
// those frames, not dropped them.
func TestVecdJumboFramesUpload(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 1, ClientAddrs: 1, PortDriver: "af_packet", MTU: jumboMTU})
	srv := c.Server(1)
	sums := serveUploadSums(t, srv.NS, jumboUploadPort)
	v := startVecd(t, c, jumboYAML(c), false)

	const size = 4 << 20
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(13, 9000))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(body)
	start := time.Now()
	got, err := uploadFrom(c.ClientNS(), netip.AddrPortFrom(c.VIP(), jumboUploadPort), body)
	if err != nil {
		t.Fatalf("uploading %d bytes through vecd: %v", size, err)
	}
	t.Logf("uploaded %d bytes through vecd in %v", size, time.Since(start).Round(time.Millisecond))
	if got != want {
		t.Fatalf("the server's checksum of the upload is %x, want %x", got, want)
	}
	select {
	case s := <-sums:
		if s.err != nil || s.sum != want || s.n != size {
			t.Fatalf("the server read %d bytes with checksum %x (%v), want %d bytes, %x", s.n, s.sum, s.err, size, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not finish reading the upload")
	}

	st := v.stop()
	sc, ok := st.server("upload", srv.Name)
	if !ok {
		t.Fatalf("vecd's counters lack upload/%s: %s", srv.Name, st.brief())
	}
	// Frames of at most 2048 bytes would carry at most 2048 bytes each;
	// every byte forwarded beyond that was in larger frames, each at most
	// 9014 bytes long: a lower bound on how many vecd forwarded.
	maxFrame := uint64(jumboMTU + 14)
	var large uint64
	if sc.Bytes > 2048*sc.Packets {
		large = (sc.Bytes - 2048*sc.Packets + maxFrame - 2048 - 1) / (maxFrame - 2048)
	}
	t.Logf("vecd forwarded %d frames, %d bytes, to %s: at least %d of them longer than 2048 bytes", sc.Packets, sc.Bytes, srv.Name, large)
	// TCP segments of the upload are MSS-sized (MTU − 40 − 12 bytes of
	// timestamps): most of the body must have crossed in large frames.
	if mss := uint64(jumboMTU - 52); large < size/mss/2 {
		t.Errorf("at least %d frames longer than 2048 bytes forwarded, want at least %d (half of a %d-byte upload in %d-byte segments): %s",
			large, size/mss/2, size, mss, st.brief())
	}
	if sc.Bytes < size {
		t.Errorf("vecd forwarded %d bytes to the server, less than the %d-byte upload", sc.Bytes, size)
	}
	for _, reason := range []string{"oversize", "ipv4_bad_total_length", "non_syn_miss"} {
		if d := st.drops(reason); d != 0 {
			t.Errorf("vecd dropped %d packets as %s: %s", d, reason, st.brief())
		}
	}
}

// jumboYAML is vecd's configuration for the jumbo test: one worker, its
// port as netns.sh set it up (PortYAML: net_af_packet at jumboMTU), one
// TCP service on the first server.
func jumboYAML(c *Cluster) string {
	var b strings.Builder
	b.WriteString(PortYAML(c.GatewayN(1)))
	fmt.Fprintf(&b, "gateway:\n  ip: %s\n", c.GatewayAddr())
	b.WriteString("workers:\n  cores: [1]\n  control_core: 0\n  table_capacity: 65536\n")
	b.WriteString("log:\n  level: info\nmetrics:\n  disabled: true\n")
	s := c.Server(1)
	fmt.Fprintf(&b, "clusters:\n  - vip: %s\n    services:\n      - name: upload\n        protocol: tcp\n        port: %d\n", c.VIP(), jumboUploadPort)
	fmt.Fprintf(&b, "        servers:\n          - {name: %s, ip: %s, mac: \"%s\", weight: 1}\n", s.Name, s.Addr, s.MAC)
	return b.String()
}

// uploadSum is what the upload server read from one connection.
type uploadSum struct {
	n   int64
	sum [sha256.Size]byte
	err error
}

// serveUploadSums listens on port in namespace ns (every address, so also
// the VIP on lo), reads one connection to its end, answers with the
// SHA-256 of what it read, and reports it.
func serveUploadSums(t *testing.T, ns string, port int) <-chan uploadSum {
	t.Helper()
	var ln net.Listener
	if err := InNetns(ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan uploadSum, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			out <- uploadSum{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, conn)
		var s uploadSum
		s.n, s.err = n, err
		copy(s.sum[:], h.Sum(nil))
		if err == nil {
			_, s.err = conn.Write(s.sum[:])
		}
		out <- s
	}()
	return out
}

// uploadFrom connects from namespace ns to addr, sends body, closes its
// side and returns the checksum the server answers with.
func uploadFrom(ns string, addr netip.AddrPort, body []byte) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := DialContext(ctx, ns, "tcp4", addr.String())
	if err != nil {
		return sum, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := conn.Write(body); err != nil {
		return sum, fmt.Errorf("sending: %w", err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return sum, err
	}
	if _, err := io.ReadFull(conn, sum[:]); err != nil {
		return sum, fmt.Errorf("reading the server's checksum: %w", err)
	}
	return sum, nil
}
