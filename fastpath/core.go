package fastpath

import (
	"encoding/binary"
	"errors"
	"time"

	"vec/fastpath/header"
	"vec/internal/limits"
)

// TCP flags the connection state machine reads (header's, under the names
// the fastpath has always used).
const (
	TCPFlagFIN = header.TCPFlagFIN
	TCPFlagSYN = header.TCPFlagSYN
	TCPFlagRST = header.TCPFlagRST
	TCPFlagACK = header.TCPFlagACK
)

// MaxBurst is the largest burst ProcessBurst handles in one pass; longer
// slices are processed in chunks.
const MaxBurst = 256

// DefaultReapSweep is how long the reaper takes to visit every slot of the
// table once when the core was made with a zero sweep period. An entry is
// removed at most this long after its timer ran out (a lookup finds it
// expired sooner, so no packet is ever sent on an expired entry).
const DefaultReapSweep = time.Second

// maxReapSlots bounds the slots one Reap call examines, so a long pause
// between calls cannot turn into one long stall of the poll loop.
const maxReapSlots = 4096

// Verdict is what the caller must do with one packet of a burst.
type Verdict uint8

// Verdicts. A drop verdict carries its DropReason: Verdict(verdictDropBase+r).
const (
	// VerdictForward: the frame's MACs were rewritten; send it out the port
	// it came in on (one-armed direct server return).
	VerdictForward Verdict = iota
	// VerdictReply: the frame was turned into a reply in place (ARP, or an
	// ICMP echo reply for a VIP); send it out the port it came in on.
	VerdictReply
	// VerdictConsumed: the frame did its work inside the gateway (an ARP
	// reply from a server, learned from); it is not sent, and not a drop.
	VerdictConsumed
	verdictDropBase
)

// DropVerdict returns the verdict that drops a packet for reason r.
func DropVerdict(r DropReason) Verdict { return verdictDropBase + Verdict(r) }

// Transmits reports whether the packet is to be sent.
func (v Verdict) Transmits() bool { return v <= VerdictReply }

// DropReason returns why the packet was dropped; only for drop verdicts.
func (v Verdict) DropReason() DropReason { return DropReason(v - verdictDropBase) }

func (v Verdict) String() string {
	switch v {
	case VerdictForward:
		return "forward"
	case VerdictReply:
		return "reply"
	case VerdictConsumed:
		return "consumed"
	}
	return "drop:" + v.DropReason().String()
}

// packetMeta is what the first pass over a burst learns about one flow
// packet, so the second pass does not parse again.
type packetMeta struct {
	key      FlowKey
	home     int
	service  int32 // services index, or quotedFlow
	tcpFlags uint8
	// slot6 is where an IPv6 flow's addresses are (key.IPv6):
	// Core.addrs6[slot6]. They are not in the meta itself, which stays 32
	// bytes, half a cache line, for the IPv4 packets.
	slot6 uint8
}

// addrs returns the addresses of m's IPv6 flow.
func (c *Core) addrs(m *packetMeta) *Addrs6 { return &c.addrs6[m.slot6] }

// lookup finds m's flow in the table: find, or find6 for an IPv6 flow.
func (c *Core) lookup(m *packetMeta) (found, free int) {
	if m.key.IPv6 {
		return c.table.find6(m.key, c.addrs(m), m.home)
	}
	return c.table.find(m.key, m.home)
}

// insertMeta inserts m's flow at free; nil when it is an IPv6 flow and the
// table has no room for IPv6 addresses (Table.EnableIPv6).
func (c *Core) insertMeta(free int, m *packetMeta) *Entry {
	if m.key.IPv6 {
		return c.table.insertAt6(free, m.key, c.addrs(m))
	}
	return c.table.insertAt(free, m.key)
}

// quotedFlow is packetMeta.service for an ICMP error: key is the
// connection it quotes, whose server it goes to (forwardICMPError).
const quotedFlow = -1

// Core is one worker core's fastpath: its connection table, its WRR
// positions and its counters. Exactly one goroutine uses a Core; nothing in
// it is locked or shared.
type Core struct {
	snap  *Snapshot
	table *Table
	clock Clock

	// mode is set by SetMode; missReason is the drop reason of a TCP
	// segment of an unknown flow in that mode.
	mode       Mode
	missReason DropReason

	// The reaper visits len(slots) slots per reapSweep nanoseconds of clock
	// time; reapCredit carries the fraction between calls (in slot·ns).
	reapSweep  int64
	lastReap   int64
	reapCredit int64

	wrr [limits.MaxServices]wrrState // indexed by ServiceID

	// Counters and Servers are written only by the owning goroutine.
	Counters CoreCounters
	Servers  [limits.MaxServers]ServerCounters // indexed by ServerID

	meta [MaxBurst]packetMeta
	// addrs6 holds the addresses of a chunk's IPv6 flow packets
	// (packetMeta.slot6); homes6 are their home slots (n6 of them), whose
	// addresses in the table are prefetched with the slots.
	addrs6 [MaxBurst]Addrs6
	homes6 [MaxBurst]int32
	n6     int
	// homes are the home slots of a chunk's flow packets, prefetched
	// together between the two passes; openingHomes those of its SYNs,
	// kept apart because with the table full each SYN will also scan the
	// slots after its home for an entry to evict.
	homes        [MaxBurst]int32
	openingHomes [MaxBurst]int32

	// lastService remembers the last service lookup: traffic comes in runs
	// of packets for the same VIP and port.
	lastService  serviceCache
	lastService6 serviceCache6

	// headroom is how many bytes before each frame the core may write
	// (SetHeadroom). resized is set, for one packet, when its frame no
	// longer starts or ends where it did (encapsulated, or turned into a
	// shorter reply): processChunk puts it in the burst in the frame's place.
	headroom int
	resized  []byte
}

