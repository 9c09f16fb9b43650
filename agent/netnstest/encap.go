package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Link connects ns to peer by a veth pair whose ends are both named dev,
// gives ns's end addr and peer's end peerAddr (prefixes such as
// "192.0.2.1/24") and sets both up.
func (ns *NS) Link(t testing.TB, peer *NS, dev, addr, peerAddr string) {
	t.Helper()
	ns.IP(t, "link", "add", dev, "type", "veth", "peer", "name", dev, "netns", peer.Name)
	ns.IP(t, "addr", "add", addr, "dev", dev)
	peer.IP(t, "addr", "add", peerAddr, "dev", dev)
	ns.IP(t, "link", "set", dev, "up")
	peer.IP(t, "link", "set", dev, "up")
}

// EchoUDP serves addr (IPv4) inside the namespace until the test ends,
// answering each datagram with "echo " and the datagram.
func (ns *NS) EchoUDP(t testing.TB, addr netip.AddrPort) {
	t.Helper()
	var service net.PacketConn
	if err := ns.Do(func() (err error) { service, err = net.ListenPacket("udp4", addr.String()); return err }); err != nil {
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
}

// EncapClient is a client that sends IPv4 packets to a server encapsulated,
// in IPIP or GUE, and reads the answers, which come back unencapsulated
// (direct server return), on a UDP socket of its own.
type EncapClient struct {
	// From is the reply socket's address: the source the inner packets
	// give for the answers to reach it.
	From    netip.AddrPort
	replies *net.UDPConn
	gue     *net.UDPConn
	ipip    int
	server  netip.Addr
}

// EncapClient opens, inside ns, a client at local (IPv4) of server, whose
// GUE port is guePort. The sockets are closed when the test ends.
func (ns *NS) EncapClient(t testing.TB, local, server netip.Addr, guePort uint16) *EncapClient {
	t.Helper()
	c := &EncapClient{server: server}
	if err := ns.Do(func() (err error) {
		if c.replies, err = net.ListenUDP("udp4", &net.UDPAddr{IP: local.AsSlice()}); err != nil {
			return err
		}
		if c.gue, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: server.AsSlice(), Port: int(guePort)}); err != nil {
			return err
		}
		c.ipip, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.replies.Close(); c.gue.Close(); unix.Close(c.ipip) })
	c.From = netip.AddrPortFrom(local, uint16(c.replies.LocalAddr().(*net.UDPAddr).Port))
	return c
}

// SendIPIP sends inner, an IPv4 packet, in IPIP: the kernel writes the
// outer header (protocol 4, the socket's).
func (c *EncapClient) SendIPIP(inner []byte) error {
	return unix.Sendto(c.ipip, inner, 0, &unix.SockaddrInet4{Addr: c.server.As4()})
}

// SendGUE sends payload, whatever the test puts after the UDP header, to
// the server's GUE port.
func (c *EncapClient) SendGUE(payload []byte) error {
	_, err := c.gue.Write(payload)
	return err
}

// ReadEcho waits up to 5 s for an answer and returns an error unless it is
// "echo "+msg from vip (as EchoUDP answers).
func (c *EncapClient) ReadEcho(vip netip.AddrPort, msg string) error {
	buf := make([]byte, 1500)
	c.replies.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := c.replies.ReadFromUDPAddrPort(buf)
	if err != nil {
		return fmt.Errorf("no answer from the VIP: %w", err)
	}
	if src != vip || string(buf[:n]) != "echo "+msg {
		return fmt.Errorf("got %q from %v, want %q from %v", buf[:n], src, "echo "+msg, vip)
	}
	return nil
}
