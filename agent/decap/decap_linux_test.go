package decap

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

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

	client.Link(t, server, "eth0", clientAddr.String()+"/24", serverAddr.String()+"/24")
	server.AddLoopbackAddr(t, vip.Addr().String()+"/32")
	// The inner packets' source is routed through eth0, not the TUN
	// device; the reply's source, the VIP, has no route at the client.
	server.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
	client.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
	client.Sysctl(t, "net.ipv4.conf.eth0.rp_filter", "0")

	server.EchoUDP(t, vip)

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

	c := client.EncapClient(t, clientAddr, serverAddr, DefaultGUEPort)
	inner := udp4(c.From, vip, []byte("over ipip"))
	for _, tc := range []struct {
		msg  string
		send func([]byte) error
	}{
		{"over ipip", c.SendIPIP},
		// GUE variant 0, then variant 1 (the bare packet).
		{"over gue", func(p []byte) error { return c.SendGUE(gue0(protoIPv4, 0, p)) }},
		{"over gue variant 1", c.SendGUE},
	} {
		if err := tc.send(udp4(c.From, vip, []byte(tc.msg))); err != nil {
			t.Fatalf("send %s: %v", tc.msg, err)
		}
		if err := c.ReadEcho(vip, tc.msg); err != nil {
			t.Fatalf("%s: %v (counters %v)", tc.msg, err, d.Stats().fields())
		}
	}

	// Malformed: a GUE version 2 header, an inner packet one byte short.
	if err := c.SendGUE(append([]byte{0x80, 4, 0, 0}, inner...)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendIPIP(inner[:len(inner)-1]); err != nil {
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