type serviceCache struct {
	key   uint64
	index int32 // services index + 1; 0 = nothing cached
}

// NewCore builds a core over table, reading time from clock. reapSweep is
// how long one pass of the reaper over the whole table takes (0 =
// DefaultReapSweep).
func NewCore(snap *Snapshot, table *Table, clock Clock, reapSweep time.Duration) (*Core, error) {
	if snap == nil || table == nil || clock == nil {
		return nil, errors.New("fastpath: NewCore needs a snapshot, a table and a clock")
	}
	if reapSweep <= 0 {
		reapSweep = DefaultReapSweep
	}
	return &Core{snap: snap, table: table, clock: clock, reapSweep: int64(reapSweep), lastReap: clock.Now(),
		missReason: DropNonSYNMiss}, nil
}

// SetSnapshot switches the core to a new configuration. Call it between
// bursts, from the core's own goroutine. Connection entries and WRR positions
// carry over: both are keyed by stable IDs.
func (c *Core) SetSnapshot(s *Snapshot) {
	c.snap = s
	c.lastService, c.lastService6 = serviceCache{}, serviceCache6{}
}

// Snapshot returns the configuration the core is running.
func (c *Core) Snapshot() *Snapshot { return c.snap }

// Table returns the core's connection table (for the owning goroutine only).
func (c *Core) Table() *Table { return c.table }

// ProcessBurst decides every packet of a burst, rewriting frames in place,
// and writes one verdict per packet into verdicts (len(verdicts) must be at
// least len(pkts)). A frame that changes size is replaced in pkts by a view
// of the same buffer: an encapsulated one starts up to EncapHeadroom bytes
// earlier (see SetHeadroom), a reply may end earlier; the caller sends
// pkts[i] as it finds it afterwards. It reads the clock once per chunk of
// MaxBurst packets and never allocates.
func (c *Core) ProcessBurst(pkts [][]byte, verdicts []Verdict) {
	verdicts = verdicts[:len(pkts)]
	for len(pkts) > 0 {
		n := min(len(pkts), MaxBurst)
		c.processChunk(pkts[:n], verdicts[:n])
		pkts, verdicts = pkts[n:], verdicts[n:]
	}
	c.Counters.Entries = uint64(c.table.count)
}

// isFlow marks, in the first pass, a packet whose verdict the second pass
// decides. It is never a real verdict: drops start at verdictDropBase and
// leave room for every reason below notCommon.
const isFlow Verdict = 255

// notCommon is what commonFlow returns for a frame it does not recognise:
// classifyAny decides it. Like isFlow, never a real verdict.
const notCommon Verdict = 254

func (c *Core) processChunk(pkts [][]byte, verdicts []Verdict) {
	now := c.clock.Now()
	c.Counters.RX += uint64(len(pkts))
	if c.mode == ModeStandby {
		c.standbyChunk(pkts, verdicts, now)
		return
	}
	// Pass 1: parse, classify and hash; then prefetch every flow's home
	// slot in one call (a call into assembly per packet cost more than the
	// loop inside one), so that the cache misses of the whole burst
	// overlap.
	flows, opening := 0, 0
	c.n6 = 0
	for i, p := range pkts {
		// A packet of a configured service (isFlow, m filled in), an ARP
		// request answered in place (VerdictReply), or a drop verdict;
		// nearly every frame takes commonFlow's short way (commonFlow6's
		// for IPv6).
		m := &c.meta[i]
		v := c.commonFlow(p, m)
		if v == notCommon {
			m.slot6 = uint8(i)
			v = c.commonFlow6(p, m)
		}
		if v == notCommon {
			v = c.classifyAny(p, m, now)
			if c.resized != nil { // a reply shorter than its frame
				pkts[i], c.resized = c.resized, nil
			}
		}
		verdicts[i] = v
		switch {
		case v != isFlow:
		case m.tcpFlags&TCPFlagSYN != 0:
			c.openingHomes[opening] = int32(m.home)
			opening++
		default:
			c.homes[flows] = int32(m.home)
			flows++
		}
	}
	prefetchSlots(c.table.slot(0), &c.homes[0], flows)
	if c.table.Full() {
		// Each SYN will look for an entry to evict (makeRoom): fetch
		// the slots it will read now, all of the burst's at once.
		prefetchWindows(c.table.slot(0), &c.openingHomes[0], opening, c.table.mask)
	} else {
		prefetchSlots(c.table.slot(0), &c.openingHomes[0], opening)
	}
	c.table.prefetchAddrs6(&c.homes6[0], c.n6)
	// Pass 2: the state machine, in arrival order.
	for i, p := range pkts {
		v := verdicts[i]
		if v == isFlow {
			if m := &c.meta[i]; m.service != quotedFlow {
				v = c.handleFlow(p, m, now)
			} else {
				v = c.forwardICMPError(p, m)
			}
			verdicts[i] = v
			if c.resized != nil {
				pkts[i], c.resized = c.resized, nil
			}
		}
		c.count(v)
	}
}

