package fastpath

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"vec/fastpath/header"
	"vec/internal/limits"
)

// Snapshot is the compiled, read-only form of a Config that the worker cores
// read on every packet. It is never modified after NewSnapshot, so every core
// can share one; a configuration change builds a new Snapshot and each core
// switches to it between bursts.
type Snapshot struct {
	gatewayMAC   [6]byte
	gatewayMAC64 uint64 // gatewayMAC as an integer (header.MACUint64), to compare and write it as one word
	// gatewayMACHi and gatewayMACLo are gatewayMAC split by header.MACHiLo,
	// for commonFlow's two-compare match.
	gatewayMACHi uint32
	gatewayMACLo uint16
	// arpTargets are the addresses ARP is answered for: the gateway's own
	// and every VIP the gateway can serve (see NewSnapshot).
	arpTargets map[uint32]struct{}
	// vips are the addresses of every service; echoVIPs those that answer
	// ICMP echo requests (Config.EchoVIPs), once claimed.
	vips     map[uint32]struct{}
	echoVIPs map[uint32]struct{}

	// lookup is an open-addressed index from serviceKey to services index+1
	// (0 = empty slot); its length is a power of two at least twice the
	// number of services.
	lookup     []serviceSlot
	lookupMask uint64

	services []service                 // dense, in Config order
	byID     [limits.MaxServices]int16 // ServiceID → services index, -1 if absent
	// serverMAC is ServerID → MAC (as header.MACUint64, 0 for a server
	// resolved by ARP or NDP) with the server's Forwarding in the bits
	// above (forwardingShift): forward tells DSR from encapsulation by the
	// word it loads anyway.
	serverMAC [limits.MaxServers]uint64
	// serverTakesNew: the server's effective weight is above 0.
	serverTakesNew [limits.MaxServers]bool

	// Servers resolved by ARP: their Neighbors slot (-1 for a static MAC),
	// the distinct slots to ask for, and the slot of each address.
	gatewayIP      uint32
	neighbors      *Neighbors
	serverNeighbor [limits.MaxServers]int32
	neighborSlots  []int
	neighborByIP   map[uint32]int

	// Servers of encapsulating services (their Forwarding is in
	// serverMAC): the address and GUE port the outer headers carry, and
	// the checksum sum of the outer IPv4 header's per-server words
	// (outerSum); the outer source and the path MTU (Config.Encap).
	serverAddr     [limits.MaxServers]uint32
	serverGUEPort  [limits.MaxServers]uint16
	serverOuterSum [limits.MaxServers]uint32
	encapSource    uint32
	encapMTU       int

	// IPv6: the services by (VIP, port, protocol); the VIPs, those that
	// answer echo requests, and the addresses Neighbor Solicitations are
	// answered for (the claimed VIPs and the gateway's own); the neighbor
	// slot of each server address resolved by Neighbor Discovery.
	services6     map[serviceKey6]int32
	vips6         map[[16]byte]struct{}
	echoVIPs6     map[[16]byte]struct{}
	ndpTargets    map[[16]byte]struct{}
	gatewayIP6    [16]byte
	hasGatewayIP6 bool
	neighborByIP6 map[[16]byte]int
}

// serviceKey6 names an IPv6 service.
type serviceKey6 struct {
	vip   [16]byte
	port  uint16
	proto uint8
}

type serviceSlot struct {
	key   uint64
	index uint16 // services index + 1; 0 marks an empty slot
}

// service is a compiled ServiceConfig: the patent's port-table entry with its
// node table.
type service struct {
	id           ServiceID
	key          uint64
	staleTimeout int64 // ns
	finTimeout   int64 // ns
	synTimeout   int64 // ns
	resetTimeout int64 // ns
	servers      []ServerID
	weights      []uint8 // clamped to the weight bound; 0 for an unresolved server
	maxWeight    int
	// unresolved: some server would take connections but has not answered
	// ARP yet, so an all-zero maxWeight is counted as server_unresolved.
	unresolved bool
	// maglev holds the tables of a SchedulerMaglev service; nil for WRR.
	maglev *maglevLookup
	// vip6 is the VIP of an IPv6 service (ipv6 set), whose key is 0.
	ipv6 bool
	vip6 [16]byte
}

