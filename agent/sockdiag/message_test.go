package sockdiag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The two functions below transcribe the kernel's inet_diag_bc_audit and
// inet_diag_bc_run (net/ipv4/inet_diag.c) for the operations we emit, so the
// bytecode is checked against the kernel's own rules, not against itself.

func auditBytecode(bc []byte) bool {
	validCC := func(cc int) bool {
		pos, n := 0, len(bc)
		for n >= 0 {
			if cc > n {
				return false
			}
			if cc == n {
				return true
			}
			yes := int(bc[pos+1])
			if yes < 4 || yes&3 != 0 {
				return false
			}
			n -= yes
			pos += yes
		}
		return false
	}
	pos, n := 0, len(bc)
	for n > 0 {
		if n < bcOpLen {
			return false
		}
		code, yes, no := bc[pos], int(bc[pos+1]), int(binary.NativeEndian.Uint16(bc[pos+2:]))
		minLen := bcOpLen
		switch code {
		case bcSrcCond:
			if n < bcOpLen+hostcondHd {
				return false
			}
			hc := bc[pos+bcOpLen:]
			addrLen := 0
			switch hc[0] {
			case unix.AF_INET:
				addrLen = 4
			case unix.AF_INET6:
				addrLen = 16
			default:
				return false
			}
			minLen += hostcondHd + addrLen
			if n < minLen || int(hc[1]) > 8*addrLen {
				return false
			}
		case bcJmp:
		default:
			return false
		}
		if no < minLen || no > n+4 || no&3 != 0 {
			return false
		}
		if no < n && !validCC(n-no) {
			return false
		}
		if yes < minLen || yes > n+4 || yes&3 != 0 {
			return false
		}
		pos += yes
		n -= yes
	}
	return n == 0
}

func runBytecode(bc []byte, family uint8, local netip.Addr) bool {
	pos, n := 0, len(bc)
	for n > 0 {
		code, yes, no := bc[pos], int(bc[pos+1]), int(binary.NativeEndian.Uint16(bc[pos+2:]))
		match := true
		switch code {
		case bcJmp:
			match = false
		case bcSrcCond:
			hc := bc[pos+bcOpLen:]
			condFamily, prefix := hc[0], int(hc[1])
			addr := local
			if family == unix.AF_INET6 && condFamily == unix.AF_INET && local.Is4In6() {
				addr = local.Unmap()
			} else if condFamily != family {
				match = false
				break
			}
			raw := addr.AsSlice()
			want := hc[hostcondHd : hostcondHd+len(raw)]
			match = prefix == 8*len(raw) && slices.Equal(raw, want)
		}
		if match {
			pos, n = pos+yes, n-yes
		} else {
			pos, n = pos+no, n-no
		}
	}
	return n == 0
}

