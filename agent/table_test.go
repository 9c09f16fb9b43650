package agent

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"vec/agent/wire"
)

// TestRowsSortLikeEntries: the fast row order is wire.Compare's, and rows
// convert back to the entries they were made from.
func TestRowsSortLikeEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1"),
	}
	var entries []wire.Entry
	var rows []row
	for range 2000 {
		e := wire.Entry{
			Proto: []wire.Proto{wire.ProtoTCP, wire.ProtoUDP}[rng.IntN(2)],
			State: []wire.State{wire.StateActive, wire.StateFIN}[rng.IntN(2)],
			VIP:   netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], uint16(rng.IntN(3))+80),
		}
		if e.Proto == wire.ProtoTCP || rng.IntN(2) == 0 {
			e.Client = netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], uint16(rng.IntN(4)+1))
		}
		r := row{key: wire.KeyOf(e.Proto, e.VIP, e.Client), state: e.State}
		if r.entry() != e {
			t.Fatalf("row of %+v converts back to %+v", e, r.entry())
		}
		entries = append(entries, e)
		rows = append(rows, r)
	}
	slices.SortStableFunc(entries, func(a, b wire.Entry) int {
		if c := wire.Compare(a, b); c != 0 {
			return c
		}
		return int(a.State) - int(b.State)
	})
	slices.SortFunc(rows, compareRows)
	for i := range rows {
		if rows[i].entry() != entries[i] {
			t.Fatalf("position %d: row order gives %+v, wire.Compare %+v", i, rows[i].entry(), entries[i])
		}
	}
}
