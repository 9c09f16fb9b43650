package sockdiag

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Protocol is an IP protocol number sock_diag can dump.
type Protocol uint8

// Protocols this package dumps.
const (
	TCP Protocol = unix.IPPROTO_TCP
	UDP Protocol = unix.IPPROTO_UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// State is the kernel's socket state (include/net/tcp_states.h). UDP sockets
// use two of them: Established once connect(2)ed, Close otherwise.
type State uint8

// Kernel socket states.
const (
	StateEstablished State = 1
	StateSynSent     State = 2
	StateSynRecv     State = 3
	StateFinWait1    State = 4
	StateFinWait2    State = 5
	StateTimeWait    State = 6
	StateClose       State = 7
	StateCloseWait   State = 8
	StateLastAck     State = 9
	StateListen      State = 10
	StateClosing     State = 11
	// StateNewSynRecv is the kernel's request socket of a handshake in
	// progress; the dump reports such sockets as StateSynRecv and selects them
	// when StateSynRecv is asked for.
	StateNewSynRecv State = 12
)

var stateNames = [...]string{
	StateEstablished: "ESTABLISHED",
	StateSynSent:     "SYN-SENT",
	StateSynRecv:     "SYN-RECV",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateTimeWait:    "TIME-WAIT",
	StateClose:       "CLOSE",
	StateCloseWait:   "CLOSE-WAIT",
	StateLastAck:     "LAST-ACK",
	StateListen:      "LISTEN",
	StateClosing:     "CLOSING",
	StateNewSynRecv:  "NEW-SYN-RECV",
}

func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// StateSet is a set of States, as the kernel's idiag_states bit mask.
type StateSet uint32

// States returns the set holding the given states.
func States(states ...State) StateSet {
	var set StateSet
	for _, s := range states {
		set |= 1 << s
	}
	return set
}

// Has reports whether s is in the set.
func (set StateSet) Has(s State) bool { return s < 32 && set&(1<<s) != 0 }

// Socket is one socket of a dump. Addresses of IPv6 sockets that carry IPv4
// traffic (v4-mapped, ::ffff:a.b.c.d) are reported as plain IPv4 addresses.
type Socket struct {
	Protocol Protocol
	State    State
	Local    netip.AddrPort
	// Remote is the peer; the zero AddrPort's address is unspecified (0.0.0.0
	// or ::) for sockets without a peer (unconnected UDP).
	Remote netip.AddrPort
	UID    uint32
	Inode  uint32
}

// Connected reports whether the socket has a peer.
func (s Socket) Connected() bool {
	return s.Remote.Port() != 0 || (s.Remote.Addr().IsValid() && !s.Remote.Addr().IsUnspecified())
}

// Filter selects the sockets of one dump: one protocol, one address family,
// the states wanted and, optionally, the local addresses.
type Filter struct {
	Protocol Protocol
	// Family is unix.AF_INET or unix.AF_INET6. An AF_INET6 dump includes the
	// IPv4 traffic of dual-stack sockets, which the kernel matches against
	// IPv4 LocalAddrs.
	Family uint8
	States StateSet
	// LocalAddrs, when not empty, keeps only sockets bound to one of these
	// addresses; the kernel applies it. Addresses of the other family are
	// ignored (an AF_INET dump with only IPv6 LocalAddrs matches nothing).
	LocalAddrs []netip.Addr
}
