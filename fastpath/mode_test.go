package fastpath

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// A standby forwards nothing, opens no entry, claims no VIP, but answers
// ARP for its own address and learns servers' MACs.
func TestStandbyDropsEverythingButARP(t *testing.T) {
	nb := NewNeighbors(8)
	h := newHarness(t, arpConfig(nb, true, true), 16)
	h.core.SetMode(ModeStandby)
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropStandby) {
		t.Fatalf("SYN on a standby: %v", v)
	}
	if v := h.send(pktbuild.UDP(udpFlow(1), []byte("q"))); v != DropVerdict(DropStandby) {
		t.Fatalf("UDP on a standby: %v", v)
	}
	if h.core.table.Len() != 0 {
		t.Fatalf("standby opened %d entries", h.core.table.Len())
	}
	if v := h.send(pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{})); v != DropVerdict(DropStandby) {
		t.Fatalf("ARP for the VIP on a standby: %v", v)
	}
	if v := h.send(pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, gwIP, [6]byte{})); v != VerdictReply {
		t.Fatalf("ARP for the gateway's own address on a standby: %v", v)
	}
	if v := h.send(pktbuild.ARP(2, gwMAC, s1MAC, s1IP, gwIP, gwMAC)); v != VerdictConsumed {
		t.Fatalf("server's ARP reply on a standby: %v", v)
	}
	if !nb.ResolvedIPs(h.clock.Now())[s1IP] {
		t.Fatal("standby did not learn the server's MAC")
	}
	if h.core.Counters.Drops[DropStandby] != 3 {
		t.Fatalf("standby drops %d, want 3", h.core.Counters.Drops[DropStandby])
	}
	// Becoming active, the same SYN is served.
	h.core.SetMode(ModeActive)
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
		t.Fatalf("SYN after becoming active: %v", v)
	}
}

// While recovering, a segment of an unknown flow is a takeover miss, never
// given a server; a SYN is served at once; back in ModeActive the same
// segment is an ordinary non-SYN miss.
func TestRecoveringCountsTakeoverMisses(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	h.core.SetMode(ModeRecovering)
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.ACK, 5, 5, []byte("x"))); v != DropVerdict(DropTakeoverMiss) {
		t.Fatalf("unknown segment while recovering: %v", v)
	}
	h.open(2)
	h.core.SetMode(ModeActive)
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.ACK, 5, 5, []byte("x"))); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("unknown segment when active: %v", v)
	}
	if c := h.core.Counters; c.Drops[DropTakeoverMiss] != 1 || c.Drops[DropNonSYNMiss] != 1 {
		t.Fatalf("takeover misses %d, non-SYN misses %d", c.Drops[DropTakeoverMiss], c.Drops[DropNonSYNMiss])
	}
}

