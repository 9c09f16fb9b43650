package recovery

import (
	"net/netip"
	"testing"

	"vec/agent/wire"
	"vec/fastpath"
)

// BenchmarkRebuild maps, merges and partitions 1 M entries from three
// agents over four workers: the gateway's own work between the agents'
// answers and the first install. The agents' tables overlap by 1 % (every
// hundredth connection is claimed twice, FIN and ACTIVE), so the conflict
// path is taken too.
func BenchmarkRebuild(b *testing.B) {
	const (
		total   = 1 << 20
		workers = 4
	)
	agents := rebuildAgents(3)
	entries := make([][]wire.Entry, len(agents))
	for i := range total {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%50000))
		a := i % len(agents)
		state := wire.StateActive
		if i%100 == 0 {
			state = wire.StateFIN
			other := (a + 1) % len(agents)
			entries[other] = append(entries[other], wire.Entry{Proto: wire.ProtoTCP, Client: client, VIP: web, State: wire.StateActive})
		}
		entries[a] = append(entries[a], wire.Entry{Proto: wire.ProtoTCP, Client: client, VIP: web, State: state})
	}
	results := answered(agents, entries...)
	received := 0
	for _, r := range results {
		received += len(r.Shadow.Entries)
	}
	dir := newRebuildDirectory()
	workerFor := func(e fastpath.InstallEntry) int {
		k := &e.Key
		h := (k.SrcIP ^ uint32(k.SrcPort)<<16 ^ k.DstIP) * 0x9e3779b1
		return int(h>>16) % workers
	}

	b.ReportAllocs()
	var plan Plan
	for b.Loop() {
		var err error
		plan, err = Rebuild(dir, agents, results, workers, workerFor)
		if err != nil {
			b.Fatal(err)
		}
	}
	if plan.Stats.Received != received || plan.Stats.Entries != total || plan.Stats.ConflictsResolved != total/100+1 {
		b.Fatalf("stats %+v", plan.Stats)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(received), "ns/entry")
}
