package fastpath

import (
	"testing"
	"time"

	"vec/fastpath/pktbuild"
	"vec/internal/limits"
)

// A SYN flood fills the table with embryonic entries; they are the ones
// evicted for new SYNs, so a legitimate client still gets an entry and the
// established connections are never thrown out.
func TestSYNFloodEvictsEmbryonicNeverRecentActive(t *testing.T) {
	h := newHarness(t, testConfig(), 4) // 8 slots, capacity 4: all in one eviction window
	est1, est2 := h.open(1), h.open(2)
	for port := uint16(10000); port < 10200; port++ {
		h.clock.Advance(10 * time.Millisecond)
		if v := h.send(pktbuild.TCP(tcpFlow(port), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
			t.Fatalf("flood SYN from port %d: %v", port, v)
		}
		if port%20 == 0 { // the established connections keep talking
			for srcPort, srv := range map[uint16]ServerID{1: est1, 2: est2} {
				p := pktbuild.TCP(tcpFlow(srcPort), pktbuild.ACK, 2, 1, []byte("data"))
				if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
					t.Fatalf("established flow %d during the flood: %v", srcPort, v)
				}
			}
		}
	}
	if h.core.table.Len() != 4 {
		t.Fatalf("table holds %d entries, want it full (4)", h.core.table.Len())
	}
	// A legitimate client: its SYN evicts an embryonic entry, its ACK
	// makes the new entry ACTIVE.
	h.clock.Advance(10 * time.Millisecond)
	srv := h.syn(5000)
	p := pktbuild.TCP(tcpFlow(5000), pktbuild.ACK, 2, 1, nil)
	if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
		t.Fatalf("legitimate handshake ACK: %v", v)
	}
	for _, port := range []uint16{1, 2, 5000} {
		if e := h.entry(port); e == nil || e.State != StateActive {
			t.Fatalf("entry %d = %+v, want ACTIVE", port, e)
		}
	}
	c := &h.core.Counters
	if c.EvictedSYN != 200-2+1 || c.EvictedActive != 0 || c.EvictedFIN != 0 || c.Drops[DropTableFull] != 0 {
		t.Fatalf("evicted SYN %d ACTIVE %d FIN %d, table_full %d", c.EvictedSYN, c.EvictedActive, c.EvictedFIN, c.Drops[DropTableFull])
	}
	var active, completed int64
	for _, sc := range h.core.Servers {
		active += sc.Active
		completed += int64(sc.Completed)
	}
	if active != 4 || completed != 199 {
		t.Fatalf("ACTIVE gauges sum to %d (want 4), completed %d (want 199)", active, completed)
	}
}

