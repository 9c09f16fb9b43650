package fastpath

// DropReason says why the fastpath dropped a packet. Every dropped packet is
// counted under exactly one reason.
type DropReason uint8

// Drop reasons. Keep dropReasonNames in step.
const (
	DropNotOurMAC          DropReason = iota // unicast frame for another MAC, or multicast
	DropUnsupportedL3                        // EtherType other than IPv4, IPv6 or ARP
	DropNotForCluster                        // IPv4 to an address/protocol/port no service owns
	DropNonSYNMiss                           // TCP segment without SYN and without a table entry
	DropNoServer                             // no server with a non-zero weight
	DropTableFull                            // new connection while the table is full and nothing can be evicted
	DropARPIgnored                           // ARP that needs no answer: a reply, gratuitous, or for another address
	DropMalformedEthernet                    // truncated Ethernet header
	DropMalformedARP                         // truncated ARP, or not Ethernet/IPv4 ARP
	DropIPv4Truncated                        // fewer than 20 bytes of IPv4 header
	DropIPv4BadVersion                       // version field is not 4
	DropIPv4BadIHL                           // IHL < 5 or the header runs past the frame
	DropIPv4BadTotalLength                   // total length < header length or past the frame
	DropIPv4Fragment                         // fragments are not reassembled (yet)
	DropIPv4Options                          // IP options are not supported (yet)
	DropTCPTruncated                         // fewer than 20 bytes of TCP header
	DropTCPBadDataOffset                     // data offset < 5 or past the segment
	DropUDPTruncated                         // fewer than 8 bytes of UDP header
	DropUDPBadLength                         // UDP length < 8 or past the datagram
	DropServerUnresolved                     // new connection while the servers that could take it have not answered ARP
	DropTakeoverMiss                         // TCP segment without SYN and without an entry while the table is being rebuilt
	DropStandby                              // a backup gateway (ModeStandby) forwards nothing and claims no VIP
	DropBadSYN                               // SYN with ACK, RST or FIN and no entry: opens nothing
	DropVLANTagged                           // 802.1Q/802.1ad-tagged frame: the gateway's ports are untagged
	DropICMPUnhandled                        // ICMP to a VIP that is neither an error nor an echo request it answers
	DropICMPMalformed                        // ICMP error too short to hold the IPv4 header and 8 bytes it quotes
	DropICMPNoFlow                           // ICMP error quoting a packet of no connection in this core's table
	// DropOversize: a frame longer than its port's MTU allows, or one
	// that arrived in several mbufs; the gateway drops it before the
	// fastpath sees it (it would see the first segment only).
	DropOversize
	DropEncapNoHeadroom // no room before the frame for an encapsulating service's outer headers
	DropEncapTooBig     // longer than Encapsulation.MTU once encapsulated, without Don't Fragment (no ICMP to answer with; the gateway does not fragment)
	DropIPv6Truncated   // fewer than 40 bytes of IPv6 header
	DropIPv6BadVersion  // version field is not 6
	DropIPv6BadLength   // payload length past the frame
	DropIPv6Extension   // an extension header (hop-by-hop, routing, fragment, …): not parsed
	DropMalformedNDP    // Neighbor Solicitation or Advertisement too short, or without the hop limit 255 it must have
	DropNDPIgnored      // NDP that needs no answer: for another address, a DAD probe, an advertisement from no server
	NumDropReasons
)

var dropReasonNames = [NumDropReasons]string{
	DropNotOurMAC:          "not_our_mac",
	DropUnsupportedL3:      "unsupported_l3",
	DropNotForCluster:      "not_for_cluster",
	DropNonSYNMiss:         "non_syn_miss",
	DropNoServer:           "no_server",
	DropTableFull:          "table_full",
	DropARPIgnored:         "arp_ignored",
	DropMalformedEthernet:  "malformed_ethernet",
	DropMalformedARP:       "malformed_arp",
	DropIPv4Truncated:      "ipv4_truncated",
	DropIPv4BadVersion:     "ipv4_bad_version",
	DropIPv4BadIHL:         "ipv4_bad_ihl",
	DropIPv4BadTotalLength: "ipv4_bad_total_length",
	DropIPv4Fragment:       "ipv4_fragment",
	DropIPv4Options:        "ipv4_options",
	DropTCPTruncated:       "tcp_truncated",
	DropTCPBadDataOffset:   "tcp_bad_data_offset",
	DropUDPTruncated:       "udp_truncated",
	DropUDPBadLength:       "udp_bad_length",
	DropServerUnresolved:   "server_unresolved",
	DropTakeoverMiss:       "takeover_miss",
	DropStandby:            "standby",
	DropBadSYN:             "bad_syn",
	DropVLANTagged:         "vlan_tagged",
	DropICMPUnhandled:      "icmp_unhandled",
	DropICMPMalformed:      "icmp_malformed",
	DropICMPNoFlow:         "icmp_no_flow",
	DropOversize:           "oversize",
	DropEncapNoHeadroom:    "encap_no_headroom",
	DropEncapTooBig:        "encap_too_big",
	DropIPv6Truncated:      "ipv6_truncated",
	DropIPv6BadVersion:     "ipv6_bad_version",
	DropIPv6BadLength:      "ipv6_bad_length",
	DropIPv6Extension:      "ipv6_extension",
	DropMalformedNDP:       "malformed_ndp",
	DropNDPIgnored:         "ndp_ignored",
}