// count adds one packet's verdict to the core's counters.
func (c *Core) count(v Verdict) {
	switch {
	case v == VerdictForward:
		c.Counters.TX++
	case v == VerdictReply:
		c.Counters.Replies++
	case v == VerdictConsumed:
		c.Counters.ARPLearned++
	default:
		c.Counters.Drops[v.DropReason()]++
	}
}

// Absolute offsets of the fields commonFlow reads in the frame it
// recognises: untagged Ethernet, then IPv4 without options, then TCP or UDP.
const (
	commonIPv4       = header.UntaggedIPv4Offset
	commonL4         = header.UntaggedL4Offset
	commonIPVerIHL   = commonIPv4 + header.IPv4VersionIHLOffset
	commonIPTotalLen = commonIPv4 + header.IPv4TotalLenOffset
	commonIPFrag     = commonIPv4 + header.IPv4FlagsFragOffset
	commonIPProto    = commonIPv4 + header.IPv4ProtocolOffset
	commonIPSrc      = commonIPv4 + header.IPv4SrcAddrOffset
	commonIPDst      = commonIPv4 + header.IPv4DstAddrOffset
	commonSrcPort    = commonL4 + header.TCPSrcPortOffset // UDP's too
	commonDstPort    = commonL4 + header.TCPDstPortOffset // UDP's too
	// commonMinLen holds a UDP header (checkCommonL4 checks a TCP one).
	commonMinLen = commonL4 + header.UDPHeaderLen
)

// commonFlow recognises, with one length check and fixed offsets, the
// frame nearly every packet is: addressed to the gateway, untagged IPv4
// without options or fragmentation, carrying a whole TCP or UDP header. It
// fills m's key and flags from it and decides it as flowPacket does. It
// accepts only what classifyAny would accept with the same result, and
// returns notCommon for anything else: that takes the longer way, which
// also names the drop reason.
func (c *Core) commonFlow(p []byte, m *packetMeta) Verdict {
	if len(p) < commonMinLen {
		return notCommon
	}
	be := binary.BigEndian
	if !c.snap.untaggedToGateway(p, header.EtherTypeIPv4) || p[commonIPVerIHL] != header.IPv4VersionIHLNoOptions ||
		header.FragmentBits(be.Uint16(p[commonIPFrag:])) {
		return notCommon
	}
	total := int(be.Uint16(p[commonIPTotalLen:]))
	if total > len(p)-commonIPv4 {
		return notCommon
	}
	flags, ok := checkCommonL4(p[commonL4:], total-header.IPv4MinHeaderLen, p[commonIPProto])
	if !ok {
		return notCommon
	}
	k := &m.key
	k.SrcIP, k.DstIP = be.Uint32(p[commonIPSrc:]), be.Uint32(p[commonIPDst:])
	k.SrcPort, k.DstPort, k.Proto, k.IPv6 = be.Uint16(p[commonSrcPort:]), be.Uint16(p[commonDstPort:]), p[commonIPProto], false
	m.tcpFlags = flags
	return c.flowPacket(m)
}

// untaggedToGateway reports whether frame p, at least an Ethernet header
// long, is addressed to the gateway's MAC and untagged, of EtherType
// etherType: the first test of the common paths.
func (s *Snapshot) untaggedToGateway(p []byte, etherType uint16) bool {
	hi, lo := header.Ethernet(p).DestinationHiLo()
	return hi == s.gatewayMACHi && lo == s.gatewayMACLo && binary.BigEndian.Uint16(p[header.EthernetTypeOffset:]) == etherType
}

