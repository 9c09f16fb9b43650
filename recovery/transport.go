package recovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Transport carries heartbeat datagrams between the gateways. It moves bytes
// only: the HA machine signs what it sends and checks everything it
// receives (MAC, sender, clock skew, replay), so every transport gets the
// same protection.
type Transport interface {
	// Send sends datagram to every peer. It must not block for long (the
	// machine calls it while heartbeats wait).
	Send(datagram []byte) error
	// Start begins delivering received datagrams to deliver, one call at
	// a time, from a goroutine of the transport's own, until Close.
	// datagram is valid only during the call.
	Start(deliver func(datagram []byte)) error
	// Close stops receiving and returns once the last deliver call has
	// returned.
	Close() error
}

// udpWriteTimeout bounds one datagram's send: a full socket buffer must not
// hold the HA machine.
const udpWriteTimeout = 50 * time.Millisecond

// udpErrorPause is the pause after a failed read.
const udpErrorPause = 10 * time.Millisecond

// UDPTransport is a Transport over a UDP socket bound to this gateway's
// heartbeat address, on the management interface (the data ports belong to
// DPDK; the kernel's stack carries heartbeats).
type UDPTransport struct {
	conn  *net.UDPConn
	peers []netip.AddrPort
	log   *zap.Logger

	mu       sync.Mutex
	started  bool
	closed   bool
	closeErr error
	done     chan struct{} // closed when the receive loop has returned
}

// ListenUDP binds local and returns a transport sending to peers.
func ListenUDP(local netip.AddrPort, peers []netip.AddrPort, log *zap.Logger) (*UDPTransport, error) {
	if !local.IsValid() {
		return nil, errors.New("heartbeat transport: no local address")
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, fmt.Errorf("heartbeat transport: listen on %s: %w", local, err)
	}
	t, err := newUDPTransport(conn, peers, log)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

func newUDPTransport(conn *net.UDPConn, peers []netip.AddrPort, log *zap.Logger) (*UDPTransport, error) {
	if log == nil {
		return nil, errors.New("heartbeat transport: logger is required")
	}
	if len(peers) == 0 {
		return nil, errors.New("heartbeat transport: no peer")
	}
	for _, p := range peers {
		if !p.IsValid() || p.Port() == 0 {
			return nil, fmt.Errorf("heartbeat transport: peer address %v is not ip:port", p)
		}
	}
	return &UDPTransport{conn: conn, peers: append([]netip.AddrPort(nil), peers...), log: log, done: make(chan struct{})}, nil
}

// LocalAddr returns the address the socket is bound to.
func (t *UDPTransport) LocalAddr() netip.AddrPort {
	return t.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Send sends datagram to every peer; the error joins the peers' failures.
func (t *UDPTransport) Send(datagram []byte) error {
	if err := t.conn.SetWriteDeadline(time.Now().Add(udpWriteTimeout)); err != nil {
		return fmt.Errorf("heartbeat transport: %w", err)
	}
	var errs []error
	for _, p := range t.peers {
		if _, err := t.conn.WriteToUDPAddrPort(datagram, p); err != nil {
			errs = append(errs, fmt.Errorf("send heartbeat to %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Start begins the receive loop.
func (t *UDPTransport) Start(deliver func(datagram []byte)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return errors.New("heartbeat transport: closed")
	case t.started:
		return errors.New("heartbeat transport: already started")
	}
	t.started = true
	go t.receive(deliver)
	return nil
}

func (t *UDPTransport) receive(deliver func([]byte)) {
	defer close(t.done)
	// One byte more than the longest heartbeat: a longer datagram arrives
	// truncated yet still too long, and the parser calls it malformed.
	buf := make([]byte, MaxHeartbeatLen+1)
	for {
		n, _, err := t.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (an ICMP error queued on the socket, say)
			// is logged and reading goes on after a pause that keeps a
			// persistent one from spinning; a closed socket ends it.
			t.log.Warn("heartbeat receive failed", zap.Error(err))
			time.Sleep(udpErrorPause)
			continue
		}
		deliver(buf[:n])
	}
}

// Close closes the socket and waits for the receive loop to end.
func (t *UDPTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.closeErr = t.conn.Close()
		if t.started {
			<-t.done
		}
	}
	return t.closeErr
}
