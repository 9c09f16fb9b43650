package fastpath

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"vec/fastpath/header"
)

// ARP timing for servers configured without a MAC address.
const (
	// NeighborProbeInterval: an unresolved server is asked this often.
	NeighborProbeInterval = time.Second
	// NeighborRefreshInterval: a resolved server is asked again this often.
	NeighborRefreshInterval = 30 * time.Second
	// NeighborStaleAfter: a server that has not answered for this long is
	// unresolved again (three missed refreshes): it gets no new connections,
	// while its existing ones keep the last MAC it had.
	NeighborStaleAfter = 3 * NeighborRefreshInterval
)

// Neighbors holds the MAC addresses of servers configured by IP alone, as
// learned from their ARP replies. It is shared by every core and every
// snapshot: whichever core receives a reply stores the MAC, every core
// forwarding to the server reads it, all through atomics. Slots are handed
// out by the control plane (Slot) and never reused.
type Neighbors struct {
	slots []neighborSlot
	// learned is signalled (without blocking) when a server's MAC is
	// learned or changes, so the control plane gives it connections at
	// once instead of at its next look (Learned).
	learned chan struct{}

	mu     sync.Mutex // control plane only
	byIP   map[netip.Addr]int
	nextID int
	free   []int // slots released by Retain, reused first
}

type neighborSlot struct {
	ip   netip.Addr
	mac  atomic.Uint64 // header.MACUint64 of the MAC; 0 = never resolved
	seen atomic.Int64  // clock time of the last reply
}

// NewNeighbors makes a table for up to capacity server addresses.
func NewNeighbors(capacity int) *Neighbors {
	return &Neighbors{slots: make([]neighborSlot, capacity), byIP: make(map[netip.Addr]int), learned: make(chan struct{}, 1)}
}

// Learned is signalled when a server's MAC has been learned or has
// changed since the last signal was taken.
func (n *Neighbors) Learned() <-chan struct{} { return n.learned }

// slot returns ip's slot, assigning one the first time.
func (n *Neighbors) slot(ip netip.Addr) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i, ok := n.byIP[ip]; ok {
		return i, nil
	}
	var i int
	switch {
	case len(n.free) > 0:
		i = n.free[len(n.free)-1]
		n.free = n.free[:len(n.free)-1]
		n.slots[i].mac.Store(0)
		n.slots[i].seen.Store(0)
	case n.nextID < len(n.slots):
		i = n.nextID
		n.nextID++
	default:
		return 0, fmt.Errorf("more than %d servers resolved by ARP at once", len(n.slots))
	}
	n.slots[i].ip = ip
	n.byIP[ip] = i
	return i, nil
}

// Retain releases the slots of every address not in keep, for reuse by
// later snapshots. Call it only once every worker runs a snapshot compiled
// without those addresses: no core may still read their slots.
func (n *Neighbors) Retain(keep map[netip.Addr]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ip, i := range n.byIP {
		if !keep[ip] {
			delete(n.byIP, ip)
			n.free = append(n.free, i)
		}
	}
}

// learn records a reply from slot i's server.
func (n *Neighbors) learn(i int, mac []byte, now int64) {
	s := &n.slots[i]
	s.seen.Store(now)
	if mac := header.MACUint64(mac); s.mac.Swap(mac) != mac {
		select {
		case n.learned <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

// resolved reports whether slot i's server answered within
// NeighborStaleAfter of now.
func (n *Neighbors) resolved(i int, now int64) bool {
	s := &n.slots[i]
	return s.mac.Load() != 0 && now-s.seen.Load() <= int64(NeighborStaleAfter)
}

// due reports whether slot i's server should be asked again now.
func (n *Neighbors) due(i int, now int64) bool {
	return !n.resolved(i, now) || now-n.slots[i].seen.Load() >= int64(NeighborRefreshInterval)
}

// ResolvedIPs returns whether each address is resolved at now, for the
// control plane to notice changes.
func (n *Neighbors) ResolvedIPs(now int64) map[netip.Addr]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[netip.Addr]bool, len(n.byIP))
	for ip, i := range n.byIP {
		out[ip] = n.resolved(i, now)
	}
	return out
}

// WriteNeighborRequests writes into frames (each at least
// NeighborRequestLen bytes, typically freshly allocated packet buffers) one
// request per server of the snapshot that needs asking at now, and returns
// how many it wrote, shortening each frame it wrote to the request's
// length: a broadcast ARP request from the gateway's MAC and address for an
// IPv4 server, a Neighbor Solicitation to the server's solicited-node group
// from the gateway's IPv6 address for an IPv6 one.
func (s *Snapshot) WriteNeighborRequests(frames [][]byte, now int64) int {
	if s.neighbors == nil {
		return 0
	}
	n := 0
	for _, slot := range s.neighborSlots {
		if n == len(frames) {
			break
		}
		if !s.neighbors.due(slot, now) {
			continue
		}
		ip := s.neighbors.slots[slot].ip
		if ip.Is6() {
			frames[n] = frames[n][:ndpFrameLen]
			writeNeighborSolicitation(frames[n], s.gatewayMAC, s.gatewayIP6, ip.As16())
		} else {
			frames[n] = frames[n][:ARPRequestLen]
			writeARPRequest(frames[n], s.gatewayMAC, s.gatewayIP, ipv4Uint32(ip))
		}
		n++
	}
	return n
}

// NeighborRequestLen is the room WriteNeighborRequests needs per frame:
// the longer of an ARP request and a Neighbor Solicitation.
const NeighborRequestLen = ndpFrameLen

// ARPRequestLen is the length of the frames WriteARPRequests writes.
const ARPRequestLen = header.EthernetHeaderLen + header.ARPIPv4Len

// broadcastMAC64 is ff:ff:ff:ff:ff:ff as header.MACUint64.
const broadcastMAC64 = 1<<(8*header.MACLen) - 1

func writeARPRequest(b []byte, srcMAC [6]byte, srcIP, targetIP uint32) {
	eth := header.Ethernet(b[:ARPRequestLen])
	eth.SetDestinationUint64(broadcastMAC64)
	eth.SetSource(srcMAC[:])
	eth.SetType(header.EtherTypeARP)
	a := header.ARP(eth.Payload())
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	a.SetSenderMAC(srcMAC[:])
	a.SetSenderIP(srcIP)
	clear(a.TargetMAC())
	a.SetTargetIP(targetIP)
}

// writeNeighborSolicitation writes into b (ndpFrameLen bytes) a Neighbor
// Solicitation for target from src, with the source link-layer address
// option (RFC 4861 §4.3), to target's solicited-node group.
func writeNeighborSolicitation(b []byte, srcMAC [6]byte, src, target [16]byte) {
	group, groupMAC := header.SolicitedNodeAddr(target[:]), header.SolicitedNodeMAC(target[:])
	writeNDP(b, srcMAC, groupMAC, &src, &group, &target, header.ICMPv6NeighborSolicitation, 0, header.NDPSourceLinkLayer)
}

// NeighborSlots returns the neighbor-table slots of the snapshot's servers
// resolved by ARP or Neighbor Discovery (empty when every server has a
// static MAC).
func (s *Snapshot) NeighborSlots() []int { return s.neighborSlots }

// ipv4Uint32 is an IPv4 address as the big-endian integer the views use.
func ipv4Uint32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
