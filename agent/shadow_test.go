package agent

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"vec/agent/client"
	"vec/agent/netnstest"
	"vec/agent/sockdiag"
	"vec/agent/wire"
)

var (
	nsVIP4    = netip.MustParseAddr("10.88.0.1")
	nsVIP6    = netip.MustParseAddr("2001:db8:88::1")
	nsClient4 = netip.MustParseAddr("10.88.1.1")
	nsClient6 = netip.MustParseAddr("2001:db8:88::2")
	nsOther   = netip.MustParseAddr("10.88.2.1") // on the server, not a VIP
)

// server is a namespace with VIPs on lo (a real server's setup), listeners
// that keep every accepted connection, and an agent whose netlink socket
// lives in the namespace while its HTTP side is served from the test.
type server struct {
	ns     *netnstest.NS
	client *client.Client
	target client.Target

	mu       sync.Mutex
	accepted map[netip.AddrPort]net.Conn // by peer (client) address
}

func newServer(t *testing.T, maxEntriesPerPage int) *server {
	t.Helper()
	ns := netnstest.New(t)
	for _, p := range []string{"10.88.0.1/32", "10.88.1.1/32", "10.88.2.1/32", "2001:db8:88::1/128", "2001:db8:88::2/128"} {
		ns.AddLoopbackAddr(t, p)
	}
	s := &server{ns: ns, accepted: map[netip.AddrPort]net.Conn{}}
	var diag *sockdiag.Conn
	if err := ns.Do(func() (err error) { diag, err = sockdiag.Open(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { diag.Close() })

	h, key := testHandler(t, 0x5a, nil, HandlerConfig{Name: "server-1", Table: NewTable(diag, []netip.Addr{nsVIP4, nsVIP6}),
		Logger: zaptest.NewLogger(t)})
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)
	var err error
	if s.client, err = client.New(client.Options{Key: key, MaxEntriesPerPage: maxEntriesPerPage}); err != nil {
		t.Fatal(err)
	}
	s.target = client.Target{Name: "server-1", URL: web.URL}
	return s
}

// listen starts a listener in the namespace and keeps what it accepts for
// serverConn.
func (s *server) listen(t *testing.T, network, addr string) {
	t.Helper()
	s.ns.Listen(t, network, addr, func(c net.Conn) {
		s.mu.Lock()
		s.accepted[unmapped(c.RemoteAddr().(*net.TCPAddr).AddrPort())] = c
		s.mu.Unlock()
	})
}

// serverConn waits for the accepted end of a client connection.
func (s *server) serverConn(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	peer := unmapped(c.LocalAddr().(*net.TCPAddr).AddrPort())
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		sc := s.accepted[peer]
		s.mu.Unlock()
		if sc != nil {
			return sc
		}
	}
	t.Fatalf("connection from %s never accepted", peer)
	return nil
}

