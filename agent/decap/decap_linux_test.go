package decap

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"vec/agent/netnstest"
)

// TestDelivers runs the decapsulator in a server namespace with a VIP on lo
// and sends it, from a client namespace, a UDP datagram to the VIP wrapped
// by hand in IPIP and in GUE: the VIP's listener must get each one and its
// answer, sent from the VIP straight back as with DSR, must reach the
// client. Malformed datagrams must be counted, not delivered, and the TUN
// device must go away with the decapsulator.
func TestDelivers(t *testing.T) {
	client, server := netnstest.New(t), netnstest.New(t)
	const tun = "vectestdecap0"
	clientAddr, serverAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	vip := netip.MustParseAddrPort("198.51.100.1:9000")

	client.IP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", server.Name)
	client.IP(t, "addr", "add", clientAddr.String()+"/24", "dev", "eth0")
	server.IP(t, "addr", "add", serverAddr.String()+"/24", "dev", "eth0")
	client.IP(t, "link", "set", "eth0", "up")
	server.IP(t, "link", "set", "eth0", "up")
	server.AddLoopbackAddr(t, vip.Addr().String()+"/32")
	// The inner packets' source is routed through eth0, not the TUN
	// device; the reply's source, the VIP, has no route at the client.
	server.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
	client.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
	client.Sysctl(t, "net.ipv4.conf.eth0.rp_filter", "0")

	// The VIP's service: echoes each datagram with a prefix.
	var service net.PacketConn
	if err := server.Do(func() (err error) { service, err = net.ListenPacket("udp4", vip.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { service.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := service.ReadFrom(buf)
			if err != nil {
				return
			}
			service.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()

	var d *Decapsulator
	if err := server.Do(func() (err error) {
		d, err = Open(Config{TUN: tun, Modes: []Mode{IPIP, GUE}, StatsInterval: 50 * time.Millisecond}, zaptest.NewLogger(t))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)

	// The client's socket for the replies, and the senders of the two
	// encapsulations.
	var replies *net.UDPConn
	var gue *net.UDPConn
	var ipip int
	if err := client.Do(func() (err error) {
		if replies, err = net.ListenUDP("udp4", &net.UDPAddr{IP: clientAddr.AsSlice()}); err != nil {
			return err
		}
		if gue, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: serverAddr.AsSlice(), Port: DefaultGUEPort}); err != nil {
			return err
		}
		ipip, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replies.Close(); gue.Close(); unix.Close(ipip) })
	from := netip.AddrPortFrom(clientAddr, uint16(replies.LocalAddr().(*net.UDPAddr).Port))

	expectEcho := func(what string) {
		t.Helper()
		buf := make([]byte, 1500)
		replies.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, src, err := replies.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%s: no answer from the VIP: %v (counters %v)", what, err, d.Stats().fields())
		}
		if src != vip || string(buf[:n]) != "echo "+what {
			t.Fatalf("%s: got %q from %v, want %q from %v", what, buf[:n], src, "echo "+what, vip)
		}
	}

	// IPIP: the kernel writes the outer header (protocol 4, the socket's).
	inner := udp4(from, vip, []byte("over ipip"))
	if err := unix.Sendto(ipip, inner, 0, &unix.SockaddrInet4{Addr: serverAddr.As4()}); err != nil {
		t.Fatalf("send IPIP: %v", err)
	}
	expectEcho("over ipip")

	// GUE variant 0, then variant 1 (the bare packet).
	if _, err := gue.Write(gue0(protoIPv4, 0, udp4(from, vip, []byte("over gue")))); err != nil {
		t.Fatalf("send GUE: %v", err)
	}
	expectEcho("over gue")
	if _, err := gue.Write(udp4(from, vip, []byte("over gue variant 1"))); err != nil {
		t.Fatalf("send GUE: %v", err)
	}
	expectEcho("over gue variant 1")

	// Malformed: a GUE version 2 header, an inner packet one byte short.
	if _, err := gue.Write(append([]byte{0x80, 4, 0, 0}, inner...)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(ipip, inner[:len(inner)-1], 0, &unix.SockaddrInet4{Addr: serverAddr.As4()}); err != nil {
		t.Fatal(err)
	}
	want := map[[2]uint8]uint64{
		{uint8(IPIP), uint8(Delivered)}:      1,
		{uint8(GUE), uint8(Delivered)}:       2,
		{uint8(GUE), uint8(BadGUEVersion)}:   1,
		{uint8(IPIP), uint8(BadInnerLength)}: 1,
	}
	counted := func() bool {
		for k, n := range want {
			if d.Stats().Count(Mode(k[0]), Reason(k[1])) != n {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !counted(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("counters %v, want %v", d.Stats().fields(), want)
		}
	}

	if out, err := exec.Command("ip", "-n", server.Name, "link", "show", tun).CombinedOutput(); err != nil {
		t.Fatalf("TUN device %s missing while serving: %v: %s", tun, err, out)
	}
	stop()
	if out, err := exec.Command("ip", "-n", server.Name, "link", "show", tun).CombinedOutput(); err == nil {
		t.Fatalf("TUN device %s still there after Serve returned: %s", tun, out)
	}
}