// With no embryonic or closing entry near, an ACTIVE entry is evicted only
// once it has been idle for longer than ActiveEvictIdle.
func TestTableFullEvictsOnlyIdleActive(t *testing.T) {
	cfg := testConfig()
	cfg.Services[0].StaleTimeout = 0 // the default, far beyond ActiveEvictIdle
	h := newHarness(t, cfg, 4)
	for port := uint16(1); port <= 4; port++ {
		h.open(port)
	}
	refresh := func() {
		for port := uint16(1); port <= 3; port++ {
			h.send(pktbuild.TCP(tcpFlow(port), pktbuild.ACK, 3, 1, nil))
		}
	}
	h.clock.Advance(ActiveEvictIdle)
	refresh()
	if v := h.send(pktbuild.TCP(tcpFlow(99), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropTableFull) {
		t.Fatalf("SYN with every entry active within ActiveEvictIdle: %v", v)
	}
	h.clock.Advance(time.Second)
	refresh()
	if v := h.send(pktbuild.TCP(tcpFlow(100), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
		t.Fatalf("SYN with an idle ACTIVE entry to evict: %v", v)
	}
	if h.entry(4) != nil || h.entry(100) == nil || h.core.Counters.EvictedActive != 1 {
		t.Fatalf("idle entry 4 not the one evicted (evicted ACTIVE %d)", h.core.Counters.EvictedActive)
	}
	for port := uint16(1); port <= 3; port++ {
		if h.entry(port) == nil {
			t.Fatalf("recently active entry %d evicted", port)
		}
	}
}

// An embryonic entry is removed after the SYN timeout; an ACTIVE one opened
// at the same time lives on.
func TestEmbryonicEntryExpiresAfterSynTimeout(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	est := h.open(1)
	half := h.syn(2)
	h.expiresAfter(2, StateSYN, limits.DefaultSynTimeout)
	if e := h.entry(1); e == nil || e.State != StateActive {
		t.Fatalf("ACTIVE entry after the SYN timeout: %+v", e)
	}
	c := h.core
	if c.Counters.ExpiredSYN != 1 || c.Counters.ExpiredStale != 0 || c.Servers[half].Completed != 1 ||
		c.Servers[est].Active+c.Servers[half].Active-boolInt(est == half) != 1 {
		t.Fatalf("expired SYN %d stale %d, servers %+v %+v", c.Counters.ExpiredSYN, c.Counters.ExpiredStale, c.Servers[est], c.Servers[half])
	}
	// The client's late ACK finds nothing.
	if v := h.send(pktbuild.TCP(tcpFlow(2), pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("ACK after the SYN timeout: %v", v)
	}
	// A service's own SYN timeout is honoured.
	cfg := testConfig()
	cfg.Services[0].SynTimeout = 500 * time.Millisecond
	h.core.SetSnapshot(mustSnapshot(t, cfg))
	h.syn(3)
	h.clock.Advance(501 * time.Millisecond)
	if v := h.send(pktbuild.TCP(tcpFlow(3), pktbuild.ACK, 2, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("ACK after the service's SYN timeout: %v", v)
	}
}

// A SYN with ACK, RST or FIN opens no connection; a SYN with the ECN bits
// (a client negotiating ECN) does.
func TestBadSYNMissOpensNothing(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	bad := []uint8{pktbuild.SYN | pktbuild.ACK, pktbuild.SYN | pktbuild.RST, pktbuild.SYN | pktbuild.FIN,
		pktbuild.SYN | pktbuild.FIN | pktbuild.ACK | pktbuild.RST}
	for i, flags := range bad {
		if v := h.send(pktbuild.TCP(tcpFlow(uint16(100+i)), flags, 1, 0, nil)); v != DropVerdict(DropBadSYN) {
			t.Fatalf("flags %#x on a miss: %v", flags, v)
		}
	}
	if h.core.table.Len() != 0 || h.core.Counters.Drops[DropBadSYN] != uint64(len(bad)) {
		t.Fatalf("table %d entries, bad_syn drops %d", h.core.table.Len(), h.core.Counters.Drops[DropBadSYN])
	}
	for id := range h.core.Servers {
		if h.core.Servers[id].New != 0 {
			t.Fatalf("server %d was given a connection", id)
		}
	}
	const ece, cwr = 0x40, 0x80
	if v := h.send(pktbuild.TCP(tcpFlow(200), pktbuild.SYN|ece|cwr, 1, 0, nil)); v != VerdictForward {
		t.Fatalf("ECN-setup SYN: %v", v)
	}
}

// A blind, spoofed RST does not cut a connection: the entry keeps its
// server, and the client's next packet makes it ACTIVE again.
func TestSpoofedRSTKeepsFlowOnServer(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	h.open(1001) // moves the round robin on
	before := h.core.Servers[srv]
	rst := pktbuild.TCP(tcpFlow(1000), pktbuild.RST, 77, 0, nil)
	if v := h.send(rst); v != VerdictForward || dstServer(t, rst) != srv {
		t.Fatalf("RST: %v", v)
	}
	if e := h.entry(1000); e == nil || e.State != StateRST || e.Server != srv {
		t.Fatalf("entry after RST %+v", e)
	}
	c := h.core
	if c.Counters.Resets != 1 || c.Servers[srv].FIN != 1 || c.Servers[srv].Completed != 0 {
		t.Fatalf("resets %d, server %+v", c.Counters.Resets, c.Servers[srv])
	}
	h.clock.Advance(time.Second)
	for range 3 {
		p := pktbuild.TCP(tcpFlow(1000), pktbuild.ACK|pktbuild.PSH, 2, 1, []byte("more"))
		if v := h.send(p); v != VerdictForward || dstServer(t, p) != srv {
			t.Fatalf("client data after a spoofed RST: %v", v)
		}
	}
	if e := h.entry(1000); e.State != StateActive || e.Server != srv {
		t.Fatalf("entry after the client's data %+v", e)
	}
	if s := c.Servers[srv]; s.FIN != 0 || s.Completed != 0 || s.New != before.New || s.Active != before.Active {
		t.Fatalf("server counters %+v", s)
	}
	// It now lives by the stale timer again, not the reset timer.
	h.clock.Advance(limits.DefaultResetTimeout + time.Second)
	reapAll(h)
	if h.entry(1000) == nil {
		t.Fatal("re-activated entry removed by the reset timer")
	}
}

// A real RST: the entry is gone once the reset timer runs out, and a SYN
// reusing its ports before then is a new connection.
func TestRSTEntryRemovedAfterResetTimeout(t *testing.T) {
	h := newHarness(t, testConfig(), 16)
	srv := h.open(1000)
	h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.RST|pktbuild.ACK, 2, 1, nil))
	h.expiresAfter(1000, StateRST, limits.DefaultResetTimeout)
	c := h.core
	if s := c.Servers[srv]; c.Counters.ExpiredReset != 1 || c.Counters.Resets != 1 || s.Active != 0 || s.FIN != 0 || s.Completed != 1 {
		t.Fatalf("expired reset %d resets %d, server %+v", c.Counters.ExpiredReset, c.Counters.Resets, s)
	}
	if v := h.send(pktbuild.TCP(tcpFlow(1000), pktbuild.ACK, 3, 1, nil)); v != DropVerdict(DropNonSYNMiss) {
		t.Fatalf("after the reset timeout: %v", v)
	}

	h.open(2000)
	h.send(pktbuild.TCP(tcpFlow(2000), pktbuild.RST, 2, 0, nil))
	if v := h.send(pktbuild.TCP(tcpFlow(2000), pktbuild.SYN, 900, 0, nil)); v != VerdictForward {
		t.Fatalf("SYN reusing the ports of a reset connection: %v", v)
	}
	if e := h.entry(2000); e == nil || e.State != StateSYN || c.Counters.ReusedFIN != 1 {
		t.Fatalf("entry %+v, reused %d", e, c.Counters.ReusedFIN)
	}
}

// Connections opened and reset faster than the reset timeout keep the
// table full of closing entries: every new SYN evicts one, often by taking
// its slot in place. The table must stay consistent through it: every
// entry findable from its home, the count right, the connection just
// opened always present, and nothing answered table_full.
func TestEvictionChurnKeepsTableConsistent(t *testing.T) {
	h := newHarness(t, testConfig(), 64)
	for port := uint16(1000); port < 11000; port++ {
		h.clock.Advance(time.Microsecond)
		if v := h.send(pktbuild.TCP(tcpFlow(port), pktbuild.SYN, 1, 0, nil)); v != VerdictForward {
			t.Fatalf("SYN %d: %v", port, v)
		}
		if e := h.entry(port); e == nil || e.State != StateSYN {
			t.Fatalf("connection %d just opened: entry %+v", port, e)
		}
		if v := h.send(pktbuild.TCP(tcpFlow(port), pktbuild.RST, 2, 0, nil)); v != VerdictForward {
			t.Fatalf("RST %d: %v", port, v)
		}
		if port%97 == 0 {
			checkTableConsistent(t, h.core.table)
		}
	}
	checkTableConsistent(t, h.core.table)
	c := &h.core.Counters
	if c.EvictedFIN != 10000-64 || c.EvictedSYN != 0 || c.Drops[DropTableFull] != 0 {
		t.Fatalf("evicted closing %d (want %d), embryonic %d, table_full %d", c.EvictedFIN, 10000-64, c.EvictedSYN, c.Drops[DropTableFull])
	}
}

// checkTableConsistent asserts that a lookup finds every live entry in its
// own slot and that the count matches the occupied slots.
func checkTableConsistent(t *testing.T, tbl *Table) {
	t.Helper()
	live := 0
	for i := range tbl.slots {
		e := &tbl.slots[i]
		if e.empty() {
			continue
		}
		live++
		if got := tbl.Lookup(e.Key); got != e {
			t.Fatalf("entry in slot %d (%+v) not found from its home", i, e.Key)
		}
	}
	if live != tbl.Len() {
		t.Fatalf("%d occupied slots, count %d", live, tbl.Len())
	}
}
