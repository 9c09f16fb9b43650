package dpdk

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// newPool creates a mempool that the test frees, after checking that every
// mbuf came back.
func newPool(t *testing.T, name string, n uint32) *Mempool {
	t.Helper()
	pool, err := NewPktMempool(name, n, min(32, n/2), 0, SocketAny)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if inUse := pool.InUse(); inUse != 0 {
			t.Errorf("mempool %s: %d mbufs still in use (leak)", name, inUse)
		}
		pool.Free()
	})
	return pool
}

func newBurst(t *testing.T, size int) *Burst {
	t.Helper()
	b, err := NewBurst(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	return b
}

// openPort opens and starts a vdev by name; the test stops it.
func openPort(t *testing.T, name string, cfg PortConfig) *Port {
	t.Helper()
	p, err := OpenPort(portID(t, name), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// fillPattern writes a packet content that identifies packet i.
func fillPattern(pkt []byte, i int) {
	for j := range pkt {
		pkt[j] = byte(i*7 + j)
	}
}

func TestMempoolCounts(t *testing.T) {
	pool := newPool(t, "t_counts", 1023)
	if pool.Name() != "t_counts" || pool.Capacity() != 1023 {
		t.Fatalf("name %q capacity %d", pool.Name(), pool.Capacity())
	}
	if pool.InUse() != 0 || pool.Available() != 1023 {
		t.Fatalf("fresh pool: in use %d, available %d", pool.InUse(), pool.Available())
	}
	b := newBurst(t, 32)
	if err := b.Alloc(pool, 20, 100); err != nil {
		t.Fatal(err)
	}
	if pool.InUse() != 20 || pool.Available() != 1003 {
		t.Fatalf("after Alloc(20): in use %d, available %d", pool.InUse(), pool.Available())
	}
	// Alloc again frees what the burst held first.
	if err := b.Alloc(pool, 5, 100); err != nil {
		t.Fatal(err)
	}
	if pool.InUse() != 5 {
		t.Fatalf("after second Alloc(5): in use %d", pool.InUse())
	}
	b.Drop()
	if pool.InUse() != 0 {
		t.Fatalf("after Drop: in use %d", pool.InUse())
	}
	// A packet longer than the data room (2048 after the headroom) fails.
	if err := b.Alloc(pool, 1, 3000); err == nil || !strings.Contains(err.Error(), "rte_pktmbuf_append") {
		t.Fatalf("Alloc of a 3000-byte packet: %v", err)
	}
	if pool.InUse() != 0 {
		t.Fatalf("after failed Alloc: in use %d", pool.InUse())
	}
}

func TestMempoolExhausted(t *testing.T) {
	pool := newPool(t, "t_small", 31)
	b := newBurst(t, 64)
	err := b.Alloc(pool, 64, 60)
	var de *Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "rte_pktmbuf_alloc_bulk") || de.Errno != int(syscall.ENOBUFS) {
		t.Fatalf("Alloc beyond the pool: %v", err)
	}
}

func TestErrorPaths(t *testing.T) {
	pool := newPool(t, "t_errors", 255)
	tests := []struct {
		name  string
		err   error
		call  string
		errno syscall.Errno
	}{
		{"OpenPort of a missing port", func() error { _, err := OpenPort(200, PortConfig{Mempool: pool}); return err }(),
			"rte_eth_dev_info_get(port 200)", syscall.ENODEV},
		{"PortByName of an unknown name", func() error { _, err := PortByName("net_nonexistent9"); return err }(),
			`rte_eth_dev_get_port_by_name("net_nonexistent9")`, syscall.ENODEV},
		{"duplicate mempool name", func() error { _, err := NewPktMempool("t_errors", 255, 0, 0, SocketAny); return err }(),
			`rte_pktmbuf_pool_create("t_errors")`, syscall.EEXIST},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			// The text is the call, then rte_strerror's text for the
			// errno (glibc's, capitalised unlike Go's table).
			call, text, ok := strings.Cut(tt.err.Error(), ": ")
			if !ok || call != tt.call || !strings.EqualFold(text, tt.errno.Error()) {
				t.Errorf("error %q, want %q: %q", tt.err, tt.call, tt.errno.Error())
			}
			if !errors.Is(tt.err, tt.errno) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.errno)
			}
		})
	}
}