// serviceKey packs (VIP, port, protocol) into one integer.
func serviceKey(vip uint32, port uint16, proto uint8) uint64 {
	return uint64(vip)<<24 | uint64(port)<<8 | uint64(proto)
}

func (s *Snapshot) lookupHash(key uint64) uint64 {
	key ^= key >> 29
	key *= 0xbf58476d1ce4e5b9
	return key ^ key>>32
}

// findService returns the services index for (vip, port, proto), or -1.
func (s *Snapshot) findService(vip uint32, port uint16, proto uint8) int {
	key := serviceKey(vip, port, proto)
	i := s.lookupHash(key) & s.lookupMask
	for {
		slot := &s.lookup[i]
		if slot.index == 0 {
			return -1
		}
		if slot.key == key {
			return int(slot.index) - 1
		}
		i = (i + 1) & s.lookupMask
	}
}

// serviceByID returns the compiled service for id, or nil when the snapshot
// no longer has it.
func (s *Snapshot) serviceByID(id ServiceID) *service {
	if int(id) >= limits.MaxServices || s.byID[id] < 0 {
		return nil
	}
	return &s.services[s.byID[id]]
}

// GatewayMAC returns the MAC the gateway sends from.
func (s *Snapshot) GatewayMAC() [6]byte { return s.gatewayMAC }

// ipv4 converts an address to the big-endian integer form the views use.
func ipv4(a netip.Addr, field string) (uint32, error) {
	if !a.Is4() {
		return 0, fmt.Errorf("%s: %v is not an IPv4 address", field, a)
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), nil
}

