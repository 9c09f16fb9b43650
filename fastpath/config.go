package fastpath

import (
	"fmt"
	"net/netip"
	"time"
)

// IP protocol numbers the fastpath serves (ICMP only for errors about
// served connections and, where configured, echo requests to a VIP).
const (
	ProtoICMP uint8 = 1
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
)

// ActiveEvictIdle is how long an ACTIVE entry must have been idle before a
// new connection may evict it from a full table (after every embryonic and
// closing entry near the new one's home slot). The service timers' defaults
// and the weight bounds are internal/limits'.
const ActiveEvictIdle = 60 * time.Second

// ServerID names one server of one service (a row of the patent's node
// table). IDs are assigned by the control plane and stay stable across
// configuration snapshots, so connection entries and counters survive
// reconfiguration.
type ServerID uint16

// ServiceID names one (VIP, protocol, port) service, stable across snapshots.
type ServiceID uint16

// Config is the fastpath's own description of what to serve. It is built by
// the control plane from the operator's configuration and compiled by
// NewSnapshot into the lookup structures the workers read.
type Config struct {
	// GatewayMAC is the source MAC of every frame the gateway sends.
	GatewayMAC [6]byte
	// GatewayIP is the gateway's own address; ARP requests for it are
	// answered like those for the VIPs. Optional (the zero Addr disables it).
	GatewayIP netip.Addr
	// GatewayIP6 is the gateway's own IPv6 address: Neighbor Solicitations
	// for it are answered like those for the IPv6 VIPs, and it is the
	// source of the solicitations that resolve IPv6 servers configured
	// without a MAC. Optional (required for such servers).
	GatewayIP6 netip.Addr
	Services   []ServiceConfig
	// EchoVIPs are the VIPs that answer ICMP echo requests (ping).
	EchoVIPs []netip.Addr
	// Neighbors holds the MACs learned by ARP for servers configured
	// without one; required when any server's MAC is zero. The same table
	// is passed to every snapshot.
	Neighbors *Neighbors
	// Encap says how services with an encapsulating Forwarding reach their
	// servers; unused when every service uses ForwardDSR.
	Encap Encapsulation
	// Previous is the snapshot the workers run now (nil for the first
	// one). A Maglev service takes its tables over from it: an unchanged
	// service keeps both, a changed one keeps its current table as the
	// previous one, which mid-flow packets of connections this gateway has
	// no entry for are checked against (docs/maglev.md). Without it every
	// Maglev service starts with no history.
	Previous *Snapshot
}

// ServiceConfig is one entry of a cluster's port table (patent Fig. 8).
type ServiceConfig struct {
	ID    ServiceID
	VIP   netip.Addr // IPv4 or IPv6; the servers' addresses are of the same family
	Proto uint8      // ProtoTCP or ProtoUDP
	Port  uint16
	// StaleTimeout removes an ACTIVE (or UDP) entry after this long without a
	// packet; FinTimeout removes a FIN entry after this long without a packet.
	// Zero selects the defaults above.
	StaleTimeout time.Duration
	FinTimeout   time.Duration
	// SynTimeout removes an embryonic TCP entry (SYN seen, nothing else)
	// after this long without a packet; ResetTimeout removes an entry after
	// this long without a packet since an RST. Zero selects the defaults.
	SynTimeout   time.Duration
	ResetTimeout time.Duration
	// WeightBound limits every server weight (Fig. 8); zero selects
	// limits.DefaultWeightBound.
	WeightBound int
	// Scheduler picks the server of a new connection: SchedulerWRR (the
	// zero value) or SchedulerMaglev, which needs every server's Name.
	Scheduler Scheduler
	// Forwarding is how packets reach the servers: ForwardDSR (the zero
	// value) rewrites MACs only, ForwardIPIP and ForwardGUE encapsulate
	// them to the server's address (docs/encapsulation.md).
	Forwarding Forwarding
	// GUEPort is the UDP destination port of a ForwardGUE service's
	// packets (the port the servers' GUE receivers listen on); zero
	// selects limits.DefaultGUEPort.
	GUEPort uint16
	Servers []ServerConfig
}

// Forwarding is how a service's packets reach its servers.
type Forwarding uint8

// Forwarding modes.
const (
	// ForwardDSR rewrites the destination MAC to the server's and sends
	// the frame back out: direct server return on the gateway's link.
	ForwardDSR Forwarding = iota
	// ForwardIPIP wraps the client's packet in an outer IPv4 header
	// (protocol 4) to the server's address, sent to Encapsulation.NextHop.
	ForwardIPIP
	// ForwardGUE wraps it in IPv4, UDP and a GUE header (variant 0); the
	// UDP source port carries the flow's hash, so routers' ECMP spreads
	// flows over their paths as they would the clients' own packets.
	ForwardGUE
)

func (f Forwarding) String() string {
	switch f {
	case ForwardDSR:
		return "dsr"
	case ForwardIPIP:
		return "ipip"
	case ForwardGUE:
		return "gue"
	}
	return fmt.Sprintf("forwarding-%d", uint8(f))
}

// Encapsulation is the gateway-wide part of the encapsulating modes.
type Encapsulation struct {
	// Source is the outer packets' source address (normally the
	// gateway's own); required when a service encapsulates.
	Source netip.Addr
	// NextHop is the router on the gateway's link that the encapsulated
	// packets are sent to, resolved by ARP. The zero Addr means the
	// servers are on the link themselves: each is resolved by ARP (or
	// has its MAC configured) as a DSR server is.
	NextHop netip.Addr
	// MTU is the path MTU to the servers (zero: limits.DefaultEncapMTU). A
	// packet that would exceed it once encapsulated is not sent: with
	// Don't Fragment set (every TCP segment of a Linux client) the client
	// is sent an ICMP "fragmentation needed" with MTU minus the overhead,
	// as a router on the path would; without it the packet is dropped as
	// encap_too_big.
	MTU int
}

// NeighborAddr returns the address whose link-layer address srv's packets
// are sent to: the next hop for a server of an encapsulating service when
// one is configured, the server's own address otherwise. The control plane
// marks srv Resolved when that address has answered ARP.
func (c *Config) NeighborAddr(svc *ServiceConfig, srv *ServerConfig) netip.Addr {
	if svc.Forwarding != ForwardDSR && c.Encap.NextHop.IsValid() {
		return c.Encap.NextHop
	}
	return srv.IP
}

// ServerConfig is one server of a service (a node-table row).
type ServerConfig struct {
	ID ServerID
	// Name is the server's name in its service; a Maglev table is built
	// from the names (and weights), so every gateway builds the same one.
	Name string
	IP   netip.Addr // of the VIP's family
	// MAC is the server's address; all zero means "resolve IP by ARP" (or,
	// for IPv6, by Neighbor Discovery)
	// (Config.Neighbors). For a server of an encapsulating service with a
	// next hop, it must be zero: the next hop's MAC is used.
	MAC    [6]byte
	Weight int // 0 quiesces the server: no new connections
	// Resolved tells, for a server resolved by ARP, that it has answered
	// recently; until then it gets no new connections. The control plane
	// sets it from Neighbors and compiles a new snapshot when it changes.
	Resolved bool
}
