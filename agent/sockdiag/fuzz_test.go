package sockdiag

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseDump feeds arbitrary receive buffers to the netlink parser: it
// must never panic, never read past a message, and report only IPv4/IPv6
// sockets with unmapped addresses. A buffer made of one well-formed reply
// built from the input must come back unchanged.
func FuzzParseDump(f *testing.F) {
	vip := netip.MustParseAddrPort("10.0.0.1:80")
	client := netip.MustParseAddrPort("192.0.2.1:40000")
	f.Add(diagReply(1, unix.AF_INET, StateEstablished, vip, client, 7))
	f.Add(append(diagReply(1, unix.AF_INET6, StateFinWait1,
		netip.MustParseAddrPort("[2001:db8::1]:443"), netip.MustParseAddrPort("[2001:db8::2]:1"), 8),
		control(1, nlmsgDone, 0)...))
	f.Add(control(1, nlmsgError, -int32(unix.EPERM)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, buf []byte) {
		n := 0
		_, _ = parseDump(buf, 1, TCP, func(s Socket) {
			n++
			for _, ap := range []netip.AddrPort{s.Local, s.Remote} {
				if !ap.Addr().IsValid() || ap.Addr().Is4In6() {
					t.Fatalf("socket address %v is invalid or v4-mapped", ap)
				}
			}
		})
		if max := len(buf) / (nlmsgHeaderLen + inetDiagMsgLen); n > max {
			t.Fatalf("%d sockets from %d bytes", n, len(buf))
		}

		// Round trip: interpret the input as the fields of one reply.
		if len(buf) < 1+2+2+16+16+4 {
			return
		}
		family := uint8(unix.AF_INET)
		if buf[0]&1 == 1 {
			family = unix.AF_INET6
		}
		state := State(buf[0] >> 1 & 0x0f)
		lport, rport := binary.BigEndian.Uint16(buf[1:3]), binary.BigEndian.Uint16(buf[3:5])
		laddr := netip.AddrFrom16([16]byte(buf[5:21]))
		raddr := netip.AddrFrom16([16]byte(buf[21:37]))
		if family == unix.AF_INET {
			laddr = netip.AddrFrom4([4]byte(buf[5:9]))
			raddr = netip.AddrFrom4([4]byte(buf[21:25]))
		}
		inode := binary.NativeEndian.Uint32(buf[37:41])
		local, remote := netip.AddrPortFrom(laddr, lport), netip.AddrPortFrom(raddr, rport)
		var got []Socket
		done, err := parseDump(append(diagReply(9, family, state, local, remote, inode), control(9, nlmsgDone, 0)...),
			9, UDP, func(s Socket) { got = append(got, s) })
		if err != nil || !done || len(got) != 1 {
			t.Fatalf("well-formed reply: done=%v err=%v sockets=%d", done, err, len(got))
		}
		want := Socket{Protocol: UDP, State: state, UID: 1000, Inode: inode,
			Local:  netip.AddrPortFrom(laddr.Unmap(), lport),
			Remote: netip.AddrPortFrom(raddr.Unmap(), rport)}
		if got[0] != want {
			t.Fatalf("round trip: got %+v, want %+v", got[0], want)
		}
	})
}