// NewSnapshot validates cfg and compiles it. Weights above a service's
// weight bound are clamped to the bound (patent Fig. 8: no node's weight may
// exceed it); everything else that is wrong is an error naming the service
// or server. The Maglev tables of SchedulerMaglev services are built here,
// off the workers, or taken over from cfg.Previous when their servers and
// weights have not changed.
func NewSnapshot(cfg *Config) (*Snapshot, error) {
	s := &Snapshot{
		gatewayMAC:    cfg.GatewayMAC,
		gatewayMAC64:  header.MACUint64(cfg.GatewayMAC[:]),
		arpTargets:    make(map[uint32]struct{}),
		vips:          make(map[uint32]struct{}),
		echoVIPs:      make(map[uint32]struct{}),
		services:      make([]service, 0, len(cfg.Services)),
		neighbors:     cfg.Neighbors,
		neighborByIP:  make(map[uint32]int),
		services6:     make(map[serviceKey6]int32),
		vips6:         make(map[[16]byte]struct{}),
		echoVIPs6:     make(map[[16]byte]struct{}),
		ndpTargets:    make(map[[16]byte]struct{}),
		neighborByIP6: make(map[[16]byte]int),
	}
	s.gatewayMACHi, s.gatewayMACLo = header.MACHiLo(cfg.GatewayMAC)
	for i := range s.byID {
		s.byID[i] = -1
	}
	for i := range s.serverNeighbor {
		s.serverNeighbor[i] = -1
	}
	if cfg.GatewayIP.IsValid() {
		ip, err := ipv4(cfg.GatewayIP, "gateway IP")
		if err != nil {
			return nil, err
		}
		s.arpTargets[ip] = struct{}{}
		s.gatewayIP = ip
	}
	if a := cfg.GatewayIP6; a.IsValid() {
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("gateway IPv6 address: %v is not an IPv6 address", a)
		}
		s.gatewayIP6, s.hasGatewayIP6 = a.As16(), true
		s.ndpTargets[s.gatewayIP6] = struct{}{}
	}
	if len(cfg.Services) > limits.MaxServices {
		return nil, fmt.Errorf("%d services exceed the limit of %d", len(cfg.Services), limits.MaxServices)
	}
	serverSeen := make(map[ServerID]bool)
	keySeen := make(map[uint64]bool)
	// A VIP is claimed (ARP answered for it) once one of its services can
	// take a connection or never will (all servers quiesced: open
	// connections still need the gateway), but not while every service is
	// still waiting for its servers to answer ARP: a gateway that has just
	// started does not pull clients to itself before it can serve them.
	claim := make(map[uint32]bool)
	claim6 := make(map[[16]byte]bool)
	if err := s.compileEncap(cfg); err != nil {
		return nil, err
	}
	for _, sc := range cfg.Services {
		svc, err := compileService(&sc, serverSeen)
		if err != nil {
			return nil, err
		}
		if err := s.placeEncap(&sc); err != nil {
			return nil, err
		}
		if sc.Scheduler == SchedulerMaglev {
			var before *service
			if cfg.Previous != nil {
				before = cfg.Previous.serviceByID(sc.ID)
			}
			if svc.maglev, err = compileMaglev(&svc, &sc, before); err != nil {
				return nil, fmt.Errorf("service %d (%v %s/%d): %w", sc.ID, sc.VIP, protoName(sc.Proto), sc.Port, err)
			}
		}
		key6 := serviceKey6{vip: svc.vip6, port: sc.Port, proto: sc.Proto}
		if _, dup := s.services6[key6]; (svc.ipv6 && dup) || (!svc.ipv6 && keySeen[svc.key]) {
			return nil, fmt.Errorf("service %d: %v %s/%d is defined twice", sc.ID, sc.VIP, protoName(sc.Proto), sc.Port)
		}
		if svc.ipv6 {
			s.services6[key6] = int32(len(s.services))
		} else {
			keySeen[svc.key] = true
		}
		if s.byID[sc.ID] >= 0 {
			return nil, fmt.Errorf("service %d: ID used twice", sc.ID)
		}
		s.byID[sc.ID] = int16(len(s.services))
		s.services = append(s.services, svc)
		for i, id := range svc.servers {
			s.serverTakesNew[id] = svc.weights[i] > 0
		}
		servable := !(svc.unresolved && svc.maxWeight == 0)
		if svc.ipv6 {
			s.vips6[svc.vip6] = struct{}{}
			claim6[svc.vip6] = claim6[svc.vip6] || servable
		} else {
			vip := uint32(svc.key >> 24)
			s.vips[vip] = struct{}{}
			claim[vip] = claim[vip] || servable
		}
		for _, srv := range sc.Servers {
			if err := s.placeServer(cfg, &sc, &srv); err != nil {
				return nil, fmt.Errorf("service %d: server %d: %w", sc.ID, srv.ID, err)
			}
		}
	}
	for vip, ok := range claim {
		if ok {
			s.arpTargets[vip] = struct{}{}
		}
	}
	for vip, ok := range claim6 {
		if ok {
			s.ndpTargets[vip] = struct{}{}
		}
	}
	for _, a := range cfg.EchoVIPs {
		if a.Is6() && !a.Is4In6() {
			if _, served := s.vips6[a.As16()]; !served {
				return nil, fmt.Errorf("echo VIP %v: no service has it", a)
			}
			s.echoVIPs6[a.As16()] = struct{}{}
			continue
		}
		vip, err := ipv4(a, "echo VIP")
		if err != nil {
			return nil, err
		}
		if _, served := s.vips[vip]; !served {
			return nil, fmt.Errorf("echo VIP %v: no service has it", a)
		}
		s.echoVIPs[vip] = struct{}{}
	}
	size := 2
	for size < 2*len(s.services) {
		size *= 2
	}
	s.lookup = make([]serviceSlot, size)
	s.lookupMask = uint64(size - 1)
	for i := range s.services {
		if s.services[i].ipv6 {
			continue // in services6
		}
		key := s.services[i].key
		j := s.lookupHash(key) & s.lookupMask
		for s.lookup[j].index != 0 {
			j = (j + 1) & s.lookupMask
		}
		s.lookup[j] = serviceSlot{key: key, index: uint16(i + 1)}
	}
	return s, nil
}