// String returns the reason's snake_case name, as used in metrics and logs.
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// CoreCounters are one worker core's packet counters. They are plain
// integers owned by the core's goroutine; other goroutines read copies.
// For every burst: RX == TX + Replies + ARPLearned + Σ Drops.
type CoreCounters struct {
	RX      uint64 // packets handed to ProcessBurst
	TX      uint64 // packets forwarded to a server (ICMPErrors included)
	Replies uint64 // ARP and ICMP echo replies sent back
	// ARPLearned counts ARP replies (and Neighbor Advertisements) from
	// servers resolved by ARP (or NDP): read to learn the server's MAC,
	// then released (not sent, not dropped).
	ARPLearned uint64
	Drops      [NumDropReasons]uint64
	// ICMPErrors counts ICMP errors (destination unreachable, among them
	// fragmentation needed, and time exceeded) forwarded to the server of
	// the connection they quote; EchoReplies the echo replies among Replies.
	ICMPErrors  uint64
	EchoReplies uint64
	// Encapsulated counts the packets among TX sent to an encapsulating
	// service's servers (IPIP or GUE); TooBig the ICMP "fragmentation
	// needed" messages among Replies sent to clients whose packets would
	// exceed Encapsulation.MTU once encapsulated.
	Encapsulated uint64
	TooBig       uint64

	// Entries evicted to make room for a new connection in a full table:
	// closing (FIN or RST) ones first, then embryonic (SYN) ones, then
	// ACTIVE ones idle for longer than ActiveEvictIdle.
	EvictedSYN    uint64
	EvictedFIN    uint64
	EvictedActive uint64
	ExpiredStale  uint64 // entries removed by the stale timer
	ExpiredFIN    uint64 // entries removed by the FIN timer
	ExpiredSYN    uint64 // embryonic entries removed by the SYN timer
	ExpiredReset  uint64 // entries removed by the reset timer after an RST
	Resets        uint64 // entries moved to the RST state by an RST
	// ReusedFIN counts SYNs that found the FIN or RST entry of a closing
	// connection with the same ports and were scheduled as new connections.
	ReusedFIN uint64
	// RescheduledSYN counts SYNs that found an ACTIVE entry of a server
	// that takes no new connections and were scheduled anew.
	RescheduledSYN uint64
	// SecondChanceHash and SecondChancePrevious count TCP segments without
	// SYN and without an entry, of a Maglev service, that were given the
	// server of the flow's slot instead of being dropped (docs/maglev.md):
	// the service's current and previous tables agreeing on it, or the
	// previous table's server where they disagree.
	SecondChanceHash     uint64
	SecondChancePrevious uint64
	// Installed counts entries rebuilt from the servers' agents (Install);
	// InstallExisting the rebuilt entries not installed because the table
	// already had the flow, InstallFull those the full table had no room for.
	Installed       uint64
	InstallExisting uint64
	InstallFull     uint64
	// Flushed counts the times the table was emptied on entering standby.
	Flushed uint64
	Entries uint64 // live entries in the table now
}

// Accounted returns TX + Replies + ARPLearned + Σ Drops: every packet that
// came in has exactly one fate, so it equals RX.
func (c *CoreCounters) Accounted() uint64 { return c.TX + c.Replies + c.ARPLearned + c.TotalDrops() }

// TotalDrops returns Σ Drops.
func (c *CoreCounters) TotalDrops() uint64 {
	var sum uint64
	for _, d := range c.Drops {
		sum += d
	}
	return sum
}

// ServerCounters are one server's counters on one core (patent Fig. 8's node
// characteristics). Active and FIN are gauges; the rest only grow.
type ServerCounters struct {
	Active    int64  `json:"active"`    // entries in ACTIVE state
	FIN       int64  `json:"fin"`       // entries in FIN state
	Completed uint64 `json:"completed"` // entries removed (RST, FIN or stale timeout, eviction)
	New       uint64 `json:"new"`       // connections assigned to this server
	Packets   uint64 `json:"packets"`   // packets forwarded to this server
	Bytes     uint64 `json:"bytes"`     // frame bytes forwarded to this server
}

// Add accumulates o into c, for summing the cores' counters.
func (c *ServerCounters) Add(o *ServerCounters) {
	c.Active += o.Active
	c.FIN += o.FIN
	c.Completed += o.Completed
	c.New += o.New
	c.Packets += o.Packets
	c.Bytes += o.Bytes
}