// Installed entries carry their flows to the named server, in their state,
// count on the gauges but not as new connections; an entry the core
// already has is left alone; a full table and invalid entries are counted.
func TestInstallRebuildsEntries(t *testing.T) {
	h := newHarness(t, testConfig(), 4)
	h.clock.Advance(time.Second)
	own := h.open(7) // a connection this gateway scheduled itself
	other := ServerID(1)
	if own == 1 {
		other = 2
	}
	r := h.core.Install([]InstallEntry{
		{Key: tcpKey(1), Service: 0, Server: 2, State: StateActive},
		{Key: tcpKey(2), Service: 0, Server: 1, State: StateFIN},
		{Key: tcpKey(7), Service: 0, Server: other, State: StateActive},
		{Key: tcpKey(8), Service: 0, Server: 1, State: 0},
		{Key: tcpKey(3), Service: 0, Server: 1, State: StateActive},
		{Key: tcpKey(4), Service: 0, Server: 1, State: StateActive},
	})
	if r != (InstallResult{Installed: 3, Existing: 1, Full: 1, Invalid: 1}) {
		t.Fatalf("install result %+v", r)
	}
	if e := h.entry(1); e == nil || e.Server != 2 || e.State != StateActive || e.LastSeen != int64(time.Second) {
		t.Fatalf("installed entry %+v", e)
	}
	if e := h.entry(7); e.Server != own {
		t.Fatalf("the core's own entry was overwritten: server %d, want %d", e.Server, own)
	}
	p := pktbuild.TCP(tcpFlow(1), pktbuild.ACK, 9, 9, []byte("data"))
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != 2 {
		t.Fatalf("segment of an installed flow: %v", v)
	}
	if c := h.core.Servers[1]; c.FIN != 1 || c.Active != boolInt(own == 1)+1 || c.New != uint64(boolInt(own == 1)) {
		t.Fatalf("server 1 counters %+v (own connection on %d)", c, own)
	}
	if c := h.core.Counters; c.Installed != 3 || c.InstallExisting != 1 || c.InstallFull != 1 || c.Entries != 4 {
		t.Fatalf("core counters installed %d existing %d full %d entries %d", c.Installed, c.InstallExisting, c.InstallFull, c.Entries)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// An installed entry whose server has not answered ARP yet holds its
// packets back (server_unresolved) instead of sending them to a zero MAC.
func TestInstalledEntryWaitsForServerMAC(t *testing.T) {
	nb := NewNeighbors(8)
	h := newHarness(t, arpConfig(nb), 16)
	h.core.Install([]InstallEntry{{Key: tcpKey(1), Service: 0, Server: 1, State: StateActive}})
	p := pktbuild.TCP(tcpFlow(1), pktbuild.ACK, 9, 9, nil)
	orig := bytes.Clone(p)
	if v := h.send(p); v != DropVerdict(DropServerUnresolved) || !bytes.Equal(p, orig) {
		t.Fatalf("segment before the server answered ARP: %v", v)
	}
	h.send(pktbuild.ARP(2, gwMAC, s1MAC, s1IP, gwIP, gwMAC))
	if v := h.send(p); v != VerdictForward || !bytes.Equal(header.Ethernet(p).Destination(), s1MAC[:]) {
		t.Fatalf("segment after the server answered: %v to %x", v, header.Ethernet(p).Destination())
	}
}

// A VIP whose servers have not answered ARP is not claimed until one has.
func TestVIPClaimedOnlyOnceServable(t *testing.T) {
	nb := NewNeighbors(8)
	cfg := arpConfig(nb)
	cfg.Services = cfg.Services[:1]
	h := newHarness(t, cfg, 16)
	arpForVIP := func() Verdict {
		return h.send(pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{}))
	}
	if v := arpForVIP(); v != DropVerdict(DropARPIgnored) {
		t.Fatalf("ARP for a VIP nobody can serve yet: %v", v)
	}
	h.core.SetSnapshot(mustSnapshot(t, func() *Config { c := arpConfig(nb, true); c.Services = c.Services[:1]; return c }()))
	if v := arpForVIP(); v != VerdictReply {
		t.Fatalf("ARP for a VIP with a resolved server: %v", v)
	}
	// All servers quiesced: the VIP stays claimed for the open connections.
	quiet := arpConfig(nb)
	quiet.Services = quiet.Services[:1]
	for i := range quiet.Services[0].Servers {
		quiet.Services[0].Servers[i].Weight = 0
	}
	h.core.SetSnapshot(mustSnapshot(t, quiet))
	if v := arpForVIP(); v != VerdictReply {
		t.Fatalf("ARP for a VIP whose servers are quiesced: %v", v)
	}
}

// A VIP is announced by gratuitous ARP, an IPv6 VIP by an unsolicited
// Neighbor Advertisement (override, no solicited flag) to all nodes.
func TestAnnouncementFrames(t *testing.T) {
	b := make([]byte, AnnouncementLen)
	want := pktbuild.ARP(1, pktbuild.Broadcast, gwMAC, vip, vip, pktbuild.MAC{})
	if got := WriteAnnouncement(b, gwMAC, vip); !bytes.Equal(got, want) {
		t.Fatalf("gratuitous ARP\n got %x\nwant %x", got, want)
	}
	target := vip6.As16()
	body := append(target[:], 2, 1)
	body = append(body, gwMAC[:]...)
	f := pktbuild.Flow{SrcMAC: gwMAC, DstMAC: pktbuild.MAC{0x33, 0x33, 0, 0, 0, 1}, SrcIP: vip6, DstIP: netip.MustParseAddr("ff02::1")}
	want = pktbuild.ICMPv6(f, 255, 136, 0, [4]byte{0x20}, body)
	if got := WriteAnnouncement(make([]byte, AnnouncementLen), gwMAC, vip6); !bytes.Equal(got, want) {
		t.Fatalf("unsolicited NA\n got %x\nwant %x", got, want)
	}
}

// Entering standby empties the table and settles the gauges, so that a
// later takeover rebuilds from the agents alone.
func TestStandbyFlushesTable(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1)
	h.core.SetMode(ModeStandby)
	if h.core.table.Len() != 0 || h.entry(1) != nil {
		t.Fatalf("standby kept %d entries", h.core.table.Len())
	}
	if c := h.core.Servers[srv]; c.Active != 0 || c.Completed != 1 {
		t.Fatalf("server counters after the flush %+v", c)
	}
	h.core.SetMode(ModeActive)
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("segment of a flushed flow: %v", v)
	}
}
