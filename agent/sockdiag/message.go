package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Netlink framing (include/uapi/linux/netlink.h). Netlink headers are in host
// byte order; the inet_diag socket id holds ports and addresses in network
// byte order.
const (
	nlmsgHeaderLen = 16
	nlmsgAlign     = 4

	nlmsgNoop  = 0x1
	nlmsgError = 0x2
	nlmsgDone  = 0x3

	nlmFRequest  = 0x1
	nlmFDump     = 0x300
	nlmFDumpIntr = 0x10

	nlattrHeaderLen = 4
)

// inet_diag (include/uapi/linux/inet_diag.h).
const (
	inetDiagReqV2Len = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg

	inetDiagReqBytecode = 1 // INET_DIAG_REQ_BYTECODE attribute

	bcOpLen    = 4 // struct inet_diag_bc_op {u8 code; u8 yes; u16 no}
	bcJmp      = 1 // INET_DIAG_BC_JMP
	bcSrcCond  = 7 // INET_DIAG_BC_S_COND: local address (and port) match
	hostcondHd = 8 // struct inet_diag_hostcond {u8 family; u8 prefix_len; int port}
)

// maxBytecodeLen keeps the bytecode within a netlink attribute (16-bit
// length) and the kernel's jump offsets (16-bit "no").
const maxBytecodeLen = 0xfff0

// nlMsg is a view of one netlink message: header followed by payload.
type nlMsg []byte

func (m nlMsg) length() uint32  { return binary.NativeEndian.Uint32(m[0:4]) }
func (m nlMsg) msgType() uint16 { return binary.NativeEndian.Uint16(m[4:6]) }
func (m nlMsg) flags() uint16   { return binary.NativeEndian.Uint16(m[6:8]) }
func (m nlMsg) seq() uint32     { return binary.NativeEndian.Uint32(m[8:12]) }
func (m nlMsg) payload() []byte { return m[nlmsgHeaderLen:m.length()] }

// diagMsg is a view of struct inet_diag_msg (the attributes that may follow
// it are not used).
type diagMsg []byte

func (d diagMsg) family() uint8   { return d[0] }
func (d diagMsg) state() State    { return State(d[1]) }
func (d diagMsg) srcPort() uint16 { return binary.BigEndian.Uint16(d[4:6]) }
func (d diagMsg) dstPort() uint16 { return binary.BigEndian.Uint16(d[6:8]) }
func (d diagMsg) srcAddr() []byte { return d[8:24] }
func (d diagMsg) dstAddr() []byte { return d[24:40] }
func (d diagMsg) uid() uint32     { return binary.NativeEndian.Uint32(d[64:68]) }
func (d diagMsg) inode() uint32   { return binary.NativeEndian.Uint32(d[68:72]) }

// socket converts the view; ok is false for a family other than IPv4/IPv6.
func (d diagMsg) socket(proto Protocol) (Socket, bool) {
	local, ok1 := sockAddr(d.family(), d.srcAddr(), d.srcPort())
	remote, ok2 := sockAddr(d.family(), d.dstAddr(), d.dstPort())
	if !ok1 || !ok2 {
		return Socket{}, false
	}
	return Socket{
		Protocol: proto,
		State:    d.state(),
		Local:    local,
		Remote:   remote,
		UID:      d.uid(),
		Inode:    d.inode(),
	}, true
}

func sockAddr(family uint8, addr []byte, port uint16) (netip.AddrPort, bool) {
	switch family {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[:4])), port), true
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[:16])).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

// ErrDumpInterrupted reports a dump the kernel flagged as inconsistent
// (NLM_F_DUMP_INTR): the socket tables changed under it; try again.
var ErrDumpInterrupted = errors.New("sock_diag dump interrupted by concurrent changes")

// parseDump walks the netlink messages of one received buffer of a dump with
// sequence number seq and calls fn for every socket. Messages of another
// sequence number (left over from an earlier, abandoned dump) are skipped.
// done is true once the dump's NLMSG_DONE has been seen.
func parseDump(buf []byte, seq uint32, proto Protocol, fn func(Socket)) (done bool, err error) {
	for len(buf) > 0 {
		if len(buf) < nlmsgHeaderLen {
			return false, fmt.Errorf("netlink: %d trailing bytes, shorter than a message header", len(buf))
		}
		m := nlMsg(buf)
		n := m.length()
		if n < nlmsgHeaderLen || uint64(n) > uint64(len(buf)) {
			return false, fmt.Errorf("netlink: message length %d outside [%d, %d]", n, nlmsgHeaderLen, len(buf))
		}
		next := int(alignUp(n))
		if next > len(buf) {
			next = len(buf)
		}
		if m.seq() != seq {
			buf = buf[next:]
			continue
		}
		if m.flags()&nlmFDumpIntr != 0 {
			err = ErrDumpInterrupted
		}
		switch m.msgType() {
		case nlmsgDone:
			// Since Linux 4.x the DONE of a dump carries the dump's status.
			if p := m.payload(); len(p) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(p)); errno < 0 {
					return true, fmt.Errorf("sock_diag dump: %w", syscall.Errno(-errno))
				}
			}
			return true, err
		case nlmsgError:
			p := m.payload()
			if len(p) < 4 {
				return false, fmt.Errorf("netlink: error message with %d-byte payload", len(p))
			}
			errno := int32(binary.NativeEndian.Uint32(p))
			if errno == 0 {
				// An acknowledgement; dumps do not ask for one.
				break
			}
			if errno < 0 {
				errno = -errno
			}
			return true, fmt.Errorf("sock_diag request: %w", syscall.Errno(errno))
		case nlmsgNoop:
		case unix.SOCK_DIAG_BY_FAMILY:
			p := m.payload()
			if len(p) < inetDiagMsgLen {
				return false, fmt.Errorf("sock_diag: %d-byte reply, shorter than inet_diag_msg (%d)", len(p), inetDiagMsgLen)
			}
			s, ok := diagMsg(p).socket(proto)
			if !ok {
				return false, fmt.Errorf("sock_diag: reply for address family %d", diagMsg(p).family())
			}
			fn(s)
		default:
			return false, fmt.Errorf("netlink: unexpected message type %d in a sock_diag dump", m.msgType())
		}
		buf = buf[next:]
	}
	return false, err
}

