package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"vec/e2e/traffic"
)

// echoServer answers each datagram from the address it was sent to. A socket
// bound to the wildcard would otherwise reply from whatever source the route
// to the client picks (the server's own address), and under DSR the client
// expects the VIP; IP_PKTINFO (IPV6_PKTINFO for IPv6) reports the
// destination of every datagram and sets the source of the reply.
//
// It holds one socket per address family it serves: an address without a
// host (":5353") gets an IPv4 and an IPv6 socket on the same port, an
// address with one only the socket of its family.
type echoServer struct {
	sockets []*echoSocket
}

// echoSocket is one UDP socket of the echo, of one family.
type echoSocket struct {
	conn *net.UDPConn
	ipv6 bool
}

func listenEcho(addr string) (*echoServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("udp address %q: %w", addr, err)
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udp address %q: %w", addr, err)
	}
	if host != "" {
		s, err := listenEchoSocket(netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), uint16(ua.Port)))
		if err != nil {
			return nil, err
		}
		return &echoServer{sockets: []*echoSocket{s}}, nil
	}
	v4, err := listenEchoSocket(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(ua.Port)))
	if err != nil {
		return nil, err
	}
	// The IPv6 socket takes the port the IPv4 one got (the same unless
	// it was 0, as in tests).
	port := v4.conn.LocalAddr().(*net.UDPAddr).Port
	v6, err := listenEchoSocket(netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)))
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		// A kernel without IPv6: the echo serves IPv4 as it always did.
		return &echoServer{sockets: []*echoSocket{v4}}, nil
	}
	if err != nil {
		v4.conn.Close()
		return nil, err
	}
	return &echoServer{sockets: []*echoSocket{v4, v6}}, nil
}

// listenEchoSocket binds addr, "udp4" or "udp6" after its family (a "udp6"
// socket is IPv6 only), and asks for the destination of every datagram.
func listenEchoSocket(addr netip.AddrPort) (*echoSocket, error) {
	ipv6 := addr.Addr().Is6()
	network, level, opt, optName := "udp4", unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO"
	if ipv6 {
		network, level, opt, optName = "udp6", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", network, addr, err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp raw conn: %w", err)
	}
	var sockErr error
	if err := rc.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), level, opt, 1)
	}); err != nil || sockErr != nil {
		conn.Close()
		return nil, fmt.Errorf("set %s: %v %v", optName, err, sockErr)
	}
	return &echoSocket{conn: conn, ipv6: ipv6}, nil
}

// Close closes every socket.
func (e *echoServer) Close() error {
	var errs []error
	for _, s := range e.sockets {
		errs = append(errs, s.conn.Close())
	}
	return errors.Join(errs...)
}

// String lists the bound addresses, for the log.
func (e *echoServer) String() string {
	addrs := make([]string, len(e.sockets))
	for i, s := range e.sockets {
		addrs[i] = s.conn.LocalAddr().String()
	}
	return strings.Join(addrs, ",")
}

// serve echoes on every socket until one fails or all are closed, and
// returns the first error.
func (e *echoServer) serve(name string) error {
	errc := make(chan error, len(e.sockets))
	for _, s := range e.sockets {
		go func() { errc <- s.serve(name) }()
	}
	var first error
	for range e.sockets {
		if err := <-errc; first == nil {
			first = err
			// The others stop too: the caller sees one echo, up or down.
			e.Close()
		}
	}
	return first
}

func (s *echoSocket) serve(name string) error {
	buf := make([]byte, 65536)
	oob := make([]byte, unix.CmsgSpace(max(unix.SizeofInet4Pktinfo, unix.SizeofInet6Pktinfo)))
	for {
		n, oobn, _, from, err := s.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return err
		}
		var replyOOB []byte
		if dst, ok := pktinfoDst(oob[:oobn]); ok {
			if s.ipv6 {
				replyOOB = unix.PktInfo6(&unix.Inet6Pktinfo{Addr: dst.As16()})
			} else {
				replyOOB = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: dst.As4()})
			}
		}
		// A failed send (client gone, buffer full) loses one echo, which the
		// client counts; the service goes on.
		_, _, _ = s.conn.WriteMsgUDPAddrPort(traffic.UDPReply(name, buf[:n]), replyOOB, from)
	}
}

// pktinfoDst returns the header destination address from an IP_PKTINFO or
// IPV6_PKTINFO control message.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }
			return netip.AddrFrom4([4]byte(m.Data[8:12])), true
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { struct in6_addr ipi6_addr; int ipi6_ifindex; }
			return netip.AddrFrom16([16]byte(m.Data[0:16])), true
		}
	}
	return netip.Addr{}, false
}