func TestRingLoopbackRoundTrip(t *testing.T) {
	pool := newPool(t, "t_loop", 2047)
	p := openPort(t, "net_ring0", PortConfig{Mempool: pool})
	if p.Name() != "net_ring0" || p.Driver() != "net_ring" {
		t.Fatalf("name %q driver %q", p.Name(), p.Driver())
	}
	if _, err := p.MAC(); err != nil {
		t.Fatal(err)
	}
	b := newBurst(t, 32)
	if n := b.Rx(p.ID, 0); n != 0 {
		t.Fatalf("fresh port received %d packets", n)
	}
	// One packet per send, each of its own length and content.
	const n = 32
	want := make([][]byte, n)
	sentTotal := 0
	for i := range n {
		length := 60 + i*45
		if err := b.Alloc(pool, 1, length); err != nil {
			t.Fatal(err)
		}
		fillPattern(b.Packets()[0], i)
		want[i] = bytes.Clone(b.Packets()[0])
		sentTotal += b.SendAll(p.ID, 0)
	}
	if sentTotal != n {
		t.Fatalf("sent %d of %d", sentTotal, n)
	}
	if got := b.Rx(p.ID, 0); got != n {
		t.Fatalf("received %d of %d: net_ring0 should loop its TX into its RX", got, n)
	}
	for i, pkt := range b.Packets() {
		if !bytes.Equal(pkt, want[i]) {
			t.Fatalf("packet %d: %d bytes differ from the %d sent", i, len(pkt), len(want[i]))
		}
	}
	var bytesSent uint64
	for _, w := range want {
		bytesSent += uint64(len(w))
	}
	b.Drop()
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OPackets != n || st.IPackets != n || len(st.RxQueuePackets) != 1 || st.RxQueuePackets[0] != n {
		t.Errorf("stats %+v, want %d packets each way", st, n)
	}
	t.Logf("net_ring stats: %+v (%d bytes sent)", st, bytesSent)
}

func TestSendKeptFreesTheRest(t *testing.T) {
	pool := newPool(t, "t_kept", 2047)
	p := openPort(t, "net_ring1", PortConfig{Mempool: pool})
	b := newBurst(t, 32)
	if err := b.Alloc(pool, 32, 64); err != nil {
		t.Fatal(err)
	}
	for i, pkt := range b.Packets() {
		pkt[0] = byte(i)
	}
	if sent := b.SendAll(p.ID, 0); sent != 32 {
		t.Fatalf("SendAll sent %d", sent)
	}
	if n := b.Rx(p.ID, 0); n != 32 {
		t.Fatalf("Rx got %d", n)
	}
	keep := b.Keep()
	for i := range keep {
		if keep[i] != 0 {
			t.Fatalf("keep[%d] = %d after Rx, want 0", i, keep[i])
		}
		if i%2 == 0 {
			keep[i] = 1
		}
	}
	sent, freed := b.SendKept(p.ID, 0)
	if sent != 16 || freed != 16 || b.TxFull() != 0 || b.Len() != 0 {
		t.Fatalf("SendKept: sent %d freed %d txfull %d len %d", sent, freed, b.TxFull(), b.Len())
	}
	if pool.InUse() != 16 {
		t.Fatalf("in use %d after SendKept, want the 16 sent", pool.InUse())
	}
	if n := b.Rx(p.ID, 0); n != 16 {
		t.Fatalf("Rx got %d kept packets", n)
	}
	for i, pkt := range b.Packets() {
		if pkt[0] != byte(2*i) {
			t.Fatalf("packet %d is #%d, want #%d (kept order)", i, pkt[0], 2*i)
		}
	}
	// The first four kept, sent and (net_ring loops them back) received
	// again in one call; the other twelve freed.
	for i := range 4 {
		b.Keep()[i] = 1
	}
	if n := b.SendKeptThenRx(p.ID, 0, p.ID, 0); n != 4 || b.TxFull() != 0 || pool.InUse() != 4 {
		t.Fatalf("SendKeptThenRx received %d (txfull %d, in use %d), want the 4 it sent", n, b.TxFull(), pool.InUse())
	}
	for i, pkt := range b.Packets() {
		if keep := b.Keep()[i]; pkt[0] != byte(2*i) || keep != 0 {
			t.Fatalf("packet %d after SendKeptThenRx is #%d (keep %d), want #%d (keep 0)", i, pkt[0], keep, 2*i)
		}
	}
	// Nothing kept: everything is freed.
	sent, freed = b.SendKept(p.ID, 0)
	if sent != 0 || freed != 4 {
		t.Fatalf("SendKept of nothing kept: sent %d freed %d", sent, freed)
	}
	if pool.InUse() != 0 {
		t.Fatalf("in use %d, want 0", pool.InUse())
	}
}

