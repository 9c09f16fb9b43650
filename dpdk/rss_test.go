package dpdk

import (
	"encoding/binary"
	"math/rand/v2"
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

func TestToeplitzMatchesDPDKSoftRSS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var otherKey [40]byte
	for i := range otherKey {
		otherKey[i] = byte(rng.Uint32())
	}
	for _, key := range [][]byte{DefaultRSSKey[:], otherKey[:]} {
		for i := range 200 {
			var src, dst [4]byte
			for j := range 4 {
				src[j], dst[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			sp, dp := uint16(rng.Uint32()), uint16(rng.Uint32())
			if i == 0 { // edges: all zero and all ones
				src, dst, sp, dp = [4]byte{}, [4]byte{}, 0, 0
			} else if i == 1 {
				src, dst, sp, dp = [4]byte{255, 255, 255, 255}, [4]byte{255, 255, 255, 255}, 0xffff, 0xffff
			}
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
