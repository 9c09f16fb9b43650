package sockdiag

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// recvBufferLen holds the largest dump part the kernel sends: netlink dump
// buffers are at most 32 KiB plus overhead; MSG_TRUNC catches anything
// larger.
const recvBufferLen = 64 << 10

// recvTimeout bounds a receive, so a kernel that never finishes a dump (it
// does not happen) cannot block a caller forever.
const recvTimeout = 5 * time.Second

// socketRecvBuffer is the SO_RCVBUF asked for (unprivileged, so capped by
// net.core.rmem_max); dumps are flow-controlled by our reads, so this only
// saves a few wake-ups.
const socketRecvBuffer = 1 << 20

// ErrClosed is returned by a Dump on a closed Conn.
var ErrClosed = errors.New("sock_diag: connection closed")

// Conn is a netlink sock_diag socket in the network namespace of the thread
// that opened it. Dumps are serialised: a netlink socket runs one dump at a
// time.
type Conn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
	// broken is set when a dump could not be read to its end: the kernel
	// would refuse the next dump on this socket (EBUSY), so the next Dump
	// replaces the socket first.
	broken bool
}

// Open opens a sock_diag socket in the calling thread's network namespace.
func Open() (*Conn, error) {
	fd, err := openSocket()
	if err != nil {
		return nil, err
	}
	return &Conn{fd: fd, buf: make([]byte, recvBufferLen)}, nil
}

func openSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("sock_diag: open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock_diag: bind netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock_diag: set receive timeout: %w", err)
	}
	// Best effort: a smaller buffer only costs a few more wake-ups.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketRecvBuffer)
	return fd, nil
}

// Close releases the socket. It waits for a dump in progress.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	if err != nil {
		return fmt.Errorf("sock_diag: close: %w", err)
	}
	return nil
}

// Dump asks the kernel for the sockets f selects and calls fn for each, in
// the kernel's order, with the Conn locked (fn must not call the Conn).
//
// After a dump that could not be read to its end, the next Dump opens a new
// socket, in the network namespace of the calling thread: the agent's
// threads all share the process's, but a Conn opened in another namespace
// by a test would not get back there.
func (c *Conn) Dump(f Filter, fn func(Socket)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return ErrClosed
	}
	if c.broken {
		fd, err := openSocket()
		if err != nil {
			return fmt.Errorf("sock_diag: replace the socket of an unfinished dump: %w", err)
		}
		unix.Close(c.fd)
		c.fd, c.broken = fd, false
	}
	c.seq++
	req, ok, err := dumpRequest(f, c.seq)
	if err != nil || !ok {
		return err
	}
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag: send %s dump request: %w", f.Protocol, err)
	}
	var dumpErr error
	emit := fn
	for {
		n, from, err := unix.Recvfrom(c.fd, c.buf, unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.broken = true
			return fmt.Errorf("sock_diag: receive %s dump: %w", f.Protocol, err)
		}
		// Any process may send a unicast datagram to our port id; only the
		// kernel (port id 0) is believed.
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue
		}
		if n > len(c.buf) {
			// The rest of the dump is still readable; drain it so the socket
			// stays usable.
			dumpErr = fmt.Errorf("sock_diag: %d-byte dump part exceeds the %d-byte buffer", n, len(c.buf))
			emit = func(Socket) {}
			continue
		}
		done, err := parseDump(c.buf[:n], c.seq, f.Protocol, emit)
		if err != nil && dumpErr == nil {
			dumpErr = fmt.Errorf("sock_diag: %s dump: %w", f.Protocol, err)
			emit = func(Socket) {}
		}
		if done {
			return dumpErr
		}
	}
}