// checkCommonL4 checks, for the common paths, the TCP or UDP header at the
// start of l4 (protocol proto), of which the IP header says n bytes are
// TCP or UDP, as parsePorts would: ok, with the TCP flags, when it would
// accept it. l4 holds at least a UDP header (the callers' minimum
// length), which keeps this small enough to be inlined.
func checkCommonL4(l4 []byte, n int, proto uint8) (flags uint8, ok bool) {
	switch proto {
	case ProtoTCP:
		if n < header.TCPMinHeaderLen || len(l4) < header.TCPMinHeaderLen {
			return 0, false
		}
		if off := header.DataOffsetBytes(l4[header.TCPDataOffsetOffset]); off < header.TCPMinHeaderLen || off > n {
			return 0, false
		}
		return l4[header.TCPFlagsOffset], true
	case ProtoUDP:
		if n < header.UDPHeaderLen {
			return 0, false
		}
		ul := int(binary.BigEndian.Uint16(l4[header.UDPLengthOffset:]))
		return 0, ul >= header.UDPHeaderLen && ul <= n
	}
	return 0, false
}

// problemReason is the drop reason of each problem a header's Check finds.
var problemReason = [header.NumProblems]DropReason{
	header.IPv4Truncated:      DropIPv4Truncated,
	header.IPv4BadVersion:     DropIPv4BadVersion,
	header.IPv4BadIHL:         DropIPv4BadIHL,
	header.IPv4BadTotalLength: DropIPv4BadTotalLength,
	header.IPv4Fragment:       DropIPv4Fragment,
	header.IPv4Options:        DropIPv4Options,
	header.TCPTruncated:       DropTCPTruncated,
	header.TCPBadDataOffset:   DropTCPBadDataOffset,
	header.UDPTruncated:       DropUDPTruncated,
	header.UDPBadLength:       DropUDPBadLength,
	header.IPv6Truncated:      DropIPv6Truncated,
	header.IPv6BadVersion:     DropIPv6BadVersion,
	header.IPv6BadLength:      DropIPv6BadLength,
	header.IPv6Extension:      DropIPv6Extension,
}

// classifyAny parses any frame, header by header, naming the reason for
// every drop.
func (c *Core) classifyAny(p []byte, m *packetMeta, now int64) Verdict {
	eth := header.Ethernet(p)
	if !eth.IsValid() {
		return DropVerdict(DropMalformedEthernet)
	}
	dst := eth.DestinationUint64()
	toUs, broadcast := dst == c.snap.gatewayMAC64, dst == broadcastMAC64
	if !toUs && !broadcast && dst>>ipv6MulticastMACShift != ipv6MulticastMACPrefix {
		return DropVerdict(DropNotOurMAC)
	}
	if eth.Tagged() {
		// The gateway's ports are untagged (access ports): a tagged frame
		// would be forwarded on the client's VLAN, and the ARP and
		// service lookups would read it at the wrong offsets.
		return DropVerdict(DropVLANTagged)
	}
	switch eth.Type() {
	case header.EtherTypeARP:
		return c.handleARP(eth, now)
	case header.EtherTypeIPv4:
		if !toUs {
			return DropVerdict(DropNotOurMAC)
		}
	case header.EtherTypeIPv6:
		return c.classifyIPv6(eth, toUs, m, now)
	default:
		return DropVerdict(DropUnsupportedL3)
	}
	ip := header.IPv4(eth.Payload())
	if pr := ip.Check(); pr != header.OK {
		return DropVerdict(problemReason[pr])
	}
	proto := ip.Protocol()
	if proto == ProtoICMP {
		return c.handleICMP(p, ip, m)
	}
	srcPort, dstPort, v := parsePorts(proto, ip.Payload(), m)
	if v != isFlow {
		return v
	}
	k := &m.key
	k.SrcIP, k.DstIP, k.SrcPort, k.DstPort, k.Proto, k.IPv6 = ip.Source(), ip.Destination(), srcPort, dstPort, proto, false
	return c.flowPacket(m)
}

// parsePorts checks the TCP or UDP header l4 of protocol proto and returns
// its ports, with the TCP flags in m; or the drop verdict of a bad header,
// or of another protocol (not_for_cluster). isFlow means it parsed.
func parsePorts(proto uint8, l4 []byte, m *packetMeta) (srcPort, dstPort uint16, v Verdict) {
	switch proto {
	case ProtoTCP:
		t := header.TCP(l4)
		if pr := t.Check(); pr != header.OK {
			return 0, 0, DropVerdict(problemReason[pr])
		}
		m.tcpFlags = t.Flags()
		return t.SourcePort(), t.DestinationPort(), isFlow
	case ProtoUDP:
		u := header.UDP(l4)
		if pr := u.Check(); pr != header.OK {
			return 0, 0, DropVerdict(problemReason[pr])
		}
		m.tcpFlags = 0
		return u.SourcePort(), u.DestinationPort(), isFlow
	}
	return 0, 0, DropVerdict(DropNotForCluster)
}