// placeServer records where a server's MAC comes from: the configuration,
// or the Neighbors table when the configuration has none; for a server of
// an encapsulating service with a next hop, the next hop's entry there.
func (s *Snapshot) placeServer(cfg *Config, sc *ServiceConfig, srv *ServerConfig) error {
	via := cfg.NeighborAddr(sc, srv)
	if srv.MAC != ([6]byte{}) {
		if via != srv.IP {
			return fmt.Errorf("has a MAC, but its packets go to the next hop %v, whose MAC is resolved by ARP", via)
		}
		s.serverMAC[srv.ID] = header.MACUint64(srv.MAC[:]) | uint64(sc.Forwarding)<<forwardingShift
		return nil
	}
	s.serverMAC[srv.ID] = uint64(sc.Forwarding) << forwardingShift
	if via.Is6() {
		return s.placeServer6(srv.ID, via)
	}
	if s.neighbors == nil || s.gatewayIP == 0 {
		return errors.New("no MAC, and no neighbor table and gateway address to resolve one by ARP")
	}
	ip, err := ipv4(via, "IP")
	if err != nil {
		return err
	}
	slot, err := s.neighbors.slot(via)
	if err != nil {
		return err
	}
	s.serverNeighbor[srv.ID] = int32(slot)
	if _, seen := s.neighborByIP[ip]; !seen {
		s.neighborByIP[ip] = slot
		s.neighborSlots = append(s.neighborSlots, slot)
	}
	return nil
}

// placeServer6 records that an IPv6 server without a MAC is resolved by
// Neighbor Discovery, in the Neighbors table.
func (s *Snapshot) placeServer6(id ServerID, ip netip.Addr) error {
	if s.neighbors == nil || !s.hasGatewayIP6 {
		return errors.New("no MAC, and no neighbor table and gateway IPv6 address to resolve one by Neighbor Discovery")
	}
	slot, err := s.neighbors.slot(ip)
	if err != nil {
		return err
	}
	s.serverNeighbor[id] = int32(slot)
	if _, seen := s.neighborByIP6[ip.As16()]; !seen {
		s.neighborByIP6[ip.As16()] = slot
		s.neighborSlots = append(s.neighborSlots, slot)
	}
	return nil
}

// compileEncap checks and records the gateway-wide part of the
// encapsulating modes, when a service uses one.
func (s *Snapshot) compileEncap(cfg *Config) error {
	s.encapMTU = limits.DefaultEncapMTU
	if !slices.ContainsFunc(cfg.Services, func(sc ServiceConfig) bool { return sc.Forwarding != ForwardDSR }) {
		return nil
	}
	src, err := ipv4(cfg.Encap.Source, "encapsulation source")
	if err != nil {
		return err
	}
	if cfg.Encap.NextHop.IsValid() && !cfg.Encap.NextHop.Is4() {
		return fmt.Errorf("encapsulation next hop: %v is not an IPv4 address", cfg.Encap.NextHop)
	}
	if m := cfg.Encap.MTU; m != 0 {
		if m < minEncapMTU || m > math.MaxUint16 {
			return fmt.Errorf("encapsulation MTU %d is outside %d..%d", m, minEncapMTU, math.MaxUint16)
		}
		s.encapMTU = m
	}
	s.encapSource = src
	return nil
}

// placeEncap records how the servers of service sc are forwarded to.
func (s *Snapshot) placeEncap(sc *ServiceConfig) error {
	if sc.Forwarding == ForwardDSR {
		return nil
	}
	port := uint16(0)
	if sc.Forwarding == ForwardGUE {
		port = cmp.Or(sc.GUEPort, limits.DefaultGUEPort)
	}
	for _, srv := range sc.Servers {
		addr, err := ipv4(srv.IP, fmt.Sprintf("service %d: server %d: IP", sc.ID, srv.ID))
		if err != nil {
			return err
		}
		s.serverAddr[srv.ID], s.serverGUEPort[srv.ID] = addr, port
		s.serverOuterSum[srv.ID] = outerSum(sc.Forwarding, s.encapSource, addr)
	}
	return nil
}

func protoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	}
	return fmt.Sprintf("proto-%d", p)
}

