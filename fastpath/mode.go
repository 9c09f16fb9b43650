package fastpath

import (
	"net/netip"

	"vec/fastpath/header"
	"vec/internal/limits"
)

// Mode is what a core does with the traffic it receives, set by the
// recovery control plane between bursts (docs/recovery.md).
type Mode uint8

// Modes.
const (
	// ModeActive forwards: the patent's Fig. 7A/7B as they stand.
	ModeActive Mode = iota
	// ModeRecovering forwards like ModeActive while the connection table is
	// being rebuilt from the servers' agents: new connections are served
	// at once, but a TCP segment of an unknown flow is dropped as
	// takeover_miss instead of non_syn_miss (its entry may not be installed
	// yet; TCP retransmits it). It is never given a new server.
	ModeRecovering
	// ModeStandby is a backup gateway's: it drops every IPv4 frame
	// (standby) and answers no ARP request for a VIP, so it claims nothing
	// and forwards nothing. ARP for the gateway's own address is still
	// answered and servers' ARP still teaches their MACs, so a standby is
	// ready to take over.
	ModeStandby
)

func (m Mode) String() string {
	switch m {
	case ModeActive:
		return "active"
	case ModeRecovering:
		return "recovering"
	case ModeStandby:
		return "standby"
	}
	return "unknown"
}

// SetMode switches the core's mode; call it between bursts from the core's
// own goroutine. Entering ModeStandby empties the table: a backup forwards
// nothing, and when it becomes active again it rebuilds from the agents,
// whose listing is newer than anything it held (a stale entry would
// otherwise win over the agents' for a client port reused meanwhile).
func (c *Core) SetMode(m Mode) {
	if m == ModeStandby && c.mode != ModeStandby {
		c.flush()
	}
	c.mode = m
	c.missReason = DropNonSYNMiss
	if m == ModeRecovering {
		c.missReason = DropTakeoverMiss
	}
}

// flush removes every entry, settling the servers' gauges.
func (c *Core) flush() {
	t := c.table
	if t.count > 0 {
		t.clear()
	}
	for i := range c.Servers {
		sc := &c.Servers[i]
		sc.Completed += uint64(sc.Active + sc.FIN)
		sc.Active, sc.FIN = 0, 0
	}
	c.Counters.Flushed++
	c.Counters.Entries = 0
}

// Mode returns the core's mode.
func (c *Core) Mode() Mode { return c.mode }

// standbyChunk decides a chunk in ModeStandby: ARP is parsed (to learn the
// servers' MACs and answer for the gateway's own address), everything else
// is dropped.
func (c *Core) standbyChunk(pkts [][]byte, verdicts []Verdict, now int64) {
	for i, p := range pkts {
		v := DropVerdict(DropStandby)
		if eth := header.Ethernet(p); eth.IsValid() && (eth.Type() == header.EtherTypeARP || isNDP(p)) {
			m := &c.meta[i]
			m.slot6 = uint8(i)
			v = c.classifyAny(p, m, now)
			if c.resized != nil {
				pkts[i], c.resized = c.resized, nil
			}
		}
		verdicts[i] = v
		c.count(v)
	}
}

// isNDP reports whether frame p is an untagged IPv6 Neighbor Solicitation
// or Advertisement, which a backup still handles (its own address, and
// learning servers' MACs) as it does ARP.
func isNDP(p []byte) bool {
	const next, typ = header.UntaggedIPv6Offset + header.IPv6NextHeaderOffset, header.UntaggedIPv6L4Offset + header.ICMPTypeOffset
	return len(p) > typ && header.Ethernet(p).Type() == header.EtherTypeIPv6 && p[next] == header.ICMPv6ProtocolNumber &&
		(p[typ] == header.ICMPv6NeighborSolicitation || p[typ] == header.ICMPv6NeighborAdvertisement)
}

// InstallEntry is one connection rebuilt from a server's shadow table. An
// IPv6 connection has Key.IPv6 set, its ports and protocol in Key and its
// addresses in Addrs (Install folds them into the key, Key's addresses are
// not read).
type InstallEntry struct {
	Key     FlowKey
	Addrs   Addrs6
	Service ServiceID
	Server  ServerID
	State   ConnState
}

