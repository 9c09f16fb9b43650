package agent

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"vec/agent/sockdiag"
	"vec/agent/wire"
)

// listedTCPStates are the TCP states in which a connection still needs the
// gateway: data or the closing handshake can still flow from the client.
var listedTCPStates = sockdiag.States(
	sockdiag.StateEstablished, sockdiag.StateSynRecv,
	sockdiag.StateFinWait1, sockdiag.StateFinWait2,
	sockdiag.StateCloseWait, sockdiag.StateLastAck, sockdiag.StateClosing,
)

// listedUDPStates are both UDP socket states: connected and not.
var listedUDPStates = sockdiag.States(sockdiag.StateEstablished, sockdiag.StateClose)

// GatewayState maps a kernel socket state to the gateway's: a handshake in
// progress or an established connection is ACTIVE (the gateway has seen the
// SYN); once either side has sent its FIN the connection is FIN (the gateway
// has seen, or will see, a FIN). Other states are not listed: TIME-WAIT and
// CLOSE have nothing left to forward, LISTEN and SYN-SENT are no connection
// through the gateway. UDP sockets are ACTIVE.
func GatewayState(p sockdiag.Protocol, s sockdiag.State) (wire.State, bool) {
	if p == sockdiag.UDP {
		return wire.StateActive, s == sockdiag.StateEstablished || s == sockdiag.StateClose
	}
	switch s {
	case sockdiag.StateEstablished, sockdiag.StateSynRecv:
		return wire.StateActive, true
	case sockdiag.StateFinWait1, sockdiag.StateFinWait2, sockdiag.StateCloseWait,
		sockdiag.StateLastAck, sockdiag.StateClosing:
		return wire.StateFIN, true
	}
	return 0, false
}

// dumpAttempts bounds the retries of a dump the kernel flags as
// interrupted by concurrent changes.
const dumpAttempts = 3

// Table is the server's shadow connection table: the kernel's sockets on
// the VIPs this agent serves, read on demand.
type Table struct {
	diag   *sockdiag.Conn
	served map[netip.Addr]bool
	vips   []netip.Addr // sorted
	// sizeHint is the length of the last listing, to allocate the next one
	// at once.
	sizeHint atomic.Int64
}

// NewTable reads diag's namespace for the VIPs in vips.
func NewTable(diag *sockdiag.Conn, vips []netip.Addr) *Table {
	t := &Table{diag: diag, served: map[netip.Addr]bool{}}
	for _, v := range vips {
		v = v.Unmap()
		if !t.served[v] {
			t.served[v] = true
			t.vips = append(t.vips, v)
		}
	}
	slices.SortFunc(t.vips, netip.Addr.Compare)
	return t
}

// VIPs returns the served VIPs, sorted.
func (t *Table) VIPs() []netip.Addr { return slices.Clone(t.vips) }

// Served returns the VIPs of want this agent serves, sorted, without
// duplicates.
func (t *Table) Served(want []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, v := range want {
		if v = v.Unmap(); t.served[v] {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Entries lists the sockets on vips (each one must be served; see Served)
// in wire.Compare order, one entry per key.
func (t *Table) Entries(vips []netip.Addr) ([]wire.Entry, error) {
	if len(vips) == 0 {
		return nil, nil
	}
	wanted := make(map[netip.Addr]bool, len(vips))
	for _, v := range vips {
		if !t.served[v] {
			return nil, fmt.Errorf("VIP %s is not served by this agent", v)
		}
		wanted[v] = true
	}
	rows := make([]row, 0, t.sizeHint.Load()*9/8)
	for _, proto := range []sockdiag.Protocol{sockdiag.TCP, sockdiag.UDP} {
		states := listedTCPStates
		if proto == sockdiag.UDP {
			states = listedUDPStates
		}
		for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
			f := sockdiag.Filter{Protocol: proto, Family: family, States: states, LocalAddrs: vips}
			var err error
			if rows, err = t.dump(f, wanted, rows); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(rows, compareRows)
	entries := make([]wire.Entry, 0, len(rows))
	for i, r := range rows {
		// Several unconnected UDP sockets on one VIP and port
		// (SO_REUSEPORT) are one entry to the gateway.
		if i > 0 && r.key == rows[i-1].key {
			continue
		}
		entries = append(entries, r.entry())
	}
	t.sizeHint.Store(int64(len(entries)))
	return entries, nil
}

// dump appends f's sockets to rows. The kernel already filtered by local
// address; the check is repeated here so a kernel that ignored the bytecode
// could not widen the answer.
func (t *Table) dump(f sockdiag.Filter, wanted map[netip.Addr]bool, rows []row) ([]row, error) {
	start := len(rows)
	for attempt := 1; ; attempt++ {
		rows = rows[:start]
		err := t.diag.Dump(f, func(s sockdiag.Socket) {
			state, ok := GatewayState(s.Protocol, s.State)
			if !ok || !wanted[s.Local.Addr()] {
				return
			}
			var client netip.AddrPort
			if s.Connected() {
				client = s.Remote
			}
			rows = append(rows, row{key: wire.KeyOf(wire.Proto(s.Protocol), s.Local, client), state: state})
		})
		if err == nil {
			return rows, nil
		}
		if !errors.Is(err, sockdiag.ErrDumpInterrupted) || attempt == dumpAttempts {
			return nil, fmt.Errorf("list %s sockets: %w", f.Protocol, err)
		}
	}
}

// row is a listed socket in a form that sorts fast: its wire.Key plus the
// state. 100 000 rows sort several times faster than the same wire.Entry
// values.
type row struct {
	key   wire.Key
	state wire.State
}

// compareRows is wire.Compare for rows, then the state (so that of two
// rows with one key the first is deterministic).
func compareRows(a, b row) int {
	if c := a.key.Compare(&b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.state, b.state)
}

func (r row) entry() wire.Entry { return r.key.Entry(r.state) }