func TestRingMultiQueueAndTxFull(t *testing.T) {
	pool := newPool(t, "t_mq", 4095)
	// net_ring has no RSS: several queues are refused unless the caller
	// says the device keeps flows apart by itself.
	id := portID(t, "net_ring2")
	if _, err := OpenPort(id, PortConfig{Mempool: pool, RxQueues: 2, TxQueues: 2}); !errors.Is(err, ErrNoRSS) ||
		!strings.Contains(err.Error(), "driver net_ring") || !strings.Contains(err.Error(), "2 RX queues") {
		t.Fatalf("two queues on net_ring without SpreadByDevice: %v", err)
	}
	p := openPort(t, "net_ring2", PortConfig{Mempool: pool, RxQueues: 2, TxQueues: 2, SpreadByDevice: true})
	// Two queues are two independent loopback rings.
	if p.RSSEnabled() || p.RxQueues() != 2 || p.TxQueues() != 2 {
		t.Fatalf("rss %v queues %d/%d", p.RSSEnabled(), p.RxQueues(), p.TxQueues())
	}
	if p.RSSQueue(12345) != 0 {
		t.Fatal("RSSQueue without RSS must be 0")
	}
	b := newBurst(t, 32)
	if err := b.Alloc(pool, 8, 64); err != nil {
		t.Fatal(err)
	}
	if sent := b.SendAll(p.ID, 1); sent != 8 {
		t.Fatalf("sent %d", sent)
	}
	if n := b.Rx(p.ID, 0); n != 0 {
		t.Fatalf("queue 0 received %d packets sent on queue 1", n)
	}
	if n := b.Rx(p.ID, 1); n != 8 {
		t.Fatalf("queue 1 received %d of 8", n)
	}
	b.Drop()
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxQueuePackets[1] != 8 || st.TxQueuePackets[1] != 8 || st.RxQueuePackets[0] != 0 {
		t.Errorf("per-queue stats rx %v tx %v", st.RxQueuePackets, st.TxQueuePackets)
	}

	// Fill queue 0's ring until TX refuses: the refused packets are freed
	// and counted by TxFull.
	queued, full := 0, 0
	for full == 0 && queued < 4096 {
		if err := b.Alloc(pool, 32, 64); err != nil {
			t.Fatal(err)
		}
		queued += b.SendAll(p.ID, 0)
		full = b.TxFull()
	}
	if full == 0 {
		t.Fatal("TX ring never filled")
	}
	if pool.InUse() != queued {
		t.Fatalf("in use %d, queued %d: refused packets were not freed", pool.InUse(), queued)
	}
	drained := 0
	for n := b.Rx(p.ID, 0); n > 0; n = b.Rx(p.ID, 0) {
		drained += n
	}
	if drained != queued {
		t.Fatalf("drained %d of %d queued", drained, queued)
	}
	t.Logf("net_ring queue filled after %d packets", queued)
}