// InstallResult counts what Install did with a chunk of entries.
type InstallResult struct {
	// Installed entries are in the table now.
	Installed int
	// Existing entries were left out because the table already had the
	// flow: a packet this gateway saw itself is newer evidence than the
	// agent's listing.
	Existing int
	// Full entries found no room.
	Full int
	// Invalid entries named no protocol, an out-of-range ID or an unknown
	// state.
	Invalid int
}

// Install adds rebuilt connection entries to the core's table, each as if
// its last packet had been seen now, and counts them on their servers'
// ACTIVE and FIN gauges (not as new connections: they were scheduled by
// another gateway). Call it between bursts from the core's own goroutine;
// the caller bounds the chunk so a burst is never held up for long.
func (c *Core) Install(entries []InstallEntry) InstallResult {
	var r InstallResult
	now := c.clock.Now()
	t := c.table
	for i := range entries {
		e := &entries[i]
		if e.Key.Proto == 0 || int(e.Server) >= limits.MaxServers || int(e.Service) >= limits.MaxServices ||
			(e.State != StateActive && e.State != StateFIN) {
			r.Invalid++
			continue
		}
		m := packetMeta{key: e.Key} // slot6 0: Install runs between bursts
		if e.Key.IPv6 {
			*c.addrs(&m) = e.Addrs
			m.key = t.key6(&e.Addrs, e.Key.SrcPort, e.Key.DstPort, e.Key.Proto)
		}
		m.home = t.home(t.hash(m.key))
		found, free := c.lookup(&m)
		if found >= 0 {
			r.Existing++
			continue
		}
		var slot *Entry
		if !t.Full() {
			slot = c.insertMeta(free, &m)
		}
		if slot == nil {
			r.Full++
			continue
		}
		slot.Server, slot.Service, slot.State, slot.LastSeen = e.Server, e.Service, e.State, now
		sc := &c.Servers[e.Server]
		if e.State == StateFIN {
			sc.FIN++
		} else {
			sc.Active++
		}
		r.Installed++
	}
	c.Counters.Installed += uint64(r.Installed)
	c.Counters.InstallExisting += uint64(r.Existing)
	c.Counters.InstallFull += uint64(r.Full)
	c.Counters.Entries = uint64(t.count)
	return r
}

// AnnouncementLen is the room WriteAnnouncement needs per frame.
const AnnouncementLen = ndpFrameLen

// WriteAnnouncement writes into b (at least AnnouncementLen bytes) the
// frame that tells the segment vip is at mac, and returns b cut to its
// length: for an IPv4 address a broadcast gratuitous ARP request (sender
// and target address both vip), which hosts that have vip in their ARP
// cache take as the new MAC (Linux even within its locktime); for an IPv6
// one an unsolicited Neighbor Advertisement with the override flag to all
// nodes (RFC 4861 §7.2.6), which hosts that have vip in their neighbor
// cache take as the new MAC at once. A gateway taking over moves a VIP's
// traffic to itself so.
func WriteAnnouncement(b []byte, mac [6]byte, vip netip.Addr) []byte {
	if !vip.Is6() || vip.Is4In6() {
		b = b[:ARPRequestLen]
		ip := ipv4Uint32(vip.Unmap())
		writeARPRequest(b, mac, ip, ip)
		return b
	}
	b = b[:ndpFrameLen]
	target := vip.As16()
	writeNDP(b, mac, allNodesMAC, &target, &allNodes, &target, header.ICMPv6NeighborAdvertisement, header.NDPFlagOverride,
		header.NDPTargetLinkLayer)
	return b
}

// allNodes is ff02::1, the link's all-nodes multicast group, and
// allNodesMAC its Ethernet address.
var (
	allNodes    = [16]byte{0xff, 0x02, 15: 1}
	allNodesMAC = [6]byte{0x33, 0x33, 0, 0, 0, 1}
)
