package recovery

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// loopbackConns binds n UDP sockets on 127.0.0.1 with ephemeral ports.
func loopbackConns(t *testing.T, n int) ([]*net.UDPConn, []netip.AddrPort) {
	t.Helper()
	var conns []*net.UDPConn
	var addrs []netip.AddrPort
	for range n {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return conns, addrs
}

// collector gathers delivered datagrams.
type collector struct {
	mu  sync.Mutex
	got [][]byte
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 100)} }

func (c *collector) deliver(b []byte) {
	c.mu.Lock()
	c.got = append(c.got, bytes.Clone(b))
	c.mu.Unlock()
	c.ch <- struct{}{}
}

func (c *collector) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	for range n {
		select {
		case <-c.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d datagrams not delivered", n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

func TestTransportUDPLoopback(t *testing.T) {
	conns, addrs := loopbackConns(t, 3)
	log := zaptest.NewLogger(t)
	a, err := newUDPTransport(conns[0], []netip.AddrPort{addrs[1], addrs[2]}, log)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*UDPTransport
	var cs []*collector
	for i := 1; i < 3; i++ {
		tr, err := newUDPTransport(conns[i], []netip.AddrPort{addrs[0]}, log)
		if err != nil {
			t.Fatal(err)
		}
		c := newCollector()
		if err := tr.Start(c.deliver); err != nil {
			t.Fatal(err)
		}
		ts, cs = append(ts, tr), append(cs, c)
	}
	if a.LocalAddr() != addrs[0] {
		t.Errorf("local address %v, want %v", a.LocalAddr(), addrs[0])
	}

	msg := []byte("a heartbeat, as far as the transport knows")
	if err := a.Send(msg); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if got := c.wait(t, 1); len(got) != 1 || !bytes.Equal(got[0], msg) {
			t.Errorf("peer %d got %q", i+1, got)
		}
	}
	// A datagram longer than any heartbeat arrives cut to one byte more:
	// still too long, so the parser refuses it.
	big := bytes.Repeat([]byte{1}, 2*MaxHeartbeatLen)
	if err := a.Send(big); err != nil {
		t.Fatal(err)
	}
	if got := cs[0].wait(t, 1); len(got[1]) != MaxHeartbeatLen+1 {
		t.Errorf("long datagram delivered as %d bytes", len(got[1]))
	}

	if err := ts[0].Start(cs[0].deliver); err == nil {
		t.Error("second Start succeeded")
	}
	for _, tr := range ts {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
		if err := tr.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	if err := ts[0].Start(cs[0].deliver); err == nil {
		t.Error("Start after Close succeeded")
	}
	if err := a.Close(); err != nil { // never started
		t.Error(err)
	}
}

func TestTransportListenUDPChecks(t *testing.T) {
	log := zap.NewNop()
	peer := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}
	if _, err := ListenUDP(netip.AddrPort{}, peer, log); err == nil {
		t.Error("no local address accepted")
	}
	if _, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), nil, log); err == nil {
		t.Error("no peer accepted")
	}
	if _, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, log); err == nil {
		t.Error("peer without a port accepted")
	}
	tr, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), peer, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUDP(tr.LocalAddr(), peer, log); err == nil {
		t.Error("second bind of the same address succeeded")
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
}

// realController is a Controller for machines on the real clock.
type realController struct {
	active    atomic.Bool
	activated chan uint64
}

func (c *realController) Activate(ctx context.Context, term uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.active.Store(true)
	c.activated <- term
	return nil
}

func (c *realController) Deactivate(string) { c.active.Store(false) }
func (c *realController) Ready() bool       { return true }

// Two machines on the real clock over UDP on loopback, with witnesses: one
// becomes active, the other follows; a graceful stop hands over at once.
// gw2's master-down interval is made far longer than the test waits, so
// only the SHUTDOWN can have made it take over.
func TestHATransportUDPRealClock(t *testing.T) {
	const interval = 20 * time.Millisecond
	conns, addrs := loopbackConns(t, 2)
	key := testKey(t, 3)
	agents := newFakeAgents(SystemClock(), 3, time.Second)
	agents.skipQuiet()
	peers := []Peer{{Name: "gw1", Addr: addrs[0], Priority: 200}, {Name: "gw2", Addr: addrs[1], Priority: 100}}
	var has []*HA
	var ctls []*realController
	for i, p := range peers {
		log := zaptest.NewLogger(t).Named(p.Name)
		tr, err := newUDPTransport(conns[i], []netip.AddrPort{addrs[1-i]}, log)
		if err != nil {
			t.Fatal(err)
		}
		ctl := &realController{activated: make(chan uint64, 10)}
		skew := interval / 2
		if p.Name == "gw2" {
			skew = time.Minute
		}
		h, err := NewHA(HAConfig{Node: p.Name, Priority: p.Priority, Peers: peers, Key: key, Interval: interval, Skew: skew},
			tr, agents.witnesses(p.Name), ctl, log)
		if err != nil {
			t.Fatal(err)
		}
		has, ctls = append(has, h), append(ctls, ctl)
	}
	defer func() {
		for _, h := range has {
			h.Stop(context.Background())
		}
	}()
	if err := has[0].Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctls[0].activated:
	case <-time.After(5 * time.Second):
		t.Fatal("gw1 not active")
	}
	if err := has[1].Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for has[1].Status().ActiveNode != "gw1" {
		if time.Now().After(deadline) {
			t.Fatalf("gw2 does not follow gw1: %+v", has[1].Status())
		}
		time.Sleep(interval)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := has[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctls[1].activated:
	case <-time.After(5 * time.Second):
		t.Fatal("gw2 did not take over")
	}
	if ctls[0].active.Load() || !ctls[1].active.Load() {
		t.Error("after the handover: gw1 or gw2 in the wrong state")
	}
	if st := has[1].Status(); st.Role != RoleActive || st.Received == 0 || st.Rejects.Total() != 0 {
		t.Errorf("gw2 status %+v", st)
	}
}