// handleICMP forwards an ICMP error about a served connection to that
// connection's server, and answers an echo request to a VIP that is
// configured to answer. With direct server return a server's replies leave
// from the VIP, so the errors they cause (fragmentation needed above all:
// without it path-MTU discovery black-holes large downloads) come back to
// the VIP and only the server can act on them. The quoted datagram is one
// the server sent: VIP:port → client:port, the connection's key reversed.
// An error is looked up in the second pass, in arrival order (a connection
// opened earlier in the same burst has its entry by then), and in this
// core's table only: an error that RSS hands to another worker than the
// connection's is dropped as icmp_no_flow (docs/fastpath.md).
func (c *Core) handleICMP(frame []byte, ip header.IPv4, m *packetMeta) Verdict {
	if _, ok := c.snap.vips[ip.Destination()]; !ok {
		return DropVerdict(DropNotForCluster)
	}
	msg := header.ICMP(ip.Payload())
	if !msg.IsValid() {
		return DropVerdict(DropICMPMalformed)
	}
	switch msg.Type() {
	case header.ICMPDestUnreachable, header.ICMPTimeExceeded:
	case header.ICMPEchoRequest:
		return c.answerEcho(frame, ip, msg)
	default:
		return DropVerdict(DropICMPUnhandled)
	}
	q := header.QuotedDatagram(msg.Payload())
	if !q.IsValid() {
		return DropVerdict(DropICMPMalformed)
	}
	proto := q.Protocol()
	if q.Source() != ip.Destination() || (proto != ProtoTCP && proto != ProtoUDP) {
		return DropVerdict(DropICMPNoFlow) // not about a datagram from this VIP
	}
	vipPort, clientPort := q.Ports()
	client, vip := q.Destination(), q.Source()
	m.key = FlowKey{SrcIP: client, DstIP: vip, SrcPort: clientPort, DstPort: vipPort, Proto: proto}
	m.home = c.table.home(hashTuple(client, vip, clientPort, vipPort, proto, c.table.seed))
	m.service = quotedFlow
	return isFlow
}

// forwardICMPError sends an ICMP error to the server of the connection it
// quotes (m.key), leaving the connection's entry as it is.
func (c *Core) forwardICMPError(frame []byte, m *packetMeta) Verdict {
	t := c.table
	found, _ := c.lookup(m)
	if found < 0 {
		return DropVerdict(DropICMPNoFlow)
	}
	v := c.forward(frame, t.slots[found].Server)
	if v == VerdictForward {
		c.Counters.ICMPErrors++
	}
	return v
}

// answerEcho turns an echo request to an answering VIP into the echo reply,
// in place: addresses swapped, type 0, checksum adjusted.
func (c *Core) answerEcho(frame []byte, ip header.IPv4, msg header.ICMP) Verdict {
	vip := ip.Destination()
	if _, ok := c.snap.echoVIPs[vip]; !ok {
		return DropVerdict(DropICMPUnhandled)
	}
	if _, claimed := c.snap.arpTargets[vip]; !claimed {
		return DropVerdict(DropICMPUnhandled) // not servable yet: not ours to answer
	}
	eth := header.Ethernet(frame)
	eth.SetDestination(eth.Source())
	eth.SetSourceUint64(c.snap.gatewayMAC64)
	src := ip.Source()
	ip.SetSource(vip)
	ip.SetDestination(src)
	old := msg.TypeCode()
	msg.SetType(header.ICMPEchoReply)
	msg.SetChecksum(header.ChecksumAdjust(msg.Checksum(), old, msg.TypeCode()))
	c.Counters.EchoReplies++
	return VerdictReply
}

// flowPacket finds the service of a parsed TCP or UDP packet, whose key and
// flags are in m, and completes m for the second pass, or drops a packet no
// service owns.
func (c *Core) flowPacket(m *packetMeta) Verdict {
	k := &m.key
	var svc int
	if key := serviceKey(k.DstIP, k.DstPort, k.Proto); c.lastService.index != 0 && c.lastService.key == key {
		svc = int(c.lastService.index) - 1
	} else {
		if svc = c.snap.findService(k.DstIP, k.DstPort, k.Proto); svc < 0 {
			return DropVerdict(DropNotForCluster)
		}
		c.lastService = serviceCache{key: key, index: int32(svc) + 1}
	}
	m.home = c.table.home(hashTuple(k.SrcIP, k.DstIP, k.SrcPort, k.DstPort, k.Proto, c.table.seed))
	m.service = int32(svc)
	return isFlow
}

// handleFlow runs the per-packet state machine of patent Fig. 7A (an entry
// exists) and Fig. 7B (none does) for a packet of a configured service. It
// decides the packet nearly every packet is, a segment without SYN, FIN or
// RST of a live ACTIVE connection (or a datagram of a live UDP flow), in a
// few lines, and leaves every other case to decideFlow.
func (c *Core) handleFlow(p []byte, m *packetMeta, now int64) Verdict {
	if m.key.IPv6 {
		// IPv6 has its own short way: its lookup inlined beside IPv4's
		// costs every IPv4 packet more than the IPv6 ones save.
		return c.handleFlow6(p, m, now)
	}
	t := c.table
	found, free := t.find(m.key, m.home)
	if found >= 0 {
		e := &t.slots[found]
		if e.State == StateActive && m.tcpFlags&(TCPFlagSYN|TCPFlagFIN|TCPFlagRST) == 0 &&
			now-e.LastSeen <= c.snap.services[m.service].staleTimeout {
			e.LastSeen = now
			return c.forward(p, e.Server)
		}
	}
	return c.decideFlow(p, m, now, found, free)
}

