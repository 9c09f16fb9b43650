package fastpath

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

const benchBurst = 32

// benchPool is a ring of frames the benchmark rewrites before each burst, the
// way a NIC writes new packets into recycled mbufs: a new client tuple and
// the gateway's MAC (which the previous pass replaced with a server's). Each
// frame has EncapHeadroom bytes of buffer before it, as an mbuf has; an
// encapsulated one (moved) is handed out afresh, its EtherType restored.
type benchPool struct {
	bufs   [][]byte
	views  [][]byte
	length int
	next   int
	// ipv6: the template is IPv6; the flow goes in the source address's
	// last four bytes and the source port.
	ipv6 bool
	// moved: the frames are encapsulated, which moves their views and
	// writes over their Ethernet header; each burst hands them out afresh.
	moved bool
}

func newBenchPool(template []byte, n int) *benchPool {
	p := &benchPool{bufs: make([][]byte, n), views: make([][]byte, n), length: len(template),
		ipv6: header.Ethernet(template).Type() == header.EtherTypeIPv6}
	for i := range p.bufs {
		p.bufs[i] = make([]byte, EncapHeadroom+len(template))
		copy(p.bufs[i][EncapHeadroom:], template)
	}
	return p
}

// burst returns the next benchBurst frames carrying the given flows' tuples.
func (p *benchPool) burst(flows []uint32) [][]byte {
	out := p.views[p.next : p.next+benchBurst]
	bufs := p.bufs[p.next : p.next+benchBurst]
	p.next = (p.next + benchBurst) % len(p.bufs)
	for i := range out {
		f := out[i]
		if p.moved || f == nil {
			f = bufs[i][EncapHeadroom : EncapHeadroom+p.length]
			out[i] = f
			if !p.ipv6 {
				binary.BigEndian.PutUint16(f[header.EthernetTypeOffset:], header.EtherTypeIPv4)
			}
		}
		// Fixed offsets, as commonFlow reads them: the rewrite is part of
		// the measured loop and must cost what a NIC's write costs, nothing.
		copy(f[header.EthernetDstOffset:header.EthernetSrcOffset], gwMAC[:])
		if p.ipv6 {
			binary.BigEndian.PutUint32(f[header.UntaggedIPv6Offset+header.IPv6DstAddrOffset-4:], flows[i]>>16)
			binary.BigEndian.PutUint16(f[header.UntaggedIPv6L4Offset+header.TCPSrcPortOffset:], uint16(flows[i]))
			continue
		}
		binary.BigEndian.PutUint32(f[header.UntaggedIPv4Offset+header.IPv4SrcAddrOffset:], 0xc0000000|flows[i]>>16)
		binary.BigEndian.PutUint16(f[header.UntaggedL4Offset+header.TCPSrcPortOffset:], uint16(flows[i]))
	}
	return out
}

// benchCore builds a core whose table lives in hugepages when the machine
// has them, as the daemon's does.
func benchCore(b *testing.B, capacity int, stale time.Duration, via Forwarding) *harness {
	cfg := ipv6Config()
	cfg.Services[0].Forwarding, cfg.Encap.Source = via, gwIP
	cfg.Services[2].StaleTimeout, cfg.Services[2].SynTimeout = stale, stale
	// A benchmark's entries expire after stale whatever their state: the
	// connections of BenchmarkNewConnections never get past their SYN.
	cfg.Services[0].StaleTimeout, cfg.Services[0].SynTimeout = stale, stale
	h := newHarnessOn(b, cfg, hugepageEntries(b, TableSlots(capacity)))
	// The IPv6 addresses beside the slots on hugepages too, as the daemon has them.
	if err := h.core.table.EnableIPv6(hugepageSlice[Addrs6](b, h.core.table.Slots())); err != nil {
		b.Fatal(err)
	}
	return h
}

// The same with the service encapsulating (docs/encapsulation.md): IPIP
// adds a 20-byte outer IPv4 header in front of each frame, GUE 32 bytes
// (IPv4, UDP with the flow's hash as source port, GUE).
func BenchmarkBurstEstablished1KIPIP(b *testing.B) { benchmarkEstablishedVia(b, 1<<10, ForwardIPIP) }
func BenchmarkBurstEstablished1KGUE(b *testing.B)  { benchmarkEstablishedVia(b, 1<<10, ForwardGUE) }
func BenchmarkBurstEstablished1MGUE(b *testing.B)  { benchmarkEstablishedVia(b, 1<<20, ForwardGUE) }

// The same over IPv6 (a service on an IPv6 VIP): the longer parse, the
// keyed fold of both addresses, and their comparison with the addresses
// kept beside the slot on every lookup.
func BenchmarkBurstEstablished1KIPv6(b *testing.B) {
	benchmarkEstablishedFrom(b, 1<<10, ForwardDSR, tcp6Flow(0))
}
func BenchmarkBurstEstablished1MIPv6(b *testing.B) {
	benchmarkEstablishedFrom(b, 1<<20, ForwardDSR, tcp6Flow(0))
}

// BenchmarkBurstEstablished1M: bursts of 32 data packets, each of a random
// flow among 1 M live entries (a 2 M-slot, 64 MiB table, far beyond the
// caches): what memory latency costs. One op = one packet.
func BenchmarkBurstEstablished1M(b *testing.B) { benchmarkEstablished(b, 1<<20) }

