package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vec/agent/netnstest"
)

// TestDecapUsage: bad decap arguments exit 2 before anything is created,
// with a message naming the flag.
func TestDecapUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"decap", "--mode", "gre"}, "--mode"},
		{[]string{"decap", "--mode", "ipip,ipip"}, "--mode"},
		{[]string{"decap", "--gue-port", "70000"}, "--gue-port"},
		{[]string{"decap", "--stats-interval", "-1s"}, "--stats-interval"},
		{[]string{"decap", "--log-level", "loud"}, "--log-level"},
		{[]string{"decap", "extra"}, "unexpected arguments"},
		{[]string{"decap", "--no-such-flag"}, "unknown flag"},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), exitUsage, tc.msg)
		}
	}
}

// TestDecapServerSetup sets a server namespace up the way a real server is,
// scripts/server-setup.sh --forwarding ipip,gue with the built vec-agent as
// the userspace decapsulator (used when the kernel has no ipip or fou; the
// kernel's devices otherwise): a UDP datagram to the VIP, wrapped by hand
// in IPIP and in GUE and sent from a client namespace, must reach the VIP's
// service, whose answer comes straight back. With --mss auto the server's
// default route gets advmss link MTU - 40 - 32 (GUE's overhead), and a TCP
// client that the server reaches through that route (an address beyond the
// server's link) must be offered that MSS. A second run must leave the
// decapsulation as it is, and --undo must remove it and the advmss.
func TestDecapServerSetup(t *testing.T) {
	client, server := netnstest.New(t), netnstest.New(t)
	bin := build(t)
	script, err := filepath.Abs("../../scripts/server-setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "setup.state")
	clientAddr, serverAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	vip := netip.MustParseAddrPort("198.51.100.1:9000")
	const guePort = 7000

	client.Link(t, server, "eth0", clientAddr.String()+"/24", serverAddr.String()+"/24")
	client.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0") // the answer's source, the VIP, has no route here
	client.Sysctl(t, "net.ipv4.conf.eth0.rp_filter", "0")
	// A client beyond the server's link, answered through the server's
	// default route (the client namespace, as a router would be), which
	// --mss gives the advmss. No TCP timestamps: the client's send MSS is
	// then exactly the one the server advertised.
	const linkMTU = 1500
	remoteClient := netip.MustParseAddr("203.0.113.1")
	client.IP(t, "link", "set", "eth0", "mtu", fmt.Sprint(linkMTU))
	server.IP(t, "link", "set", "eth0", "mtu", fmt.Sprint(linkMTU))
	client.AddLoopbackAddr(t, remoteClient.String()+"/32")
	client.IP(t, "route", "add", vip.Addr().String()+"/32", "via", serverAddr.String())
	server.IP(t, "route", "add", "default", "via", clientAddr.String())
	client.Sysctl(t, "net.ipv4.tcp_timestamps", "0")
	wantMSS := linkMTU - 40 - 32 // ipip,gue: GUE's 32 bytes, the larger overhead
	defaultRoute := func() string {
		t.Helper()
		out, err := exec.Command("ip", "-n", server.Name, "-4", "-o", "route", "show", "default").Output()
		if err != nil {
			t.Fatalf("ip route show default in %s: %v", server.Name, err)
		}
		return strings.TrimSpace(string(out))
	}

	setup := func(args ...string) string {
		t.Helper()
		full := append([]string{"netns", "exec", server.Name, script, "--quiet", "--state", state}, args...)
		out, err := exec.Command("ip", full...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("server-setup.sh %q: %v: %s", args, err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	args := []string{"--vip", vip.Addr().String(), "--iface", "eth0", "--forwarding", "ipip,gue", "--gue-port", fmt.Sprint(guePort), "--mss", "auto", "--agent", bin}
	printed := setup(args...)
	decap, mssLine, _ := strings.Cut(printed, "\n")
	// Registered after the namespaces, so it runs before they are deleted:
	// a decapsulator left running would keep the server's alive.
	t.Cleanup(func() { setup("--undo") })
	if decap != "DECAP=kernel" && decap != "DECAP=userspace" {
		t.Fatalf("server-setup.sh printed %q, want DECAP=kernel or DECAP=userspace", decap)
	}
	t.Logf("decapsulation: %s", decap)
	if want := fmt.Sprintf("MSS=%d", wantMSS); mssLine != want {
		t.Errorf("server-setup.sh --mss auto printed %q, want %q", mssLine, want)
	}
	if route := defaultRoute(); !strings.Contains(route+" ", fmt.Sprintf(" advmss %d ", wantMSS)) {
		t.Errorf("default route after --mss auto: %q, want advmss %d", route, wantMSS)
	}
	stateBefore, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}

	server.EchoUDP(t, vip)
	c := client.EncapClient(t, clientAddr, serverAddr, guePort)
	for _, tc := range []struct {
		name string
		send func(inner []byte) error
	}{
		{"ipip", c.SendIPIP},
		{"gue", func(inner []byte) error {
			return c.SendGUE(append([]byte{0, 4, 0, 0}, inner...)) // variant 0, inner IPv4
		}},
	} {
		msg := "over " + tc.name
		if err := tc.send(innerUDP(c.From, vip, []byte(msg))); err != nil {
			t.Fatalf("send %s: %v", tc.name, err)
		}
		if err := c.ReadEcho(vip, msg); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}

	tcpVIP := netip.AddrPortFrom(vip.Addr(), vip.Port()+1)
	server.Listen(t, "tcp4", tcpVIP.String(), nil)
	var conn *net.TCPConn
	if err := client.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: remoteClient.AsSlice()}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp4", tcpVIP.String())
		if err == nil {
			conn = c.(*net.TCPConn)
		}
		return err
	}); err != nil {
		t.Fatalf("TCP from %v to the VIP: %v", remoteClient, err)
	}
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var infoErr error
	if err := raw.Control(func(fd uintptr) { info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || infoErr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, infoErr)
	}
	if info.Snd_mss != uint32(wantMSS) {
		t.Errorf("the client's MSS towards the VIP is %d, want %d (the server's advmss)", info.Snd_mss, wantMSS)
	}

	if again := setup(args...); again != printed {
		t.Errorf("second run printed %q, first %q", again, printed)
	}
	if stateAfter, err := os.ReadFile(state); err != nil || !bytes.Equal(stateAfter, stateBefore) {
		t.Errorf("second run changed the state file: %v\nbefore:\n%s\nafter:\n%s", err, stateBefore, stateAfter)
	}

	setup("--undo")
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file left after --undo: %v", err)
	}
	if route := defaultRoute(); route == "" || strings.Contains(route, "advmss") {
		t.Errorf("default route after --undo: %q, want it there without advmss", route)
	}
	for _, dev := range []string{"vecdecap0", "vecipip0"} {
		if out, err := exec.Command("ip", "-n", server.Name, "link", "show", dev).CombinedOutput(); err == nil {
			t.Errorf("%s still there after --undo: %s", dev, out)
		}
	}
	if pids, _ := exec.Command("ip", "netns", "pids", server.Name).Output(); len(bytes.TrimSpace(pids)) > 0 {
		t.Errorf("processes left in the server namespace after --undo: %s", pids)
	}
}

// innerUDP builds the IPv4/UDP packet the client would have sent to the
// VIP (UDP checksum 0: none, allowed in IPv4).
func innerUDP(src, dst netip.AddrPort, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = 17
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(p[20:], src.Port())
	binary.BigEndian.PutUint16(p[22:], dst.Port())
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}