// decideFlow is handleFlow for every other packet, given what the lookup
// found: the entry's slot (or -1) and the first free slot of the key's
// probe run.
func (c *Core) decideFlow(p []byte, m *packetMeta, now int64, found, free int) Verdict {
	svc := &c.snap.services[m.service]
	t := c.table
	if found >= 0 && c.expired(&t.slots[found], svc, now) {
		// The reaper has not reached this entry yet; it is gone all the same.
		c.removeEntry(found, expiryReason(&t.slots[found]))
		found, free = c.lookup(m)
	}
	opening := m.tcpFlags&(TCPFlagSYN|TCPFlagACK|TCPFlagRST|TCPFlagFIN) == TCPFlagSYN
	if found >= 0 && opening && !t.slots[found].State.closing() && !c.snap.serverTakesNew[t.slots[found].Server] {
		// A SYN on an ACTIVE (or embryonic) entry whose server takes no new
		// connections (down, quiesced, draining): the client reuses the
		// ports of an attempt the server refused (with DSR its RST never
		// passes here, so the entry lives on), or retransmits a SYN the
		// server never answered. Either way the server is not taking it:
		// schedule it anew, as IPVS's expire_nodest_conn does.
		c.Counters.RescheduledSYN++
		c.removeEntry(found, removeReused)
		found, free = c.lookup(m)
	}
	if found >= 0 && opening && t.slots[found].State.closing() {
		// A client reusing the ports of a closing connection (within
		// fin_timeout or the reset timeout, common with many short
		// connections): this SYN opens a new connection, so it is
		// scheduled and counted as one, instead of re-activating the old
		// entry as Fig. 7A has it. Following the old server would skip the
		// round robin and hide the connection from the manager's input
		// metrics (IPVS's conn_reuse_mode), and send it to a server that
		// may no longer take new ones.
		c.Counters.ReusedFIN++
		c.removeEntry(found, removeReused)
		found, free = c.lookup(m)
	}
	if found >= 0 {
		return c.existing(p, found, m.tcpFlags, now)
	}
	// Fig. 7B: no entry. Only a SYN (or any UDP datagram) opens one, and
	// only a SYN that opens a connection: a SYN+ACK, SYN+RST or SYN+FIN is
	// no client's first packet (scans, floods, stray replies).
	tcp := m.key.Proto == ProtoTCP
	if tcp && m.tcpFlags&TCPFlagSYN == 0 {
		if svc.maglev != nil && c.mode == ModeActive {
			return c.secondChance(p, m, svc, now, free)
		}
		return DropVerdict(c.missReason)
	}
	if tcp && !opening {
		return DropVerdict(DropBadSYN)
	}
	if svc.maxWeight == 0 {
		if svc.unresolved {
			return DropVerdict(DropServerUnresolved)
		}
		return DropVerdict(DropNoServer)
	}
	free, ok := c.makeRoom(m, free, now)
	if !ok {
		return DropVerdict(DropTableFull)
	}
	var server ServerID
	if svc.maglev != nil {
		server = svc.servers[svc.maglev.pick(c.maglevSlot(m))]
	} else {
		server = svc.servers[c.wrr[svc.id].pick(svc.weights, svc.maxWeight)]
	}
	e := c.insertMeta(free, m)
	if e == nil {
		return DropVerdict(DropTableFull) // no room for IPv6 addresses
	}
	// A TCP entry starts embryonic (short timer, evicted before live ones) until the
	// client's next packet; a UDP datagram has no handshake to wait for.
	state := StateActive
	if tcp {
		state = StateSYN
	}
	e.Server, e.Service, e.State, e.LastSeen = server, svc.id, state, now
	sc := &c.Servers[server]
	sc.New++
	sc.Active++
	return c.forward(p, server)
}

// makeRoom returns the slot m's new entry goes in: free, or, when the table
// is full, the slot an evicted entry leaves (closing ones first, then
// embryonic ones, then idle ACTIVE ones, docs/conntable.md); false when
// nothing near the key's home may be evicted.
func (c *Core) makeRoom(m *packetMeta, free int, now int64) (int, bool) {
	t := c.table
	if !t.Full() {
		return free, true
	}
	victim := t.victimNear(m.home, now, int64(ActiveEvictIdle))
	if victim < 0 {
		return free, false
	}
	switch t.slots[victim].State {
	case StateSYN:
		c.Counters.EvictedSYN++
	case StateFIN, StateRST:
		c.Counters.EvictedFIN++
	default:
		c.Counters.EvictedActive++
	}
	if t.onProbePath(victim, m.home, free) {
		// The new key takes the victim's slot in place: every slot
		// from its home up to there is occupied, so lookups still
		// find it, and no entry has to shift back.
		c.settleRemoved(victim, removeEvicted)
		t.count--
		return victim, true
	}
	c.removeEntry(victim, removeEvicted)
	_, free = c.lookup(m)
	return free, true
}