func TestLocalAddrBytecode(t *testing.T) {
	v4a, v4b, v4c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	v6a := netip.MustParseAddr("2001:db8::1")
	other := netip.MustParseAddr("10.0.0.9")
	otherV6 := netip.MustParseAddr("2001:db8::9")
	mapped := func(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

	cases := []struct {
		name   string
		family uint8
		addrs  []netip.Addr
		accept []netip.Addr
		reject []netip.Addr
	}{
		{"one v4", unix.AF_INET, []netip.Addr{v4a}, []netip.Addr{v4a}, []netip.Addr{other}},
		{"three v4", unix.AF_INET, []netip.Addr{v4a, v4b, v4c}, []netip.Addr{v4a, v4b, v4c}, []netip.Addr{other}},
		{"v6 dump, v4 and v6", unix.AF_INET6, []netip.Addr{v4a, v6a},
			[]netip.Addr{mapped(v4a), v6a}, []netip.Addr{mapped(other), otherV6}},
		{"v6 dump, v4 only", unix.AF_INET6, []netip.Addr{v4a, v4b},
			[]netip.Addr{mapped(v4a), mapped(v4b)}, []netip.Addr{mapped(other), otherV6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bc, err := localAddrBytecode(c.family, c.addrs)
			if err != nil {
				t.Fatal(err)
			}
			if !auditBytecode(bc) {
				t.Fatalf("kernel audit rejects bytecode % x", bc)
			}
			for _, a := range c.accept {
				if !runBytecode(bc, c.family, a) {
					t.Errorf("%s rejected, want accepted", a)
				}
			}
			for _, a := range c.reject {
				if runBytecode(bc, c.family, a) {
					t.Errorf("%s accepted, want rejected", a)
				}
			}
		})
	}
}

func TestLocalAddrBytecodeFamilyMismatch(t *testing.T) {
	bc, err := localAddrBytecode(unix.AF_INET, []netip.Addr{netip.MustParseAddr("2001:db8::1")})
	if err != nil || bc != nil {
		t.Fatalf("IPv6 address in an AF_INET dump: got %x, %v; want nil, nil", bc, err)
	}
	_, ok, err := dumpRequest(Filter{Protocol: TCP, Family: unix.AF_INET, LocalAddrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, 1)
	if err != nil || ok {
		t.Fatalf("dumpRequest: ok=%v err=%v, want no request", ok, err)
	}
}

func TestLocalAddrBytecodeTooMany(t *testing.T) {
	addrs := make([]netip.Addr, 5000)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	if _, err := localAddrBytecode(unix.AF_INET, addrs); err == nil {
		t.Fatal("5000 addresses accepted, want an error")
	}
}

func TestDumpRequestLayout(t *testing.T) {
	f := Filter{Protocol: UDP, Family: unix.AF_INET6, States: States(StateEstablished, StateClose),
		LocalAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}
	msg, ok, err := dumpRequest(f, 77)
	if err != nil || !ok {
		t.Fatalf("dumpRequest: %v %v", ok, err)
	}
	m := nlMsg(msg)
	if int(m.length()) != len(msg) || m.msgType() != unix.SOCK_DIAG_BY_FAMILY || m.flags() != nlmFRequest|nlmFDump || m.seq() != 77 {
		t.Fatalf("header: len %d/%d type %d flags %#x seq %d", m.length(), len(msg), m.msgType(), m.flags(), m.seq())
	}
	req := m.payload()
	if req[0] != unix.AF_INET6 || req[1] != unix.IPPROTO_UDP {
		t.Fatalf("family/protocol %d/%d", req[0], req[1])
	}
	if got := binary.NativeEndian.Uint32(req[4:8]); got != 1<<1|1<<7 {
		t.Fatalf("states %#x", got)
	}
	attr := req[inetDiagReqV2Len:]
	if binary.NativeEndian.Uint16(attr[2:4]) != inetDiagReqBytecode || int(binary.NativeEndian.Uint16(attr[0:2])) != len(attr) {
		t.Fatalf("attribute header % x, %d bytes follow", attr[:4], len(attr))
	}
	if !auditBytecode(attr[nlattrHeaderLen:]) {
		t.Fatal("bytecode fails the audit")
	}
}

// diagReply builds one SOCK_DIAG_BY_FAMILY message as the kernel sends it.
func diagReply(seq uint32, family uint8, state State, local, remote netip.AddrPort, inode uint32) []byte {
	n := nlmsgHeaderLen + inetDiagMsgLen + 8 // plus one attribute the parser skips
	b := make([]byte, n)
	binary.NativeEndian.PutUint32(b[0:4], uint32(n))
	binary.NativeEndian.PutUint16(b[4:6], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(b[6:8], 0x2) // NLM_F_MULTI
	binary.NativeEndian.PutUint32(b[8:12], seq)
	d := b[nlmsgHeaderLen:]
	d[0], d[1] = family, uint8(state)
	binary.BigEndian.PutUint16(d[4:6], local.Port())
	binary.BigEndian.PutUint16(d[6:8], remote.Port())
	put := func(dst []byte, a netip.Addr) {
		if family == unix.AF_INET {
			a4 := a.As4()
			copy(dst, a4[:])
		} else {
			a16 := a.As16()
			copy(dst, a16[:])
		}
	}
	put(d[8:24], local.Addr())
	put(d[24:40], remote.Addr())
	binary.NativeEndian.PutUint32(d[64:68], 1000)
	binary.NativeEndian.PutUint32(d[68:72], inode)
	return b
}

func control(seq uint32, typ uint16, status int32) []byte {
	b := make([]byte, nlmsgHeaderLen+4)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	binary.NativeEndian.PutUint32(b[16:20], uint32(status))
	return b
}

func TestParseDump(t *testing.T) {
	vip := netip.MustParseAddrPort("10.0.0.1:80")
	c1 := netip.MustParseAddrPort("192.0.2.7:40001")
	v6local := netip.MustParseAddrPort("[2001:db8::1]:443")
	v6remote := netip.MustParseAddrPort("[2001:db8::77]:50000")
	mappedLocal := netip.AddrPortFrom(netip.AddrFrom16(vip.Addr().As16()), 8080)
	mappedRemote := netip.AddrPortFrom(netip.AddrFrom16(c1.Addr().As16()), 40002)

	var buf []byte
	buf = append(buf, diagReply(5, unix.AF_INET, StateEstablished, vip, c1, 11)...)
	buf = append(buf, diagReply(4, unix.AF_INET, StateEstablished, vip, c1, 99)...) // stale dump: skipped
	buf = append(buf, diagReply(5, unix.AF_INET6, StateCloseWait, v6local, v6remote, 12)...)
	buf = append(buf, diagReply(5, unix.AF_INET6, StateFinWait2, mappedLocal, mappedRemote, 13)...)
	buf = append(buf, control(5, nlmsgDone, 0)...)

	var got []Socket
	done, err := parseDump(buf, 5, TCP, func(s Socket) { got = append(got, s) })
	if err != nil || !done {
		t.Fatalf("parseDump: done=%v err=%v", done, err)
	}
	want := []Socket{
		{Protocol: TCP, State: StateEstablished, Local: vip, Remote: c1, UID: 1000, Inode: 11},
		{Protocol: TCP, State: StateCloseWait, Local: v6local, Remote: v6remote, UID: 1000, Inode: 12},
		{Protocol: TCP, State: StateFinWait2, Local: netip.MustParseAddrPort("10.0.0.1:8080"),
			Remote: netip.MustParseAddrPort("192.0.2.7:40002"), UID: 1000, Inode: 13},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseDumpErrors(t *testing.T) {
	vip := netip.MustParseAddrPort("10.0.0.1:80")
	ok := diagReply(1, unix.AF_INET, StateEstablished, vip, vip, 1)
	shortDiag := append([]byte(nil), ok[:nlmsgHeaderLen+40]...)
	binary.NativeEndian.PutUint32(shortDiag[0:4], uint32(len(shortDiag)))
	badFamily := append([]byte(nil), ok...)
	badFamily[nlmsgHeaderLen] = unix.AF_UNIX
	longLen := append([]byte(nil), ok...)
	binary.NativeEndian.PutUint32(longLen[0:4], uint32(len(ok)+4))

	cases := []struct {
		name  string
		buf   []byte
		errno syscall.Errno
		done  bool
	}{
		{"truncated header", ok[:10], 0, false},
		{"length beyond buffer", longLen, 0, false},
		{"short inet_diag_msg", shortDiag, 0, false},
		{"unknown family", badFamily, 0, false},
		{"netlink error", control(1, nlmsgError, -int32(unix.EINVAL)), unix.EINVAL, true},
		{"dump status in DONE", control(1, nlmsgDone, -int32(unix.ENOBUFS)), unix.ENOBUFS, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done, err := parseDump(c.buf, 1, TCP, func(Socket) {})
			if err == nil {
				t.Fatal("no error")
			}
			if done != c.done {
				t.Errorf("done = %v, want %v", done, c.done)
			}
			if c.errno != 0 && !errors.Is(err, c.errno) {
				t.Errorf("error %v is not %v", err, c.errno)
			}
		})
	}
}

func TestStateSet(t *testing.T) {
	set := States(StateEstablished, StateSynRecv)
	if !set.Has(StateEstablished) || !set.Has(StateSynRecv) || set.Has(StateListen) || set.Has(State(40)) {
		t.Fatalf("set %#x", set)
	}
	if StateCloseWait.String() != "CLOSE-WAIT" || State(99).String() != "state(99)" {
		t.Fatal("state names")
	}
}