func TestNullPort(t *testing.T) {
	pool := newPool(t, "t_null", 1023)
	p := openPort(t, "net_null0", PortConfig{Mempool: pool})
	if err := p.EnablePromiscuous(); err != nil {
		t.Fatal(err)
	}
	b := newBurst(t, 32)
	// net_null receives a full burst of 64-byte packets on every call.
	if n := b.Rx(p.ID, 0); n != 32 {
		t.Fatalf("Rx got %d", n)
	}
	for i, pkt := range b.Packets() {
		if len(pkt) != 64 {
			t.Fatalf("packet %d has %d bytes", i, len(pkt))
		}
	}
	if sent := b.SendAll(p.ID, 0); sent != 32 {
		t.Fatalf("SendAll sent %d", sent)
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// net_null counts packets but not bytes.
	if st.IPackets != 32 || st.OPackets != 32 || st.RxQueuePackets[0] != 32 || st.TxQueuePackets[0] != 32 {
		t.Errorf("stats %+v", st)
	}
}

func TestPortClose(t *testing.T) {
	pool := newPool(t, "t_close", 255)
	id := portID(t, "net_null4")
	p, err := OpenPort(id, PortConfig{Mempool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	before := PortCount()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if PortCount() != before-1 {
		t.Errorf("port count %d after Close, was %d", PortCount(), before)
	}
	if _, err := PortByName("net_null4"); err == nil {
		t.Error("closed vdev still found by name")
	}
	if _, err := OpenPort(id, PortConfig{}); err == nil || !strings.Contains(err.Error(), "nil Mempool") {
		t.Errorf("OpenPort without a mempool: %v", err)
	}
}

func TestNullRSS(t *testing.T) {
	pool := newPool(t, "t_rss", 1023)
	info, err := GetDeviceInfo(portID(t, "net_null3"))
	if err != nil {
		t.Fatal(err)
	}
	if !info.RSSCapable() || info.RetaSize < 128 {
		t.Fatalf("net_null: %+v, want RSS with a table of at least 128 entries", info)
	}
	// The table's period is the device's whole table unless asked for
	// less; queue counts beyond 32 must spread as evenly as small ones.
	for _, tc := range []struct {
		nq     uint16
		period uint16
	}{{2, 0}, {3, 0}, {64, 0}, {info.RetaSize, 0}, {3, 64}} {
		t.Run(fmt.Sprintf("%d queues period %d", tc.nq, tc.period), func(t *testing.T) {
			nq := tc.nq
			p := openPort(t, "net_null3", PortConfig{Mempool: pool, RxQueues: nq, RetaPeriod: tc.period})
			if !p.RSSEnabled() {
				t.Fatal("net_null reports RSS support; RSS should be on")
			}
			wantPeriod := int(tc.period)
			if wantPeriod == 0 {
				wantPeriod = int(info.RetaSize)
			}
			if p.RetaPeriod() != wantPeriod {
				t.Errorf("period %d, want %d", p.RetaPeriod(), wantPeriod)
			}
			if p.RSSHashFields() == 0 || p.RSSHashFields()&^DefaultRSSHashFields != 0 {
				t.Errorf("hash fields %#x, want a subset of %#x", p.RSSHashFields(), DefaultRSSHashFields)
			}
			reta, err := p.RSSReta()
			if err != nil {
				t.Fatal(err)
			}
			if len(reta) != p.RetaSize() || len(reta) == 0 {
				t.Fatalf("reta of %d entries, size %d", len(reta), p.RetaSize())
			}
			counts := make([]int, nq)
			for i, q := range reta {
				// Every hash whose low bits index entry i lands on RSSQueue.
				if int(q) != RSSQueue(uint32(i), p.RetaPeriod(), int(nq)) || int(q) != p.RSSQueue(uint32(i)) {
					t.Fatalf("reta[%d] = %d, RSSQueue says %d", i, q, p.RSSQueue(uint32(i)))
				}
				counts[q]++
			}
			// No queue gets more than 25 % more entries than another.
			if lo, hi := slices.Min(counts), slices.Max(counts); lo == 0 || 4*hi > 5*lo {
				t.Errorf("%d queues: %d..%d table entries per queue", nq, lo, hi)
			}
			key, hf, err := p.RSSHashConf()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key, DefaultRSSKey[:]) || hf != p.RSSHashFields() {
				t.Errorf("device key %x hf %#x", key, hf)
			}
			// net_null generates packets on any queue; it does not hash.
			b := newBurst(t, 8)
			for q := range min(nq, 4) {
				if n := b.Rx(p.ID, q); n != 8 {
					t.Errorf("queue %d received %d", q, n)
				}
				b.Drop()
			}
		})
	}
}

// Queue counts the table cannot spread evenly enough are refused, saying
// why; so is a period the table cannot have.
func TestNullRSSRefusesUnevenSpread(t *testing.T) {
	pool := newPool(t, "t_rss_uneven", 255)
	id := portID(t, "net_null3")
	info, err := GetDeviceInfo(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		nq, period uint16
		want       string
	}{
		{info.RetaSize/3 + 1, 0, "some queues would get 3 entries, others 2"},
		{info.RetaSize + 1, 0, "1 of them would get no traffic"},
		{33, 64, "some queues would get 2 entries, others 1"},
		{2, 96, "period 96: want a power of two"},
		{2, 2 * info.RetaSize, "no larger than the device's table"},
	} {
		_, err := OpenPort(id, PortConfig{Mempool: pool, RxQueues: tc.nq, RetaPeriod: tc.period})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d queues, period %d: %v, want an error saying %q", tc.nq, tc.period, err, tc.want)
		}
	}
}

func portID(t *testing.T, name string) uint16 {
	t.Helper()
	id, err := PortByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRxPacketsSendKeptDoNotAllocate(t *testing.T) {
	pool := newPool(t, "t_alloc", 1023)
	p := openPort(t, "net_null1", PortConfig{Mempool: pool})
	b := newBurst(t, 32)
	allocs := testing.AllocsPerRun(200, func() {
		b.Rx(p.ID, 0)
		for i, pkt := range b.Packets() {
			pkt[0] ^= 1
			b.Keep()[i] = byte(i & 1)
		}
		b.SendKept(p.ID, 0)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Rx+Packets+Keep+SendKept, want 0", allocs)
	}
	b.Rx(p.ID, 0)
	allocs = testing.AllocsPerRun(200, func() {
		for i := range b.Packets() {
			b.Keep()[i] = byte(i & 1)
		}
		b.SendKeptThenRx(p.ID, 0, p.ID, 0)
	})
	b.Drop()
	if allocs != 0 {
		t.Errorf("%v allocations per Keep+SendKeptThenRx, want 0", allocs)
	}
}

func TestAllocAndLinkUp(t *testing.T) {
	pool := newPool(t, "t_alloc", 1023)
	p, err := OpenPort(portID(t, "net_ring3"), PortConfig{Mempool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if up, err := p.LinkUp(); err != nil || up {
		t.Fatalf("LinkUp before Start = %v, %v; want down", up, err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if up, err := p.LinkUp(); err != nil || !up {
		t.Fatalf("LinkUp after Start = %v, %v; want up", up, err)
	}
	b := newBurst(t, 32)
	const count, length = 5, 1514
	if err := b.Alloc(pool, count, length); err != nil {
		t.Fatal(err)
	}
	for i, pkt := range b.Packets() {
		if len(pkt) != length {
			t.Fatalf("packet %d has %d bytes, want %d", i, len(pkt), length)
		}
		fillPattern(pkt, i)
	}
	if sent := b.SendAll(p.ID, 0); sent != count {
		t.Fatalf("sent %d of %d", sent, count)
	}
	// The lengths are the mbufs' own: they survive the round trip.
	if n := b.Rx(p.ID, 0); n != count {
		t.Fatalf("received %d of %d", n, count)
	}
	for i, pkt := range b.Packets() {
		want := make([]byte, length)
		fillPattern(want, i)
		if !bytes.Equal(pkt, want) {
			t.Fatalf("packet %d: %d bytes, want %d with its pattern", i, len(pkt), length)
		}
	}
	b.Drop()
	if err := b.Alloc(pool, 33, 60); err == nil {
		t.Error("Alloc of 33 packets into a burst of 32 succeeded")
	}
	if err := b.Alloc(pool, 2, 5000); err == nil || !strings.Contains(err.Error(), "rte_pktmbuf_append") {
		t.Errorf("Alloc past the data room: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("failed Alloc left %d packets held", b.Len())
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if up, err := p.LinkUp(); err != nil || up {
		t.Errorf("LinkUp after Stop = %v, %v; want down", up, err)
	}
}
