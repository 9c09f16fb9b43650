package gateway

import (
	"math/rand/v2"
	"testing"

	"vec/dpdk"
	"vec/fastpath"
)

// startTestPort starts testVdev as cfg says, on a mempool of its own
// named poolName, and closes both when the test ends.
func startTestPort(t *testing.T, poolName string, cfg dpdk.PortConfig) (*dpdk.Port, *dpdk.Mempool) {
	t.Helper()
	pool, err := dpdk.NewPktMempool(poolName, 1023, 32, mbufDataRoom, dpdk.SocketAny)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Free)
	id, err := dpdk.PortByName(testVdev)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mempool = pool
	port, err := dpdk.OpenPort(id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	if err := port.Start(); err != nil {
		t.Fatal(err)
	}
	return port, pool
}

// A worker drops the frames of a burst that are longer than its port's
// longest frame before the fastpath sees them, counts them as oversize
// (and in rx, so every packet keeps exactly one fate), and frees them.
// net_null hands out 64-byte frames: a 60-byte limit makes every one of
// them oversize, a 64-byte one none.
func TestPollPortDropsOversizeFrames(t *testing.T) {
	if !withEAL(t) {
		return
	}
	port, pool := startTestPort(t, "t_oversize", dpdk.PortConfig{})
	table, err := fastpath.NewTable(make([]fastpath.Entry, fastpath.TableSlots(1024)), rand.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	core, err := fastpath.NewCore(emptySnapshot(t), table, fastpath.NewMonotonicClock(), 0)
	if err != nil {
		t.Fatal(err)
	}
	burst, err := dpdk.NewBurst(burstSize)
	if err != nil {
		t.Fatal(err)
	}
	defer burst.Free()
	w := &worker{ports: []uint16{port.ID}, maxFrame: []uint32{60}, core: core, burst: burst}

	n := w.pollPort(port.ID, w.maxFrame[0])
	c := &w.core.Counters
	if n != burstSize || c.RX != burstSize || c.Drops[fastpath.DropOversize] != burstSize || c.Accounted() != c.RX {
		t.Fatalf("a burst of %d 64-byte frames with 60-byte frames allowed: rx %d, oversize %d, accounted %d",
			n, c.RX, c.Drops[fastpath.DropOversize], c.Accounted())
	}
	n = w.pollPort(port.ID, 64)
	if c.RX != uint64(burstSize+n) || c.Drops[fastpath.DropOversize] != burstSize || c.Accounted() != c.RX {
		t.Fatalf("then a burst of %d with 64-byte frames allowed: rx %d, oversize %d (want %d), accounted %d",
			n, c.RX, c.Drops[fastpath.DropOversize], burstSize, c.Accounted())
	}
	// The second burst is decided, and goes (here: is freed) with the
	// next receive, or when the loop ends.
	w.flush()
	if inUse := pool.InUse(); inUse != 0 {
		t.Errorf("%d mbufs not freed", inUse)
	}
}

// WorkerFor, which places the connections recovery rebuilds, names the
// queue the port's programmed redirection table gives a flow: the table as
// read back from the device, indexed by the flow's Toeplitz hash under the
// device's key.
func TestWorkerForFollowsTheProgrammedTable(t *testing.T) {
	if !withEAL(t) {
		return
	}
	const workers = 3
	port, _ := startTestPort(t, "t_workerfor", dpdk.PortConfig{RxQueues: workers, TxQueues: workers})
	reta, err := port.RSSReta()
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := port.RSSHashConf()
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{ports: []*dpdk.Port{port}, rss: dpdk.NewRSSTable(key), workers: make([]*worker, workers)}
	rng := rand.New(rand.NewPCG(10, 13))
	seen := make([]int, workers)
	seen6 := make([]int, workers)
	for i := range 20000 {
		// Even flows IPv4, odd ones IPv6: hashed on the full addresses,
		// whatever the key's folded ones hold.
		e := fastpath.InstallEntry{Key: fastpath.FlowKey{SrcIP: rng.Uint32(), DstIP: rng.Uint32(),
			SrcPort: uint16(rng.Uint32()), DstPort: uint16(rng.Uint32()), Proto: 6, IPv6: i%2 == 1}}
		var h uint32
		if e.Key.IPv6 {
			for j := range 16 {
				e.Addrs.Src[j], e.Addrs.Dst[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			h = dpdk.RSSHashIPv6(key, e.Addrs.Src, e.Addrs.Dst, e.Key.SrcPort, e.Key.DstPort)
		} else {
			var src, dst [4]byte
			for j := range 4 {
				src[j], dst[j] = byte(e.Key.SrcIP>>(24-8*j)), byte(e.Key.DstIP>>(24-8*j))
			}
			h = dpdk.RSSHashIPv4(key, src, dst, e.Key.SrcPort, e.Key.DstPort)
		}
		want := int(reta[int(h%uint32(len(reta)))])
		if got := g.WorkerFor(e); got != want {
			t.Fatalf("flow %+v: WorkerFor %d, the device's table %d (entry %d of %d)", e, got, want, h%uint32(len(reta)), len(reta))
		}
		if e.Key.IPv6 {
			seen6[want]++
		} else {
			seen[want]++
		}
	}
	for w := range workers {
		if seen[w] == 0 || seen6[w] == 0 {
			t.Errorf("no flow for worker %d: IPv4 %v, IPv6 %v", w, seen, seen6)
		}
	}
}