func (s *server) dial(t *testing.T, from netip.Addr, to netip.AddrPort) net.Conn {
	t.Helper()
	var c net.Conn
	err := s.ns.Do(func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
		c, err = d.Dial("tcp", to.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// listing asks the agent, through the client, for the shadow table.
func (s *server) listing(t *testing.T) client.Shadow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sh, err := s.client.Connections(ctx, s.target, []netip.Addr{nsVIP4, nsVIP6})
	if err != nil {
		t.Fatal(err)
	}
	if !sh.Complete || sh.Dropped.Total() != 0 {
		t.Fatalf("listing incomplete or with dropped entries: %+v", sh.Dropped)
	}
	return sh
}

// expectListing polls the agent until its entries equal want (kernel state
// changes after a close are quick but asynchronous).
func (s *server) expectListing(t *testing.T, want []wire.Entry) client.Shadow {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, wire.Compare)
	var sh client.Shadow
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sh = s.listing(t)
		if slices.Equal(sh.Entries, want) {
			return sh
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("agent listing differs from the clients' sockets\n got  %d: %v\n want %d: %v", len(sh.Entries), sh.Entries, len(want), want)
	return sh
}

// unmapped turns the v4-mapped form a dual-stack socket reports into IPv4.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// clientView is a TCP client's own socket as a shadow-table entry.
func clientView(c net.Conn, state wire.State) wire.Entry {
	return wire.Entry{Proto: wire.ProtoTCP, State: state,
		Client: unmapped(c.LocalAddr().(*net.TCPAddr).AddrPort()),
		VIP:    unmapped(c.RemoteAddr().(*net.TCPAddr).AddrPort())}
}

func TestShadowTableTCP(t *testing.T) {
	s := newServer(t, 10) // 10 entries a page: the listing below spans several pages
	s.listen(t, "tcp4", "10.88.0.1:80")
	s.listen(t, "tcp", "[::]:8080") // dual-stack: IPv4 clients appear as v4-mapped IPv6 sockets
	s.listen(t, "tcp6", "[2001:db8:88::1]:443")
	s.listen(t, "tcp4", "10.88.2.1:9000") // a service on a non-VIP address

	const n = 48
	var clients []net.Conn
	for i := range n {
		switch i % 4 {
		case 0, 1:
			clients = append(clients, s.dial(t, nsClient4, netip.AddrPortFrom(nsVIP4, 80)))
		case 2:
			clients = append(clients, s.dial(t, nsClient4, netip.AddrPortFrom(nsVIP4, 8080)))
		case 3:
			clients = append(clients, s.dial(t, nsClient6, netip.AddrPortFrom(nsVIP6, 443)))
		}
	}
	// Not on a VIP, so not listed.
	s.dial(t, nsClient4, netip.AddrPortFrom(nsOther, 9000))

	want := make([]wire.Entry, 0, n)
	for _, c := range clients {
		want = append(want, clientView(c, wire.StateActive))
	}
	sh := s.expectListing(t, want)
	if sh.Pages < n/10 {
		t.Errorf("%d pages for %d entries at 10 a page", sh.Pages, n)
	}
	if !slices.Equal(sh.VIPs, []netip.Addr{nsVIP4, nsVIP6}) {
		t.Errorf("served VIPs %v", sh.VIPs)
	}

	// The clients close half of the connections: the server ends go to
	// CLOSE-WAIT, which the gateway must still carry as FIN.
	for i := 0; i < n; i += 2 {
		if err := clients[i].Close(); err != nil {
			t.Fatal(err)
		}
		want[i].State = wire.StateFIN
	}
	s.expectListing(t, want)

	// The server closes those too (LAST-ACK, then gone); it also starts
	// closing a quarter of the others (FIN-WAIT-2 while the client is silent).
	var left []wire.Entry
	for i, c := range clients {
		switch {
		case i%2 == 0:
			s.serverConn(t, c).Close()
		case i%4 == 1:
			s.serverConn(t, c).Close()
			left = append(left, clientView(c, wire.StateFIN))
		default:
			left = append(left, clientView(c, wire.StateActive))
		}
	}
	s.expectListing(t, left)
}

func TestShadowTableUDP(t *testing.T) {
	s := newServer(t, 0)
	type sock struct {
		conn  *net.UDPConn
		entry wire.Entry
	}
	var socks []sock
	bind := func(local, remote string) {
		t.Helper()
		var c *net.UDPConn
		err := s.ns.Do(func() (err error) {
			laddr := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local))
			if remote == "" {
				c, err = net.ListenUDP("udp", laddr)
			} else {
				c, err = net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(remote)))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The socket's own view: bound address, and its peer if connected.
		e := wire.Entry{Proto: wire.ProtoUDP, State: wire.StateActive, VIP: c.LocalAddr().(*net.UDPAddr).AddrPort()}
		if ra, ok := c.RemoteAddr().(*net.UDPAddr); ok && ra != nil {
			e.Client = ra.AddrPort()
		}
		e.VIP = unmapped(e.VIP)
		socks = append(socks, sock{c, e})
	}
	bind("10.88.0.1:53", "")
	bind("10.88.0.1:54", "")
	bind("[2001:db8:88::1]:53", "")
	for i := range 6 {
		bind(fmt.Sprintf("10.88.0.1:%d", 5000+i), fmt.Sprintf("10.88.1.1:%d", 40000+i))
	}
	bind("10.88.2.1:53", "")     // not a VIP
	bind("0.0.0.0:55", "")       // wildcard: not bound to a VIP
	socks = socks[:len(socks)-2] // neither is listed

	var want []wire.Entry
	for _, so := range socks {
		want = append(want, so.entry)
	}
	s.expectListing(t, want)

	// Close every other socket: the next answer lists the rest only.
	want = want[:0]
	for i, so := range socks {
		if i%2 == 0 {
			so.conn.Close()
			continue
		}
		want = append(want, so.entry)
	}
	s.expectListing(t, want)
}

func TestGatewayState(t *testing.T) {
	for _, c := range []struct {
		proto  sockdiag.Protocol
		state  sockdiag.State
		want   wire.State
		listed bool
	}{
		{sockdiag.TCP, sockdiag.StateEstablished, wire.StateActive, true},
		{sockdiag.TCP, sockdiag.StateSynRecv, wire.StateActive, true},
		{sockdiag.TCP, sockdiag.StateFinWait1, wire.StateFIN, true},
		{sockdiag.TCP, sockdiag.StateFinWait2, wire.StateFIN, true},
		{sockdiag.TCP, sockdiag.StateCloseWait, wire.StateFIN, true},
		{sockdiag.TCP, sockdiag.StateLastAck, wire.StateFIN, true},
		{sockdiag.TCP, sockdiag.StateClosing, wire.StateFIN, true},
		{sockdiag.TCP, sockdiag.StateTimeWait, 0, false},
		{sockdiag.TCP, sockdiag.StateClose, 0, false},
		{sockdiag.TCP, sockdiag.StateListen, 0, false},
		{sockdiag.TCP, sockdiag.StateSynSent, 0, false},
		{sockdiag.UDP, sockdiag.StateEstablished, wire.StateActive, true},
		{sockdiag.UDP, sockdiag.StateClose, wire.StateActive, true},
	} {
		got, listed := GatewayState(c.proto, c.state)
		if listed != c.listed || (listed && got != c.want) {
			t.Errorf("%s %s: %v %v, want %v %v", c.proto, c.state, got, listed, c.want, c.listed)
		}
		if listed != (c.proto == sockdiag.TCP && listedTCPStates.Has(c.state) || c.proto == sockdiag.UDP && listedUDPStates.Has(c.state)) {
			t.Errorf("%s %s: GatewayState and the dump's state set disagree", c.proto, c.state)
		}
	}
}
