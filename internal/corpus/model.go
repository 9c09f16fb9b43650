package corpus

import (
	"bytes"
	"net/netip"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// The addresses of the configuration the corpus and the golden-capture
// test are made for (ClustersYAML, GoldenClustersYAML).
var (
	GatewayMAC = pktbuild.MAC{0x02, 0, 0, 0, 0, 0x01}
	GatewayIP  = netip.MustParseAddr("10.1.0.1")
	VIPA       = netip.MustParseAddr("10.1.0.100")
	VIPB       = netip.MustParseAddr("10.1.0.200")
	ClientMAC  = pktbuild.MAC{0x02, 0, 0, 0, 0, 0xc1}
)

// MaxFrameLen is the longest frame the port takes: a 1500-byte MTU plus the
// 14-byte Ethernet header (no FCS, no VLAN tag).
const MaxFrameLen = 1500 + header.EthernetHeaderLen

// GoldenClustersYAML is the configuration of the golden-capture test
// (cmd/vecd/golden_test.go): VIP A has TCP/80 on s1 (weight 3) and s2
// (weight 2) and UDP/53 on s3 and s4 (weight 1 each); VIP B has TCP/443 on
// s5. ClustersYAML extends VIP B's services.
const GoldenClustersYAML = `
gateway: {ip: 10.1.0.1, mac: "02:00:00:00:00:01"}
clusters:
  - vip: 10.1.0.100
    services:
      - name: http
        protocol: tcp
        port: 80
        servers:
          - {name: s1, ip: 10.1.0.11, mac: "02:00:00:00:00:11", weight: 3}
          - {name: s2, ip: 10.1.0.12, mac: "02:00:00:00:00:12", weight: 2}
      - name: dns
        protocol: udp
        port: 53
        servers:
          - {name: s3, ip: 10.1.0.13, mac: "02:00:00:00:00:13", weight: 1}
          - {name: s4, ip: 10.1.0.14, mac: "02:00:00:00:00:14", weight: 1}
  - vip: 10.1.0.200
    services:
      - name: https
        protocol: tcp
        port: 443
        servers:
          - {name: s5, ip: 10.1.0.15, mac: "02:00:00:00:00:15", weight: 1}
`

// ClustersYAML is the corpus's configuration: the golden test's clusters
// plus VIP B TCP/8443 on s6, a server given by IP alone whose MAC vecd
// learns from its ARP replies.
const ClustersYAML = GoldenClustersYAML + `
      - name: alt
        protocol: tcp
        port: 8443
        servers:
          - {name: s6, ip: 10.1.0.16, weight: 1}
`

// Server is one server of ClustersYAML. S6 has no MAC in the configuration:
// MAC is the one it answers ARP with.
type Server struct {
	Name string
	IP   netip.Addr
	MAC  pktbuild.MAC
}

// Servers of ClustersYAML.
var Servers = []Server{
	{"s1", netip.MustParseAddr("10.1.0.11"), pktbuild.MAC{2, 0, 0, 0, 0, 0x11}},
	{"s2", netip.MustParseAddr("10.1.0.12"), pktbuild.MAC{2, 0, 0, 0, 0, 0x12}},
	{"s3", netip.MustParseAddr("10.1.0.13"), pktbuild.MAC{2, 0, 0, 0, 0, 0x13}},
	{"s4", netip.MustParseAddr("10.1.0.14"), pktbuild.MAC{2, 0, 0, 0, 0, 0x14}},
	{"s5", netip.MustParseAddr("10.1.0.15"), pktbuild.MAC{2, 0, 0, 0, 0, 0x15}},
	{"s6", netip.MustParseAddr("10.1.0.16"), pktbuild.MAC{2, 0, 0, 0, 0, 0x16}},
}

// arpResolved is s6, the server vecd resolves by ARP.
var arpResolved = Servers[5]

func server(name string) Server {
	for _, s := range Servers {
		if s.Name == name {
			return s
		}
	}
	panic("corpus: no server " + name)
}

// service is one service of ClustersYAML with the order its weighted round
// robin hands out new connections (patent Fig. 7C: weights 3 and 2 give
// s1 s1 s2 s1 s2, as the golden test also has it). unresolved: its only
// server has not answered ARP during the whole corpus (s6's replies come
// last), so a new connection is dropped as server_unresolved.
type service struct {
	vip        netip.Addr
	proto      uint8
	port       uint16
	order      []string
	unresolved bool
}

var services = []service{
	{VIPA, protoTCP, 80, []string{"s1", "s1", "s2", "s1", "s2"}, false},
	{VIPA, protoUDP, 53, []string{"s3", "s4"}, false},
	{VIPB, protoTCP, 443, []string{"s5"}, false},
	{VIPB, protoTCP, 8443, nil, true},
}

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58

	etherTypeIPv6 = 0x86dd

	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// Kind is what the gateway does with a frame.
type Kind uint8

// Kinds of outcome.
const (
	Forward Kind = iota // sent to Server with only the MACs rewritten
	Reply               // answered in place (ARP)
	Drop                // dropped and counted under Reason
	Learned             // an ARP reply from a server resolved by ARP: consumed, counted as learned, not a drop
)

func (k Kind) String() string {
	return [...]string{"forward", "reply", "drop", "learned"}[k]
}

// Expectation is what the gateway must do with one frame of the corpus.
type Expectation struct {
	Kind   Kind
	Server string // Forward: the server's name
	Reason string // Drop: the drop reason's name
	Out    []byte // Forward and Reply: the frame that must leave
	Note   string // what the frame is
}

type flowKey struct {
	src, dst     [4]byte
	sport, dport uint16
	proto        uint8
}

type connState uint8

const (
	stateSYN connState = iota
	stateActive
	stateFIN
	stateRST
)

type entry struct {
	server string
	state  connState
}

// model is the reference gateway: the documented rules, header by header,
// and a connection table without timers (the corpus replays in well under
// the shortest timeout).
type model struct {
	flows map[flowKey]*entry
	picks map[int]int       // service index → new connections handed out
	news  map[string]uint64 // server name → new connections
}

func newModel() *model {
	return &model{flows: map[flowKey]*entry{}, picks: map[int]int{}, news: map[string]uint64{}}
}

func findService(dst [4]byte, port uint16, proto uint8) int {
	for i, s := range services {
		if s.vip.As4() == dst && s.port == port && s.proto == proto {
			return i
		}
	}
	return -1
}

func isVIP(a [4]byte) bool { return a == VIPA.As4() || a == VIPB.As4() }

func drop(reason string) Expectation { return Expectation{Kind: Drop, Reason: reason} }

// decide is the model's verdict on one frame; it updates the model's table.
func (m *model) decide(p []byte) Expectation {
	if len(p) > MaxFrameLen {
		return drop("oversize") // whoever it is for: the port takes no such frame
	}
	// The model reads fields through the header views but makes its own
	// checks, in its own order, rather than asking the views' Check.
	eth := header.Ethernet(p)
	if !eth.IsValid() {
		return drop("malformed_ethernet")
	}
	toUs := bytes.Equal(eth.Destination(), GatewayMAC[:])
	broadcast := bytes.Equal(eth.Destination(), pktbuild.Broadcast[:])
	// IPv6 multicast (RFC 2464: 33:33, then the group's last 32 bits)
	// comes in too: Neighbor Solicitations go to a solicited-node group.
	ipv6Multicast := bytes.HasPrefix(eth.Destination(), []byte{0x33, 0x33})
	if !toUs && !broadcast && !ipv6Multicast {
		return drop("not_our_mac")
	}
	switch et := eth.Type(); et {
	case header.EtherTypeVLAN, header.EtherTypeQinQ, header.EtherTypeQinQOld:
		// The ports are untagged: a tagged frame is never parsed past
		// its tag, whole or cut.
		return drop("vlan_tagged")
	case header.EtherTypeARP:
		return m.arp(eth)
	case header.EtherTypeIPv4:
		if !toUs {
			return drop("not_our_mac")
		}
	case etherTypeIPv6:
		return m.ipv6(eth, toUs)
	default:
		return drop("unsupported_l3")
	}
	ip := header.IPv4(eth.Payload())
	if len(ip) < header.IPv4MinHeaderLen {
		return drop("ipv4_truncated")
	}
	if ip.Version() != 4 {
		return drop("ipv4_bad_version")
	}
	ihl := ip.HeaderLen()
	if ihl < header.IPv4MinHeaderLen || ihl > len(ip) {
		return drop("ipv4_bad_ihl")
	}
	total := ip.TotalLength()
	if total < ihl || total > len(ip) {
		return drop("ipv4_bad_total_length")
	}
	if ip.Fragmented() { // MF or an offset
		return drop("ipv4_fragment")
	}
	if ihl > header.IPv4MinHeaderLen {
		return drop("ipv4_options")
	}
	key := flowKey{src: ip.SourceAddr().As4(), dst: ip.DestinationAddr().As4(), proto: ip.Protocol()}
	l4 := ip.Payload() // bytes past the total length are padding
	var flags uint8
	switch key.proto {
	case protoTCP:
		t := header.TCP(l4)
		if len(t) < header.TCPMinHeaderLen {
			return drop("tcp_truncated")
		}
		if off := t.DataOffset(); off < header.TCPMinHeaderLen || off > len(t) {
			return drop("tcp_bad_data_offset")
		}
		key.sport, key.dport, flags = t.SourcePort(), t.DestinationPort(), t.Flags()
	case protoUDP:
		u := header.UDP(l4)
		if len(u) < header.UDPHeaderLen {
			return drop("udp_truncated")
		}
		if ul := u.Length(); ul < header.UDPHeaderLen || ul > len(u) {
			return drop("udp_bad_length")
		}
		key.sport, key.dport = u.SourcePort(), u.DestinationPort()
	case protoICMP:
		return m.icmp(p, key.dst, l4)
	default:
		return drop("not_for_cluster")
	}
	svc := findService(key.dst, key.dport, key.proto)
	if svc < 0 {
		return drop("not_for_cluster")
	}
	return m.flow(p, key, svc, flags)
}

// ipv6ExtensionHeaders are the next header values that name an IPv6
// extension header rather than an upper-layer protocol (RFC 8200 §4,
// RFC 7045): hop-by-hop options, routing, fragment, ESP, AH, destination
// options, mobility, host identity, shim6. The gateway parses none of them.
var ipv6ExtensionHeaders = map[uint8]bool{0: true, 43: true, 44: true, 50: true, 51: true, 60: true, 135: true, 139: true, 140: true}

// ipv6: the fixed header is checked whatever the frame's destination MAC
// (one of the gateway's, broadcast or IPv6 multicast by now); ICMPv6 comes
// next, for Neighbor Discovery arrives multicast; anything else must be
// addressed to the gateway. The configuration has no IPv6 VIP, no IPv6
// server and no IPv6 gateway address, so no IPv6 packet is forwarded or
// answered: each is dropped under the first reason that applies.
func (m *model) ipv6(eth header.Ethernet, toUs bool) Expectation {
	ip := header.IPv6(eth.Payload())
	if len(ip) < header.IPv6HeaderLen {
		return drop("ipv6_truncated")
	}
	if ip.Version() != 6 {
		return drop("ipv6_bad_version")
	}
	n := ip.PayloadLength()
	if header.IPv6HeaderLen+n > len(ip) {
		return drop("ipv6_bad_length")
	}
	next := ip.NextHeader()
	if ipv6ExtensionHeaders[next] {
		return drop("ipv6_extension")
	}
	payload := ip[header.IPv6HeaderLen : header.IPv6HeaderLen+n] // the rest is padding
	if next == protoICMPv6 {
		return icmpv6(payload, ip.HopLimit(), toUs)
	}
	if !toUs {
		return drop("not_our_mac")
	}
	switch next {
	case protoTCP:
		t := header.TCP(payload)
		if len(t) < header.TCPMinHeaderLen {
			return drop("tcp_truncated")
		}
		if off := t.DataOffset(); off < header.TCPMinHeaderLen || off > len(t) {
			return drop("tcp_bad_data_offset")
		}
	case protoUDP:
		u := header.UDP(payload)
		if len(u) < header.UDPHeaderLen {
			return drop("udp_truncated")
		}
		if ul := u.Length(); ul < header.UDPHeaderLen || ul > len(u) {
			return drop("udp_bad_length")
		}
	}
	return drop("not_for_cluster") // no IPv6 service
}

// ICMPv6 Neighbor Discovery (RFC 4861 §4.3, §4.4): a solicitation or an
// advertisement holds at least the ICMPv6 header, four bytes and the
// target address, and arrives with hop limit 255 (proof it was not
// routed).
const (
	icmpv6NeighborSolicitation  = 135
	icmpv6NeighborAdvertisement = 136
	ndpMinLen                   = 8 + 16
	ndpHopLimit                 = 255
)

// icmpv6: a message shorter than its header is icmp_malformed, whoever it
// is for. A malformed solicitation or advertisement is malformed_ndp; a
// valid one is ndp_ignored: it asks for (or announces) no address the
// gateway owns, and teaches no server's MAC. Other types must be
// addressed to the gateway and then are for no IPv6 VIP.
func icmpv6(msg []byte, hopLimit uint8, toUs bool) Expectation {
	if len(msg) < header.ICMPHeaderLen {
		return drop("icmp_malformed")
	}
	switch header.ICMP(msg).Type() {
	case icmpv6NeighborSolicitation, icmpv6NeighborAdvertisement:
		if len(msg) < ndpMinLen || hopLimit != ndpHopLimit {
			return drop("malformed_ndp")
		}
		return drop("ndp_ignored")
	}
	if !toUs {
		return drop("not_our_mac")
	}
	return drop("not_for_cluster")
}

// flow is the connection state machine (docs/fastpath.md).
func (m *model) flow(p []byte, key flowKey, svc int, flags uint8) Expectation {
	tcp := key.proto == protoTCP
	opening := flags&(flagSYN|flagACK|flagRST|flagFIN) == flagSYN
	e := m.flows[key]
	if e != nil && tcp && opening && (e.state == stateFIN || e.state == stateRST) {
		delete(m.flows, key) // a new connection reusing a closing one's ports
		e = nil
	}
	if e != nil {
		if tcp {
			switch {
			case flags&flagRST != 0:
				e.state = stateRST
			default:
				if (e.state == stateSYN && flags&flagSYN == 0) || e.state == stateRST ||
					(e.state == stateFIN && flags&flagSYN != 0) {
					e.state = stateActive
				}
				if flags&flagFIN != 0 {
					e.state = stateFIN
				}
			}
		}
		return forwardTo(p, e.server)
	}
	if tcp && flags&flagSYN == 0 {
		return drop("non_syn_miss")
	}
	if tcp && !opening {
		return drop("bad_syn")
	}
	s := &services[svc]
	if s.unresolved {
		return drop("server_unresolved")
	}
	name := s.order[m.picks[svc]%len(s.order)]
	m.picks[svc]++
	state := stateActive
	if tcp {
		state = stateSYN
	}
	m.flows[key] = &entry{server: name, state: state}
	m.news[name]++
	return forwardTo(p, name)
}

// icmp: an ICMP error (destination unreachable, time exceeded) to a VIP
// quoting a packet that VIP sent on a connection the gateway knows (the
// quoted packet's destination and source are the connection's client and
// VIP) goes to that connection's server. An error too short to quote an
// IPv4 header and 8 bytes is icmp_malformed, one about anything else
// icmp_no_flow; echo requests (answered only when configured, and nothing
// configures it here) and other types are icmp_unhandled. ICMP to an
// address that is no VIP is not the cluster's.
func (m *model) icmp(p []byte, dst [4]byte, icmp []byte) Expectation {
	if !isVIP(dst) {
		return drop("not_for_cluster")
	}
	msg := header.ICMP(icmp)
	if len(msg) < header.ICMPHeaderLen {
		return drop("icmp_malformed")
	}
	if t := msg.Type(); t != header.ICMPDestUnreachable && t != header.ICMPTimeExceeded {
		return drop("icmp_unhandled")
	}
	quoted := header.IPv4(msg.Payload())
	if len(quoted) < header.IPv4MinHeaderLen || quoted.Version() != 4 {
		return drop("icmp_malformed")
	}
	ihl := quoted.HeaderLen()
	if ihl < header.IPv4MinHeaderLen || len(quoted) < ihl+8 { // 8: the ports and more
		return drop("icmp_malformed")
	}
	proto := quoted.Protocol()
	if quoted.SourceAddr().As4() != dst || (proto != protoTCP && proto != protoUDP) {
		return drop("icmp_no_flow")
	}
	// The quoted datagram went from the VIP to the client: the flow reversed.
	l4 := header.UDP(quoted[ihl:]) // TCP's ports are where UDP's are
	key := flowKey{src: quoted.DestinationAddr().As4(), dst: quoted.SourceAddr().As4(),
		sport: l4.DestinationPort(), dport: l4.SourcePort(), proto: proto}
	if e := m.flows[key]; e != nil {
		return forwardTo(p, e.server)
	}
	return drop("icmp_no_flow")
}

// arp: requests for a VIP or the gateway's address are answered in place;
// an ARP reply from the server resolved by ARP teaches its MAC and is
// consumed (not a drop); everything else is dropped.
func (m *model) arp(eth header.Ethernet) Expectation {
	a := header.ARP(eth.Payload())
	if !a.IsValid() {
		return drop("malformed_arp")
	}
	op := a.Op()
	sender, target := a.SenderAddr(), a.TargetAddr()
	if sender == arpResolved.IP && sender != target && op == header.ARPReply {
		return Expectation{Kind: Learned}
	}
	if op != header.ARPRequest || sender == target {
		return drop("arp_ignored")
	}
	if target != VIPA && target != VIPB && target != GatewayIP {
		return drop("arp_ignored")
	}
	out := header.Ethernet(bytes.Clone(eth))
	r := header.ARP(out.Payload())
	r.SetOp(header.ARPReply)
	r.SetTargetMAC(a.SenderMAC()) // target = the requester
	r.SetTargetIP(a.SenderIP())
	r.SetSenderMAC(GatewayMAC[:])
	r.SetSenderIP(a.TargetIP()) // sender = the address asked for
	out.SetDestination(a.SenderMAC())
	out.SetSource(GatewayMAC[:])
	return Expectation{Kind: Reply, Out: out}
}

func forwardTo(p []byte, name string) Expectation {
	out := header.Ethernet(bytes.Clone(p))
	mac := server(name).MAC
	out.SetDestination(mac[:])
	out.SetSource(GatewayMAC[:])
	return Expectation{Kind: Forward, Server: name, Out: out}
}