// secondChance handles a TCP segment without SYN that has no entry, of a
// Maglev service in ModeActive: a connection another gateway scheduled
// (the router behind several gateways rehashed it here) or one this
// gateway forgot. Both tables of the service are asked for the flow's
// slot (maglevLookup.secondChance): when they agree the packet goes to that
// server (second_chance_hash), when they disagree to the previous table's
// (second_chance_previous): the connection most likely began before the
// change. The flow gets an entry, not counted as a new connection (another
// gateway scheduled it): embryonic, FIN or RST after this segment's flags.
func (c *Core) secondChance(p []byte, m *packetMeta, svc *service, now int64, free int) Verdict {
	index, previous := svc.maglev.secondChance(c.maglevSlot(m))
	if index < 0 {
		return DropVerdict(c.missReason)
	}
	free, ok := c.makeRoom(m, free, now)
	if !ok {
		return DropVerdict(DropTableFull)
	}
	server := svc.servers[index]
	e := c.insertMeta(free, m)
	if e == nil {
		return DropVerdict(DropTableFull)
	}
	// Embryonic until the flow's next packet makes it ACTIVE (existing): a
	// lone, perhaps spoofed, ACK leaves an entry that the SYN timer removes
	// and a full table evicts first, as a lone SYN's is.
	e.Server, e.Service, e.State, e.LastSeen = server, svc.id, StateSYN, now
	c.Servers[server].Active++
	if previous {
		c.Counters.SecondChancePrevious++
	} else {
		c.Counters.SecondChanceHash++
	}
	switch {
	case m.tcpFlags&TCPFlagRST != 0:
		c.Counters.Resets++
		c.setState(e, StateRST)
	case m.tcpFlags&TCPFlagFIN != 0:
		c.setState(e, StateFIN)
	}
	return c.forward(p, server)
}

// existing is Fig. 7A with the embryonic and reset states: RST moves the
// entry to RST (a short timer, the server kept); the client's first packet
// without SYN makes an embryonic entry ACTIVE; any packet without RST makes
// an RST entry ACTIVE again (the RST was not the client's); SYN re-activates
// a FIN entry; FIN marks it FIN. The packet always goes to the entry's
// server.
func (c *Core) existing(p []byte, slot int, flags uint8, now int64) Verdict {
	e := &c.table.slots[slot]
	e.LastSeen = now
	if flags&TCPFlagRST != 0 {
		if e.State != StateRST {
			c.Counters.Resets++
			c.setState(e, StateRST)
		}
		return c.forward(p, e.Server)
	}
	if (e.State == StateSYN && flags&TCPFlagSYN == 0) || e.State == StateRST ||
		(e.State == StateFIN && flags&TCPFlagSYN != 0) {
		c.setState(e, StateActive)
	}
	if flags&TCPFlagFIN != 0 && e.State != StateFIN {
		c.setState(e, StateFIN)
	}
	return c.forward(p, e.Server)
}

// setState moves e to state s and its server from one gauge to the other
// when s counts on a different one.
func (c *Core) setState(e *Entry, s ConnState) {
	if e.State.closing() != s.closing() {
		sc := &c.Servers[e.Server]
		if s.closing() {
			sc.Active--
			sc.FIN++
		} else {
			sc.FIN--
			sc.Active++
		}
	}
	e.State = s
}

// forward rewrites the frame for direct server return: destination MAC = the
// server's, source MAC = the gateway's, nothing else; or, for a server of an
// encapsulating service, encapsulates it (encapsulate).
func (c *Core) forward(p []byte, server ServerID) Verdict {
	s := c.snap
	mac := s.serverMAC[server] // with the forwarding mode above the MAC's 48 bits
	if slot := s.serverNeighbor[server]; slot >= 0 {
		// An entry rebuilt from an agent may name a server that has not
		// answered ARP yet (a gateway just started): hold its packets
		// back until it has, TCP retransmits them.
		learned := s.neighbors.slots[slot].mac.Load()
		if learned == 0 {
			return DropVerdict(DropServerUnresolved)
		}
		mac |= learned
	}
	if mac>>forwardingShift != uint64(ForwardDSR) {
		return c.encapsulate(p, server, Forwarding(mac>>forwardingShift), mac&macMask)
	}
	eth := header.Ethernet(p)
	eth.SetDestinationUint64(mac)
	eth.SetSourceUint64(s.gatewayMAC64)
	sc := &c.Servers[server]
	sc.Packets++
	sc.Bytes += uint64(len(p))
	return VerdictForward
}

type removeReason uint8

const (
	removeEvicted removeReason = iota
	removeReused
	removeStale
	removeFINTimeout
	removeSYNTimeout
	removeResetTimeout
)