func compileService(sc *ServiceConfig, serverSeen map[ServerID]bool) (service, error) {
	name := fmt.Sprintf("service %d (%v %s/%d)", sc.ID, sc.VIP, protoName(sc.Proto), sc.Port)
	if int(sc.ID) >= limits.MaxServices {
		return service{}, fmt.Errorf("%s: ID is above the limit of %d", name, limits.MaxServices-1)
	}
	ipv6 := sc.VIP.Is6() && !sc.VIP.Is4In6()
	var vip uint32
	if !ipv6 {
		var err error
		if vip, err = ipv4(sc.VIP, name+": VIP"); err != nil {
			return service{}, err
		}
	}
	if ipv6 && sc.Forwarding != ForwardDSR {
		return service{}, fmt.Errorf("%s: %v forwarding: encapsulation is IPv4 only", name, sc.Forwarding)
	}
	if sc.Proto != ProtoTCP && sc.Proto != ProtoUDP {
		return service{}, fmt.Errorf("%s: protocol must be TCP or UDP", name)
	}
	if sc.Port == 0 {
		return service{}, fmt.Errorf("%s: port 0", name)
	}
	if sc.Scheduler != SchedulerWRR && sc.Scheduler != SchedulerMaglev {
		return service{}, fmt.Errorf("%s: unknown scheduler %d", name, sc.Scheduler)
	}
	if sc.Forwarding > ForwardGUE {
		return service{}, fmt.Errorf("%s: unknown forwarding %d", name, sc.Forwarding)
	}
	bound := sc.WeightBound
	if bound == 0 {
		bound = limits.DefaultWeightBound
	}
	if bound < 0 || bound > limits.MaxWeightBound {
		return service{}, fmt.Errorf("%s: weight bound %d is outside 1..%d", name, sc.WeightBound, limits.MaxWeightBound)
	}
	stale, fin := sc.StaleTimeout, sc.FinTimeout
	if stale == 0 {
		stale = limits.DefaultStaleTimeout
	}
	if fin == 0 {
		fin = limits.DefaultFinTimeout
	}
	syn, reset := sc.SynTimeout, sc.ResetTimeout
	if syn == 0 {
		syn = limits.DefaultSynTimeout
	}
	if reset == 0 {
		reset = limits.DefaultResetTimeout
	}
	if stale < 0 || fin < 0 || syn < 0 || reset < 0 {
		return service{}, fmt.Errorf("%s: negative timeout", name)
	}
	svc := service{
		id:           sc.ID,
		ipv6:         ipv6,
		key:          serviceKey(vip, sc.Port, sc.Proto),
		staleTimeout: int64(stale),
		finTimeout:   int64(fin),
		synTimeout:   int64(syn),
		resetTimeout: int64(reset),
		servers:      make([]ServerID, len(sc.Servers)),
		weights:      make([]uint8, len(sc.Servers)),
	}
	if ipv6 {
		svc.key, svc.vip6 = 0, sc.VIP.As16()
	}
	for i, srv := range sc.Servers {
		if int(srv.ID) >= limits.MaxServers {
			return service{}, fmt.Errorf("%s: server %d: ID is above the limit of %d", name, srv.ID, limits.MaxServers-1)
		}
		if serverSeen[srv.ID] {
			return service{}, fmt.Errorf("%s: server ID %d used twice", name, srv.ID)
		}
		serverSeen[srv.ID] = true
		if srv.IP.IsValid() && (srv.IP.Is6() && !srv.IP.Is4In6()) != ipv6 {
			return service{}, fmt.Errorf("%s: server %d: %v is not of the VIP's address family", name, srv.ID, srv.IP)
		}
		if srv.Weight < 0 {
			return service{}, fmt.Errorf("%s: server %d: negative weight %d", name, srv.ID, srv.Weight)
		}
		w := min(srv.Weight, bound)
		if srv.MAC == ([6]byte{}) && !srv.Resolved && w > 0 {
			w, svc.unresolved = 0, true
		}
		svc.servers[i] = srv.ID
		svc.weights[i] = uint8(w)
		svc.maxWeight = max(svc.maxWeight, w)
	}
	return svc, nil
}
