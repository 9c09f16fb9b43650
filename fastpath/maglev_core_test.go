package fastpath

import (
	"net/netip"
	"testing"

	"vec/fastpath/pktbuild"
	"vec/internal/limits"
)

// coreOn builds a core over snap with a table of its own under seed.
func coreOn(t testing.TB, snap *Snapshot, seed uint64) *Core {
	t.Helper()
	table, err := NewTable(make([]Entry, TableSlots(1<<14)), seed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCore(snap, table, &ManualClock{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func synTo(f pktbuild.Flow) []byte { return pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil) }

// maglevCoreConfig: service 0 = VIP tcp/80 by Maglev over srv-0..srv-2
// (IDs 1..3) with weights; service 1 = VIP tcp/443 by WRR over servers 4
// and 5.
func maglevCoreConfig(weights ...int) *Config {
	wrr := ServiceConfig{ID: 1, VIP: vip, Proto: ProtoTCP, Port: 443, Servers: []ServerConfig{
		{ID: 4, Name: "w4", IP: netip.MustParseAddr("10.0.0.14"), MAC: serverMAC(4), Weight: 1},
		{ID: 5, Name: "w5", IP: netip.MustParseAddr("10.0.0.15"), MAC: serverMAC(5), Weight: 1},
	}}
	return &Config{GatewayMAC: gwMAC, GatewayIP: gwIP, Services: []ServiceConfig{maglevService(0, 1, weights), wrr}}
}

// currentServer is the server the snapshot's current table gives the flow
// from srcPort (tcpFlow).
func currentServer(t testing.TB, snap *Snapshot, srcPort uint16) ServerID {
	t.Helper()
	k := tcpKey(srcPort)
	svc := snap.serviceByID(0)
	return svc.servers[svc.maglev.pick((&Core{}).maglevSlot(&packetMeta{key: k}))]
}

func ack(srcPort uint16) []byte {
	return pktbuild.TCP(tcpFlow(srcPort), pktbuild.ACK, 2, 1, []byte("mid-flow"))
}

// A mid-flow segment of a connection another gateway scheduled goes to the
// server the table gives its flow (the one that gateway chose), with an
// embryonic entry that the flow's next segment makes ACTIVE.
func TestMaglevSecondChanceHash(t *testing.T) {
	cfg := maglevCoreConfig(1, 1, 1)
	h := newHarness(t, cfg, 64)
	other := newHarness(t, cfg, 64) // the gateway that saw the SYN
	want := other.syn(1000)
	p := ack(1000)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != want {
		t.Fatalf("mid-flow ACK without an entry: %v, want forward to server %d", v, want)
	}
	e := h.entry(1000)
	if e == nil || e.State != StateSYN || e.Server != want {
		t.Fatalf("entry %+v, want embryonic on server %d", e, want)
	}
	c := h.core
	if c.Counters.SecondChanceHash != 1 || c.Counters.SecondChancePrevious != 0 || c.Counters.Drops[DropNonSYNMiss] != 0 {
		t.Fatalf("second chances: hash %d, previous %d; non_syn_miss %d", c.Counters.SecondChanceHash, c.Counters.SecondChancePrevious, c.Counters.Drops[DropNonSYNMiss])
	}
	if s := c.Servers[want]; s.Active != 1 || s.New != 0 {
		t.Fatalf("server counters %+v: want one active connection, not counted as new", s)
	}
	p = ack(1000)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != want || c.Counters.SecondChanceHash != 1 {
		t.Fatalf("next segment: %v, second chances %d", v, c.Counters.SecondChanceHash)
	}
	if e := h.entry(1000); e == nil || e.State != StateActive {
		t.Fatalf("entry after the flow's next segment: %+v, want ACTIVE", e)
	}
	// A FIN without an entry gets its server and a FIN entry.
	p = pktbuild.TCP(tcpFlow(1001), pktbuild.FIN|pktbuild.ACK, 5, 5, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != currentServer(t, h.core.snap, 1001) {
		t.Fatalf("FIN without an entry: %v", v)
	}
	if e := h.entry(1001); e == nil || e.State != StateFIN {
		t.Fatalf("entry after a FIN: %+v", e)
	}
}

// After a weight change moves a flow's slot, its mid-flow segments follow
// the previous table (the connection began before the change) while its
// new connections follow the current one; a slot both tables agree on is
// a plain second chance.
func TestMaglevSecondChancePrevious(t *testing.T) {
	before := maglevCoreConfig(1, 1, 1)
	h := newHarness(t, before, 256)
	after := maglevCoreConfig(1, 1, 8)
	after.Previous = h.core.snap
	next, err := NewSnapshot(after)
	if err != nil {
		t.Fatal(err)
	}
	moved, kept := uint16(0), uint16(0)
	for port := uint16(1000); port < 3000 && (moved == 0 || kept == 0); port++ {
		if currentServer(t, h.core.snap, port) != currentServer(t, next, port) {
			if moved == 0 {
				moved = port
			}
		} else if kept == 0 {
			kept = port
		}
	}
	if moved == 0 || kept == 0 {
		t.Fatal("no flow found whose slot moved, or none whose slot stayed")
	}
	old := currentServer(t, h.core.snap, moved)
	h.core.SetSnapshot(next)
	p := ack(moved)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != old {
		t.Fatalf("mid-flow ACK of a moved slot: %v, want forward to the previous table's server %d", v, old)
	}
	if e := h.entry(moved); e == nil || e.Server != old || e.State != StateSYN {
		t.Fatalf("entry %+v", e)
	}
	p = ack(kept)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != currentServer(t, next, kept) {
		t.Fatalf("mid-flow ACK of an unmoved slot: %v", v)
	}
	if c := h.core.Counters; c.SecondChancePrevious != 1 || c.SecondChanceHash != 1 {
		t.Fatalf("second chances: previous %d, hash %d", c.SecondChancePrevious, c.SecondChanceHash)
	}
	if got, want := h.syn(moved+10000), currentServer(t, next, moved+10000); got != want {
		t.Fatalf("new connection went to %d, the current table gives %d", got, want)
	}

}

// A server that leaves the service drains first (weight 0, still listed):
// mid-flow segments of its slots still reach it through the previous
// table. Once it is gone, they go to the current table's server.
func TestMaglevSecondChanceDrainingThenRemovedServer(t *testing.T) {
	h := newHarness(t, maglevCoreConfig(1, 1, 1), 256)
	const leaving = ServerID(2)
	port := uint16(1000)
	for currentServer(t, h.core.snap, port) != leaving {
		port++
	}
	draining := maglevCoreConfig(1, 0, 1)
	draining.Previous = h.core.snap
	snapDraining, err := NewSnapshot(draining)
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snapDraining)
	p := ack(port)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != leaving {
		t.Fatalf("mid-flow ACK of a draining server's slot: %v, want forward to %d", v, leaving)
	}
	h.core.removeEntry(h.slotOf(port), removeStale)

	removed := maglevCoreConfig(1, 0, 1)
	removed.Services[0].Servers = append(removed.Services[0].Servers[:1:1], removed.Services[0].Servers[2])
	removed.Previous = snapDraining
	snapRemoved, err := NewSnapshot(removed)
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snapRemoved)
	p = ack(port)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != currentServer(t, snapRemoved, port) {
		t.Fatalf("mid-flow ACK of a removed server's slot: %v, want forward to the current table's %d", v, currentServer(t, snapRemoved, port))
	}
	if c := h.core.Counters; c.SecondChancePrevious != 1 || c.SecondChanceHash != 1 {
		t.Fatalf("second chances: previous %d, hash %d", c.SecondChancePrevious, c.SecondChanceHash)
	}
}

// slotOf is the table slot of the entry of the flow from srcPort.
func (h *harness) slotOf(srcPort uint16) int {
	t := h.core.table
	k := tcpKey(srcPort)
	found, _ := t.find(k, t.home(t.hash(k)))
	if found < 0 {
		h.t.Fatalf("no entry for port %d", srcPort)
	}
	return found
}

// The second chance is a Maglev service's alone, and never while the table
// is being rebuilt.
func TestMaglevSecondChanceOnlyWhenActive(t *testing.T) {
	h := newHarness(t, maglevCoreConfig(1, 1, 1), 64)
	f := tcpFlow(1000)
	f.DstPort = 443
	if v := h.send(pktbuild.TCP(f, pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("mid-flow ACK of a WRR service: %v, want non_syn_miss", v)
	}
	h.core.SetMode(ModeRecovering)
	if v := h.send(ack(1000)); v != DropVerdict(DropTakeoverMiss) {
		t.Fatalf("mid-flow ACK of a Maglev service while recovering: %v, want takeover_miss", v)
	}
	c := h.core.Counters
	if c.SecondChanceHash+c.SecondChancePrevious != 0 || h.core.table.Len() != 0 {
		t.Fatalf("second chances %d + %d, %d entries", c.SecondChanceHash, c.SecondChancePrevious, h.core.table.Len())
	}
	h.core.SetMode(ModeActive)
	if v := h.send(ack(1000)); v != VerdictForward || h.core.Counters.SecondChanceHash != 1 {
		t.Fatalf("mid-flow ACK once active: %v", v)
	}
}

// A lone mid-flow segment (a spoofed ACK, say) leaves only an embryonic
// entry, which the SYN timer removes as it does a lone SYN's.
func TestMaglevSecondChanceLoneACKExpires(t *testing.T) {
	cfg := maglevCoreConfig(1, 1, 1)
	h := newHarness(t, cfg, 64)
	if v := h.send(ack(1000)); v != VerdictForward {
		t.Fatalf("mid-flow ACK without an entry: %v", v)
	}
	h.expiresAfter(1000, StateSYN, limits.DefaultSynTimeout)
	if h.core.Counters.ExpiredSYN != 1 {
		t.Fatalf("expired embryonic entries: %d, want 1", h.core.Counters.ExpiredSYN)
	}
	h.checkBalance()
}
