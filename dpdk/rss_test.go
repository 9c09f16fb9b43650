package dpdk

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Verification vectors from Microsoft's RSS specification ("Verifying the
// RSS Hash Calculation") for its default key, which is DefaultRSSKey.
var msRSSVectors = []struct {
	src, dst         [4]byte
	srcPort, dstPort uint16
	ipv4, ipv4TCP    uint32
}{
	{[4]byte{66, 9, 149, 187}, [4]byte{161, 142, 100, 80}, 2794, 1766, 0x323e8fc2, 0x51ccc178},
	{[4]byte{199, 92, 111, 2}, [4]byte{65, 69, 140, 83}, 14230, 4739, 0xd718262a, 0xc626b0ea},
	{[4]byte{24, 19, 198, 95}, [4]byte{12, 22, 207, 184}, 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
	{[4]byte{38, 27, 205, 30}, [4]byte{209, 142, 163, 6}, 48228, 2217, 0x82989176, 0xafc7327f},
	{[4]byte{153, 39, 163, 191}, [4]byte{202, 188, 127, 2}, 44251, 1303, 0x5d1809c5, 0x10e828a2},
}

func TestToeplitzKnownVectors(t *testing.T) {
	for _, v := range msRSSVectors {
		in := RSSInputIPv4(v.src, v.dst, v.srcPort, v.dstPort)
		if got := ToeplitzHash(DefaultRSSKey[:], in[:8]); got != v.ipv4 {
			t.Errorf("%v -> %v: IPv4 hash %#x, want %#x", v.src, v.dst, got, v.ipv4)
		}
		if got := RSSHashIPv4(DefaultRSSKey[:], v.src, v.dst, v.srcPort, v.dstPort); got != v.ipv4TCP {
			t.Errorf("%v:%d -> %v:%d: TCP hash %#x, want %#x", v.src, v.srcPort, v.dst, v.dstPort, got, v.ipv4TCP)
		}
	}
}

// IPv6 verification vectors of the same page ("Verifying the RSS Hash
// Calculation", Microsoft's network driver documentation,
// learn.microsoft.com/windows-hardware/drivers/network/verifying-the-rss-hash-calculation;
// DPDK's app/test/test_thash.c v6_tbl holds the same): the hash of the
// addresses alone and of the TCP 4-tuple, under DefaultRSSKey.
var msRSSVectorsIPv6 = []struct {
	src, dst         string
	srcPort, dstPort uint16
	ipv6, ipv6TCP    uint32
}{
	{"3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d},
	{"3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf},
	{"3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0x4b61e985, 0x02d1feef},
}

func TestToeplitzKnownVectorsIPv6(t *testing.T) {
	tab := NewRSSTable(DefaultRSSKey[:])
	for _, v := range msRSSVectorsIPv6 {
		src, dst := netip.MustParseAddr(v.src).As16(), netip.MustParseAddr(v.dst).As16()
		in := RSSInputIPv6(src, dst, v.srcPort, v.dstPort)
		if got := ToeplitzHash(DefaultRSSKey[:], in[:32]); got != v.ipv6 {
			t.Errorf("%s -> %s: IPv6 hash %#x, want %#x", v.src, v.dst, got, v.ipv6)
		}
		if got := RSSHashIPv6(DefaultRSSKey[:], src, dst, v.srcPort, v.dstPort); got != v.ipv6TCP {
			t.Errorf("[%s]:%d -> [%s]:%d: TCP hash %#x, want %#x", v.src, v.srcPort, v.dst, v.dstPort, got, v.ipv6TCP)
		}
		if got := tab.HashIPv6(&src, &dst, v.srcPort, v.dstPort); got != v.ipv6TCP {
			t.Errorf("[%s]:%d -> [%s]:%d: table hash %#x, want %#x", v.src, v.srcPort, v.dst, v.dstPort, got, v.ipv6TCP)
		}
	}
}

// testKeys returns the keys the hashes are checked with: DPDK's default
// and a random 40-byte one.
func testKeys(rng *rand.Rand) [][]byte {
	other := make([]byte, 40)
	for i := range other {
		other[i] = byte(rng.Uint32())
	}
	return [][]byte{DefaultRSSKey[:], other}
}

// randomTuple fills the addresses src and dst (of one length) and returns
// the ports of the i-th tuple a test hashes: random ones, but for the edges
// all zero (i == 0) and all ones (i == 1).
func randomTuple(rng *rand.Rand, i int, src, dst []byte) (sp, dp uint16) {
	for j := range src {
		src[j], dst[j] = byte(rng.Uint32()), byte(rng.Uint32())
	}
	sp, dp = uint16(rng.Uint32()), uint16(rng.Uint32())
	switch i {
	case 0:
		clear(src)
		clear(dst)
		sp, dp = 0, 0
	case 1:
		for j := range src {
			src[j], dst[j] = 0xff, 0xff
		}
		sp, dp = 0xffff, 0xffff
	}
	return sp, dp
}

func TestToeplitzMatchesDPDKSoftRSS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, key := range testKeys(rng) {
		for i := range 200 {
			var src, dst [4]byte
			sp, dp := randomTuple(rng, i, src[:], dst[:])
			in := RSSInputIPv4(src, dst, sp, dp)
			if got, want := RSSHashIPv4(key, src, dst, sp, dp), softRSSIPv4(key, src, dst, sp, dp, true); got != want {
				t.Fatalf("%v:%d -> %v:%d: Go %#x, rte_softrss %#x", src, sp, dst, dp, got, want)
			}
			if got, want := ToeplitzHash(key, in[:8]), softRSSIPv4(key, src, dst, sp, dp, false); got != want {
				t.Fatalf("%v -> %v (addresses only): Go %#x, rte_softrss %#x", src, dst, got, want)
			}
		}
	}
}

func TestToeplitzMatchesDPDKSoftRSSIPv6(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, key := range testKeys(rng) {
		tab := NewRSSTable(key)
		for i := range 200 {
			var src, dst [16]byte
			sp, dp := randomTuple(rng, i, src[:], dst[:])
			want := softRSSIPv6(key, src, dst, sp, dp, true)
			if got := RSSHashIPv6(key, src, dst, sp, dp); got != want {
				t.Fatalf("[%x]:%d -> [%x]:%d: Go %#x, rte_softrss %#x", src, sp, dst, dp, got, want)
			}
			if got := tab.HashIPv6(&src, &dst, sp, dp); got != want {
				t.Fatalf("[%x]:%d -> [%x]:%d: table %#x, rte_softrss %#x", src, sp, dst, dp, got, want)
			}
			in := RSSInputIPv6(src, dst, sp, dp)
			if got, want := ToeplitzHash(key, in[:32]), softRSSIPv6(key, src, dst, sp, dp, false); got != want {
				t.Fatalf("%x -> %x (addresses only): Go %#x, rte_softrss %#x", src, dst, got, want)
			}
		}
	}
}

// A table built from a key too short for the IPv6 input refuses to hash
// IPv6 rather than leave the uncovered bytes out; it still hashes IPv4.
func TestRSSTableShortKey(t *testing.T) {
	tab := NewRSSTable(DefaultRSSKey[:16])
	s, d := [4]byte{66, 9, 149, 187}, [4]byte{161, 142, 100, 80}
	if got, want := tab.HashIPv4(0x420995bb, 0xa18e6450, 2794, 1766), RSSHashIPv4(DefaultRSSKey[:16], s, d, 2794, 1766); got != want {
		t.Errorf("IPv4 with a 16-byte key: table %#x, Toeplitz %#x", got, want)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "16-byte key too short for IPv6") {
			t.Errorf("HashIPv6 with a 16-byte key: panic %v", r)
		}
	}()
	var a [16]byte
	tab.HashIPv6(&a, &a, 1, 2)
}

// A hash's queue depends on its low log2(period) bits only, dealt round
// robin over the queues.
func TestRSSQueue(t *testing.T) {
	for _, period := range []int{64, 128, 512} {
		for _, nq := range []int{1, 2, 3, 4, 8, 48} {
			for h := range uint32(period) {
				q := RSSQueue(h|uint32(0xabcd0000)&^uint32(period-1), period, nq)
				if q != int(h)%nq {
					t.Fatalf("RSSQueue(%#x, %d, %d) = %d, want %d", h, period, nq, q, int(h)%nq)
				}
			}
		}
	}
}

// The spread rule: the queue count divides the table's period, or every
// queue gets at least MinRetaEntriesPerQueue entries; then no queue gets
// more than 25 % more table entries (flows) than another, and none gets
// none.
func TestCheckRetaSpread(t *testing.T) {
	for _, period := range []int{64, 128, 512} {
		for nq := 1; nq <= period+1; nq++ {
			err := CheckRetaSpread(period, nq)
			counts := make([]int, nq)
			for i := range period {
				counts[RSSQueue(uint32(i), period, nq)]++
			}
			lo, hi := slices.Min(counts), slices.Max(counts)
			even := lo > 0 && 4*hi <= 5*lo
			if (err == nil) != even {
				t.Fatalf("period %d, %d queues: entries per queue %d..%d, CheckRetaSpread: %v", period, nq, lo, hi, err)
			}
		}
	}
	// The cases of the issue: a 64-entry table for 33 and 65 workers.
	if err := CheckRetaSpread(64, 33); err == nil || !strings.Contains(err.Error(), "some queues would get 2 entries, others 1") {
		t.Errorf("33 queues over 64 entries: %v", err)
	}
	if err := CheckRetaSpread(64, 65); err == nil || !strings.Contains(err.Error(), "1 of them would get no traffic") {
		t.Errorf("65 queues over 64 entries: %v", err)
	}
	if err := CheckRetaSpread(512, 65); err != nil {
		t.Errorf("65 queues over 512 entries: %v", err)
	}
}

func TestToeplitzDoesNotAllocate(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	if a := testing.AllocsPerRun(100, func() { RSSHashIPv4(DefaultRSSKey[:], src, dst, 1, 2) }); a != 0 {
		t.Errorf("%v allocations per hash", a)
	}
}

// The byte tables give the bit-by-bit Toeplitz hash for any tuple.
func TestRSSTableAgreesWithToeplitz(t *testing.T) {
	tab := NewRSSTable(DefaultRSSKey[:])
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		src, dst := rng.Uint32(), rng.Uint32()
		sp, dp := uint16(rng.Uint32()), uint16(rng.Uint32())
		var s, d [4]byte
		binary.BigEndian.PutUint32(s[:], src)
		binary.BigEndian.PutUint32(d[:], dst)
		if got, want := tab.HashIPv4(src, dst, sp, dp), RSSHashIPv4(DefaultRSSKey[:], s, d, sp, dp); got != want {
			t.Fatalf("%08x:%d → %08x:%d: table %08x, Toeplitz %08x", src, sp, dst, dp, got, want)
		}
	}
}

// The byte tables give the bit-by-bit Toeplitz hash of IPv6 tuples too.
func TestRSSTableAgreesWithToeplitzIPv6(t *testing.T) {
	tab := NewRSSTable(DefaultRSSKey[:])
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		var src, dst [16]byte
		binary.BigEndian.PutUint64(src[:8], rng.Uint64())
		binary.BigEndian.PutUint64(src[8:], rng.Uint64())
		binary.BigEndian.PutUint64(dst[:8], rng.Uint64())
		binary.BigEndian.PutUint64(dst[8:], rng.Uint64())
		sp, dp := uint16(rng.Uint32()), uint16(rng.Uint32())
		if got, want := tab.HashIPv6(&src, &dst, sp, dp), RSSHashIPv6(DefaultRSSKey[:], src, dst, sp, dp); got != want {
			t.Fatalf("[%x]:%d → [%x]:%d: table %08x, Toeplitz %08x", src, sp, dst, dp, got, want)
		}
	}
}

func BenchmarkRSSHash(b *testing.B) {
	tab := NewRSSTable(DefaultRSSKey[:])
	s, d := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 10}
	b.Run("toeplitz", func(b *testing.B) {
		for i := range b.N {
			RSSHashIPv4(DefaultRSSKey[:], s, d, uint16(i), 80)
		}
	})
	b.Run("table", func(b *testing.B) {
		for i := range b.N {
			tab.HashIPv4(0xc0000201, 0xc633640a, uint16(i), 80)
		}
	})
}
