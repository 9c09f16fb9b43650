package main

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"vec/e2e/traffic"
)

// echoServer answers each datagram from the address it was sent to. A socket
// bound to the wildcard would otherwise reply from whatever source the route
// to the client picks (the server's own address), and under DSR the client
// expects the VIP; IP_PKTINFO reports the destination of every datagram and
// sets the source of the reply.
type echoServer struct {
	conn *net.UDPConn
}

func listenEcho(addr string) (*echoServer, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("udp address %q: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp raw conn: %w", err)
	}
	var sockErr error
	if err := rc.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
	}); err != nil || sockErr != nil {
		conn.Close()
		return nil, fmt.Errorf("set IP_PKTINFO: %v %v", err, sockErr)
	}
	return &echoServer{conn: conn}, nil
}

func (e *echoServer) Close() error { return e.conn.Close() }

func (e *echoServer) serve(name string) error {
	buf := make([]byte, 65536)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	for {
		n, oobn, _, from, err := e.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return err
		}
		var replyOOB []byte
		if dst, ok := pktinfoDst(oob[:oobn]); ok {
			replyOOB = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: dst.As4()})
		}
		// A failed send (client gone, buffer full) loses one echo, which the
		// client counts; the service goes on.
		_, _, _ = e.conn.WriteMsgUDPAddrPort(traffic.UDPReply(name, buf[:n]), replyOOB, from)
	}
}

// pktinfoDst returns the header destination address from an IP_PKTINFO
// control message.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.IPPROTO_IP || m.Header.Type != unix.IP_PKTINFO || len(m.Data) < unix.SizeofInet4Pktinfo {
			continue
		}
		// struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }
		return netip.AddrFrom4([4]byte(m.Data[8:12])), true
	}
	return netip.Addr{}, false
}