// expiryReason names the timer that removes e.
func expiryReason(e *Entry) removeReason {
	switch e.State {
	case StateFIN:
		return removeFINTimeout
	case StateSYN:
		return removeSYNTimeout
	case StateRST:
		return removeResetTimeout
	}
	return removeStale
}

// expired reports whether e's timer ran out: stale for ACTIVE, FIN for FIN,
// SYN for embryonic and reset for RST entries. svc is e's service, or nil
// when the snapshot no longer has it.
func (c *Core) expired(e *Entry, svc *service, now int64) bool {
	timeout := int64(limits.DefaultStaleTimeout)
	switch e.State {
	case StateFIN:
		timeout = int64(limits.DefaultFinTimeout)
		if svc != nil {
			timeout = svc.finTimeout
		}
	case StateSYN:
		timeout = int64(limits.DefaultSynTimeout)
		if svc != nil {
			timeout = svc.synTimeout
		}
	case StateRST:
		timeout = int64(limits.DefaultResetTimeout)
		if svc != nil {
			timeout = svc.resetTimeout
		}
	default:
		if svc != nil {
			timeout = svc.staleTimeout
		}
	}
	return now-e.LastSeen > timeout
}

// removeEntry deletes slot and settles its server's counters.
func (c *Core) removeEntry(slot int, why removeReason) {
	c.settleRemoved(slot, why)
	c.table.deleteAt(slot)
}

// settleRemoved settles the counters of the entry in slot, which is about to
// be deleted or overwritten.
func (c *Core) settleRemoved(slot int, why removeReason) {
	e := &c.table.slots[slot]
	sc := &c.Servers[e.Server]
	if e.State.closing() {
		sc.FIN--
	} else {
		sc.Active--
	}
	sc.Completed++
	switch why {
	case removeStale:
		c.Counters.ExpiredStale++
	case removeFINTimeout:
		c.Counters.ExpiredFIN++
	case removeSYNTimeout:
		c.Counters.ExpiredSYN++
	case removeResetTimeout:
		c.Counters.ExpiredReset++
	}
}

// Reap removes entries whose timer ran out, a few slots at a time: called
// once per poll iteration, it examines as many slots as the time since the
// last call is worth (the whole table per sweep period, at most maxReapSlots
// per call), so the work is spread evenly and never stops the world. It
// returns how many entries it removed.
func (c *Core) Reap() int {
	now := c.clock.Now()
	c.reapCredit += (now - c.lastReap) * int64(len(c.table.slots))
	c.lastReap = now
	slots := min(c.reapCredit/c.reapSweep, maxReapSlots)
	c.reapCredit -= slots * c.reapSweep
	c.reapCredit = min(c.reapCredit, c.reapSweep) // a stall does not pile up credit
	return c.reapSlots(now, int(slots))
}

// reapSlots examines the next n slots from the reaper's cursor.
func (c *Core) reapSlots(now int64, n int) int {
	t := c.table
	removed := 0
	for range n {
		e := &t.slots[t.cursor]
		if !e.empty() && c.expired(e, c.snap.serviceByID(e.Service), now) {
			// Backward-shift deletion may pull a later entry into this
			// slot, so look at the same slot again next.
			c.removeEntry(t.cursor, expiryReason(e))
			removed++
			continue
		}
		t.cursor = int(uint64(t.cursor+1) & t.mask)
	}
	c.Counters.Entries = uint64(t.count)
	return removed
}

// handleARP learns the MAC of a server resolved by ARP from any ARP packet
// it sends, and turns an ARP request for a VIP or the gateway's address
// into the reply, in place.
func (c *Core) handleARP(eth header.Ethernet, now int64) Verdict {
	a := header.ARP(eth.Payload())
	if !a.IsValid() {
		return DropVerdict(DropMalformedARP)
	}
	target := a.TargetIP()
	if slot, ok := c.snap.neighborByIP[a.SenderIP()]; ok && a.SenderIP() != target {
		c.snap.neighbors.learn(slot, a.SenderMAC(), now)
		if a.Op() == header.ARPReply {
			return VerdictConsumed
		}
	}
	if a.Op() != header.ARPRequest || a.SenderIP() == target {
		return DropVerdict(DropARPIgnored) // replies and gratuitous ARP
	}
	if _, ours := c.snap.arpTargets[target]; !ours {
		return DropVerdict(DropARPIgnored)
	}
	if c.mode == ModeStandby && target != c.snap.gatewayIP {
		return DropVerdict(DropStandby) // a backup claims no VIP
	}
	mac := c.snap.gatewayMAC
	// Reply: target := sender, sender := us.
	a.SetOp(header.ARPReply)
	a.SetTargetMAC(a.SenderMAC())
	a.SetTargetIP(a.SenderIP())
	a.SetSenderMAC(mac[:])
	a.SetSenderIP(target)
	eth.SetDestination(a.TargetMAC())
	eth.SetSource(mac[:])
	return VerdictReply
}