// BenchmarkBurstEstablished1K: the same over 1024 flows, whose entries stay
// in the L1 and L2 caches: the fastpath's own per-packet work.
func BenchmarkBurstEstablished1K(b *testing.B) { benchmarkEstablished(b, 1<<10) }

func benchmarkEstablished(b *testing.B, flows int) { benchmarkEstablishedVia(b, flows, ForwardDSR) }

func benchmarkEstablishedVia(b *testing.B, flows int, via Forwarding) {
	benchmarkEstablishedFrom(b, flows, via, tcpFlow(0))
}

func benchmarkEstablishedFrom(b *testing.B, flows int, via Forwarding, flow pktbuild.Flow) {
	h := benchCore(b, flows, time.Hour, via)
	h.core.SetHeadroom(EncapHeadroom)
	syn := newBenchPool(pktbuild.TCP(flow, pktbuild.SYN, 1, 0, nil), 4096)
	syn.moved = via != ForwardDSR
	verdicts := make([]Verdict, benchBurst)
	ids := make([]uint32, flows)
	for i := range ids {
		ids[i] = uint32(i)
	}
	for i := 0; i < flows; i += benchBurst {
		h.core.ProcessBurst(syn.burst(ids[i:i+benchBurst]), verdicts)
	}
	if h.core.table.Len() != flows {
		b.Fatalf("table holds %d entries, want %d", h.core.table.Len(), flows)
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	data := newBenchPool(pktbuild.TCP(flow, pktbuild.ACK, 2, 1, make([]byte, 6)), 4096)
	data.moved = via != ForwardDSR
	txBefore, encapBefore := h.core.Counters.TX, h.core.Counters.Encapsulated
	b.ReportAllocs()
	b.ResetTimer()
	next := 0
	for n := 0; n < b.N; n += benchBurst {
		if next+benchBurst > flows {
			next = 0
		}
		h.core.ProcessBurst(data.burst(ids[next:next+benchBurst]), verdicts)
		next += benchBurst
		h.core.Reap()
	}
	b.StopTimer()
	sent := h.core.Counters.TX - txBefore
	if sent < uint64(b.N) {
		b.Fatalf("forwarded %d of %d packets", sent, b.N)
	}
	if encapsulated := h.core.Counters.Encapsulated - encapBefore; (via != ForwardDSR) != (encapsulated == sent) {
		b.Fatalf("%v: %d of %d packets encapsulated", via, encapsulated, sent)
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds()/1e6, "Mpps")
}

// BenchmarkNewConnections: every packet is a SYN of a new tuple; entries
// expire after 1 ms of (manual) time and the reaper removes them, so the
// table stays in a steady state. One op = one new connection.
func BenchmarkNewConnections(b *testing.B) {
	h := benchCore(b, 1<<20, time.Millisecond, ForwardDSR)
	h.core.reapSweep = int64(10 * time.Millisecond) // 10 k bursts: ~330 k live entries
	syn := newBenchPool(pktbuild.TCP(tcpFlow(0), pktbuild.SYN, 1, 0, nil), 4096)
	verdicts := make([]Verdict, benchBurst)
	ids := make([]uint32, benchBurst)
	next := uint32(0)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += benchBurst {
		for i := range ids {
			ids[i] = next
			next++
		}
		h.core.ProcessBurst(syn.burst(ids), verdicts)
		h.clock.Advance(time.Microsecond)
		h.core.Reap()
	}
	b.StopTimer()
	var created uint64
	for _, s := range h.core.Servers {
		created += s.New
	}
	if created < uint64(b.N) || h.core.Counters.TotalDrops() != 0 {
		b.Fatalf("created %d of %d, drops %d", created, b.N, h.core.Counters.TotalDrops())
	}
	b.ReportMetric(float64(created)/b.Elapsed().Seconds()/1e6, "Mconn/s")
}

// BenchmarkSYNFloodFullTable: every packet is a SYN of a new tuple into a
// table already full of embryonic entries (1 M), so each one evicts the
// oldest embryonic entry near its home slot: the steady state of a SYN
// flood, or of more new connections per SYN timeout than the table holds.
// One op = one new connection.
func BenchmarkSYNFloodFullTable(b *testing.B) {
	const capacity = 1 << 20
	h := benchCore(b, capacity, time.Hour, ForwardDSR)
	syn := newBenchPool(pktbuild.TCP(tcpFlow(0), pktbuild.SYN, 1, 0, nil), 4096)
	verdicts := make([]Verdict, benchBurst)
	ids := make([]uint32, benchBurst)
	next := uint32(0)
	newBurst := func() [][]byte {
		for i := range ids {
			ids[i] = next
			next++
		}
		return syn.burst(ids)
	}
	for h.core.table.Len() < capacity {
		h.core.ProcessBurst(newBurst(), verdicts)
		h.clock.Advance(time.Microsecond)
	}
	evictedBefore := h.core.Counters.EvictedSYN
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += benchBurst {
		h.core.ProcessBurst(newBurst(), verdicts)
		h.clock.Advance(time.Microsecond)
		h.core.Reap()
	}
	b.StopTimer()
	evicted := h.core.Counters.EvictedSYN - evictedBefore
	if evicted < uint64(b.N) || h.core.Counters.TotalDrops() != 0 {
		b.Fatalf("evicted %d for %d new connections, drops %d", evicted, b.N, h.core.Counters.TotalDrops())
	}
	b.ReportMetric(float64(evicted)/b.Elapsed().Seconds()/1e6, "Mconn/s")
}