func alignUp(n uint32) uint32 { return (n + nlmsgAlign - 1) &^ (nlmsgAlign - 1) }

// dumpRequest encodes the netlink request for a dump of f with sequence
// number seq: nlmsghdr, inet_diag_req_v2 and, when f has local addresses for
// its family, an INET_DIAG_REQ_BYTECODE attribute. ok is false when f's
// addresses exclude every socket of the family, so no request is needed.
func dumpRequest(f Filter, seq uint32) (msg []byte, ok bool, err error) {
	if f.Family != unix.AF_INET && f.Family != unix.AF_INET6 {
		return nil, false, fmt.Errorf("sock_diag: address family %d is neither AF_INET nor AF_INET6", f.Family)
	}
	if f.Protocol != TCP && f.Protocol != UDP {
		return nil, false, fmt.Errorf("sock_diag: protocol %d is neither TCP nor UDP", f.Protocol)
	}
	var bytecode []byte
	if len(f.LocalAddrs) > 0 {
		bytecode, err = localAddrBytecode(f.Family, f.LocalAddrs)
		if err != nil {
			return nil, false, err
		}
		if bytecode == nil {
			return nil, false, nil
		}
	}
	total := nlmsgHeaderLen + inetDiagReqV2Len
	if bytecode != nil {
		total += nlattrHeaderLen + len(bytecode) // bytecode length is a multiple of 4
	}
	msg = make([]byte, total)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(total))
	binary.NativeEndian.PutUint16(msg[4:6], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(msg[6:8], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	// msg[12:16], the port id, stays 0: the kernel fills in ours.
	req := msg[nlmsgHeaderLen:]
	req[0] = f.Family
	req[1] = uint8(f.Protocol)
	// req[2] idiag_ext = 0: no extensions, only inet_diag_msg.
	binary.NativeEndian.PutUint32(req[4:8], uint32(f.States))
	// req[8:56], the socket id, stays zero: a dump ignores it.
	if bytecode != nil {
		attr := req[inetDiagReqV2Len:]
		binary.NativeEndian.PutUint16(attr[0:2], uint16(nlattrHeaderLen+len(bytecode)))
		binary.NativeEndian.PutUint16(attr[2:4], inetDiagReqBytecode)
		copy(attr[nlattrHeaderLen:], bytecode)
	}
	return msg, true, nil
}

// localAddrBytecode compiles "local address is one of addrs" for a dump of
// family into inet_diag bytecode, in the shape ss(8) gives an OR of
// conditions, which is what the kernel's bytecode audit walks:
//
//	cond1 (yes: next op, no: skip the JMP)  JMP (to the end: accept)
//	cond2 ...                               JMP
//	condN (yes: the end = accept, no: past the end = reject)
//
// A socket is accepted when the program ends exactly at its length and
// rejected when a jump lands beyond it. The result is nil when no address
// belongs to the family: an AF_INET dump can match only IPv4 addresses, an
// AF_INET6 dump both IPv6 ones and IPv4 ones (v4-mapped dual-stack sockets,
// which the kernel matches against an AF_INET condition).
func localAddrBytecode(family uint8, addrs []netip.Addr) ([]byte, error) {
	var conds [][]byte
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case a.Is4():
			conds = append(conds, hostCond(unix.AF_INET, a))
		case a.Is6() && family == unix.AF_INET6:
			conds = append(conds, hostCond(unix.AF_INET6, a))
		case !a.IsValid():
			return nil, errors.New("sock_diag: invalid local address in filter")
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	total := 0
	for _, c := range conds {
		total += len(c) + bcOpLen
	}
	total -= bcOpLen // no JMP after the last condition
	if total > maxBytecodeLen {
		return nil, fmt.Errorf("sock_diag: %d local addresses need %d bytes of bytecode, more than %d", len(addrs), total, maxBytecodeLen)
	}
	code := make([]byte, 0, total)
	for i, c := range conds {
		size := len(c)
		putOp(c, bcSrcCond, size, size+bcOpLen)
		code = append(code, c...)
		if i < len(conds)-1 {
			rest := total - len(code) - bcOpLen // bytes after the JMP
			code = append(code, make([]byte, bcOpLen)...)
			putOp(code[len(code)-bcOpLen:], bcJmp, bcOpLen, rest+bcOpLen)
		}
	}
	return code, nil
}

// hostCond encodes an S_COND operation (op header left for putOp) matching
// local address a exactly, any port.
func hostCond(family uint8, a netip.Addr) []byte {
	raw := a.AsSlice()
	c := make([]byte, bcOpLen+hostcondHd+len(raw))
	hc := c[bcOpLen:]
	hc[0] = family
	hc[1] = uint8(8 * len(raw))                        // prefix length: the whole address
	binary.NativeEndian.PutUint32(hc[4:8], 0xffffffff) // port -1: any
	copy(hc[hostcondHd:], raw)
	return c
}

func putOp(b []byte, code uint8, yes, no int) {
	b[0] = code
	b[1] = uint8(yes)
	binary.NativeEndian.PutUint16(b[2:4], uint16(no))
}
