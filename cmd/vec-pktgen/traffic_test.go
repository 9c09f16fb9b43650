package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

var (
	testGatewayMAC = pktbuild.MAC{2, 0, 0, 0, 0, 1}
	testSrcMAC     = pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}
	testServers    = []server{{mac: pktbuild.MAC{2, 0, 0, 0, 0, 0x11}, weight: 3}, {mac: pktbuild.MAC{2, 0, 0, 0, 0, 0x12}, weight: 2}}
	testVIP        = netip.MustParseAddr("10.10.0.100")
)

func testTraffic(mode string, flows int) trafficConfig {
	cfg := trafficConfig{
		Mode: mode, Flows: flows, Clients: min(flows, 65536),
		ClientBase: netip.MustParseAddr("10.128.0.1"), StrayBase: netip.MustParseAddr("10.200.0.1"),
		DataPerConn: 16, Sizes: []int{64}, VIP: testVIP, Port: 80,
		GatewayMAC: testGatewayMAC, SrcMAC: testSrcMAC,
	}
	switch mode {
	case modeMixed:
		cfg.DataPerConn, cfg.StrayEvery, cfg.Sizes = 4, 16, imix
	case modeStray:
		cfg.StrayEvery = 1
	}
	return cfg
}

func TestFrameTemplateMatchesPktbuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for kind := range numKinds {
		for _, size := range []int{64, 65, 594, 1514} {
			tmpl, err := newFrameTemplate(kind, size, testSrcMAC, testGatewayMAC, testVIP, 80)
			if err != nil {
				t.Fatal(err)
			}
			for range 50 {
				src, sport, seq, ack := rng.Uint32(), uint16(rng.Uint32()), rng.Uint32(), rng.Uint32()
				got := make([]byte, size)
				tmpl.write(got, src, sport, seq, ack)
				var a [4]byte
				binary.BigEndian.PutUint32(a[:], src)
				payload := 0
				if kind.carriesData() {
					payload = size - headersLen
				}
				want := pktbuild.TCP(pktbuild.Flow{SrcMAC: testSrcMAC, DstMAC: testGatewayMAC,
					SrcIP: netip.AddrFrom4(a), DstIP: testVIP, SrcPort: sport, DstPort: 80},
					kindFlags[kind], seq, ack, make([]byte, payload))
				want = append(want, make([]byte, size-len(want))...)
				if !bytes.Equal(got, want) {
					t.Fatalf("kind %d size %d src %#x port %d seq %#x ack %#x:\n got %x\nwant %x", kind, size, src, sport, seq, ack, got, want)
				}
			}
		}
	}
	if _, err := newFrameTemplate(kindData, 1515, testSrcMAC, testGatewayMAC, testVIP, 80); err == nil {
		t.Error("a 1515-byte frame was accepted")
	}
}

func TestAddressingRoundTrip(t *testing.T) {
	for _, tc := range []struct{ flows, clients int }{{1000, 1000}, {1_000_000, 65536}, {100_000, 30}, {5, 2}} {
		cfg := testTraffic(modeTCP, tc.flows)
		cfg.Clients = tc.clients
		a, err := newAddressing(&cfg)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		seen := map[uint64]int{}
		step := max(1, tc.flows/5000)
		for i := 0; i < tc.flows; i += step {
			for _, gen := range []uint32{0, 1, 2, 1 << 30} {
				src, port := a.flowTuple(i, gen)
				if port < firstPort {
					t.Fatalf("flow %d gen %d: port %d", i, gen, port)
				}
				if got, ok := a.flowOf(src, port); !ok || got != i {
					t.Fatalf("%+v: flow %d gen %d → %#x:%d → flow %d, %v", tc, i, gen, src, port, got, ok)
				}
				if a.isStray(src) {
					t.Fatalf("flow %d comes from a stray address", i)
				}
				if gen == 0 {
					key := uint64(src)<<16 | uint64(port)
					if j, dup := seen[key]; dup {
						t.Fatalf("flows %d and %d share a tuple", j, i)
					}
					seen[key] = i
				}
			}
			_, p0 := a.flowTuple(i, 0)
			if _, p1 := a.flowTuple(i, 1); p1 == p0 {
				t.Fatalf("flow %d keeps port %d for its next connection", i, p0)
			}
		}
		src, port := a.strayTuple(12345)
		if !a.isStray(src) || port < firstPort {
			t.Fatalf("stray tuple %#x:%d", src, port)
		}
		if _, ok := a.flowOf(src, port); ok {
			t.Fatal("a stray maps to a flow")
		}
	}
	cfg := testTraffic(modeTCP, 1_000_000)
	cfg.Clients = 100
	if _, err := newAddressing(&cfg); err == nil {
		t.Error("1M flows from 100 clients (< 16 ports each) accepted")
	}
}

// gateway runs frames through vecd's fastpath (the real state machine,
// table and WRR) and returns what it forwards.
type gateway struct {
	core     *fastpath.Core
	clock    *fastpath.ManualClock
	verdicts []fastpath.Verdict
	tick     bool
}

// mustTraffic builds the traffic of cfg, failing the test if it cannot.
func mustTraffic(t *testing.T, cfg trafficConfig) *traffic {
	t.Helper()
	tr, err := newTraffic(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// newRig: the traffic of cfg, a sink for it and a gateway sized for its
// flows.
func newRig(t *testing.T, cfg trafficConfig) (*traffic, *sink, *gateway) {
	t.Helper()
	tr := mustTraffic(t, cfg)
	return tr, newSink(&tr.addr), newGateway(t, cfg.Flows)
}

func newGateway(t *testing.T, flows int) *gateway {
	return newGatewayWithFinTimeout(t, flows, 0)
}

// newGatewayWithFinTimeout: a gateway whose clock moves a millisecond per
// burst when finTimeout is set.
func newGatewayWithFinTimeout(t *testing.T, flows int, finTimeout time.Duration) *gateway {
	t.Helper()
	snap, err := fastpath.NewSnapshot(&fastpath.Config{
		GatewayMAC: testGatewayMAC,
		Services: []fastpath.ServiceConfig{{ID: 0, VIP: testVIP, Proto: fastpath.ProtoTCP, Port: 80, FinTimeout: finTimeout,
			Servers: []fastpath.ServerConfig{
				{ID: 0, MAC: testServers[0].mac, Weight: testServers[0].weight},
				{ID: 1, MAC: testServers[1].mac, Weight: testServers[1].weight},
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Room for every connection of a run: an aborted connection's entry
	// lingers (the gateway keeps a reset flow's server for a while, against
	// spoofed resets), so the syn mode's table grows with the connections.
	table, err := fastpath.NewTable(make([]fastpath.Entry, fastpath.TableSlots(8*flows)), 42)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fastpath.ManualClock{}
	core, err := fastpath.NewCore(snap, table, clock, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{core: core, clock: clock, verdicts: make([]fastpath.Verdict, burstSize), tick: finTimeout > 0}
}

func (g *gateway) forward(pkts [][]byte) [][]byte {
	if g.tick {
		g.clock.Advance(time.Millisecond)
		g.core.Reap()
	}
	g.core.ProcessBurst(pkts, g.verdicts[:len(pkts)])
	var out [][]byte
	for i, v := range g.verdicts[:len(pkts)] {
		if v.Transmits() {
			out = append(out, pkts[i])
		}
	}
	return out
}

// play plans n packets in bursts, writes them, passes them through fwd
// and counts what comes back.
func play(t *testing.T, tr *traffic, s *sink, n int, fwd func([][]byte) [][]byte) (sent, strays, syns int) {
	t.Helper()
	var planned [burstSize]txPacket
	for sent < n {
		k := tr.plan(planned[:min(burstSize, max(2, n-sent))])
		pkts := make([][]byte, k)
		for i := range k {
			p := &planned[i]
			pkts[i] = make([]byte, len(p.tmpl.frame))
			p.tmpl.write(pkts[i], p.src, p.sport, p.seq, p.ack)
			switch p.tmpl.kind {
			case kindStray:
				strays++
			case kindSYN:
				syns++
			}
		}
		sent += k
		s.count(fwd(pkts))
	}
	return sent, strays, syns
}

func TestTCPTrafficThroughTheFastpath(t *testing.T) {
	const flows = 1000
	tr, s, gw := newRig(t, testTraffic(modeTCP, flows))
	// Twenty passes: every flow completes several connections.
	sent, strays, syns := play(t, tr, s, 20*flows, gw.forward)
	c := &gw.core.Counters
	if c.TotalDrops() != 0 {
		t.Fatalf("the fastpath dropped %d packets: %v", c.TotalDrops(), c.Drops)
	}
	if strays != 0 || s.flowPackets != uint64(sent) || s.misrouted != 0 || s.unmatched != 0 || s.other != 0 {
		t.Fatalf("sent %d, strays %d; sink %+v", sent, strays, s.sinkCounts)
	}
	var opened uint64
	for id := range 2 {
		opened += gw.core.Servers[id].New
	}
	if opened != uint64(syns) || s.syns != uint64(syns) {
		t.Fatalf("%d SYNs sent, %d returned, %d connections opened", syns, s.syns, opened)
	}
	// The clock stands still, so no entry expires: every connection is in
	// the table, and all but the one each flow is in now have closed.
	var active, fin int64
	for id := range 2 {
		active += gw.core.Servers[id].Active
		fin += gw.core.Servers[id].FIN
	}
	if active+fin != int64(syns) || fin < int64(syns-flows) {
		t.Errorf("%d connections: %d active, %d closing", syns, active, fin)
	}
	shares := split(testServers, s.macs[:s.nmacs], s.sinkCounts)
	for _, sh := range shares {
		if d := sh.SYNShare - sh.ExpectedShare; d > 0.001 || d < -0.001 {
			t.Errorf("server %s got %.4f of the connections, want %.4f", sh.MAC, sh.SYNShare, sh.ExpectedShare)
		}
	}
	if !tr.warm() {
		t.Error("not warm after twenty passes")
	}
}

// TestClosingOutlivesAShortFinTimeout: a pass over the flows takes far
// longer than the gateway's FIN timeout here, yet nothing is dropped: the
// last ACK follows its FIN at once, as it does a round trip later in real
// TCP, not a pass later.
func TestClosingOutlivesAShortFinTimeout(t *testing.T) {
	const flows = 1000
	tr := mustTraffic(t, testTraffic(modeTCP, flows))
	s := newSink(&tr.addr)
	// 32 packets a millisecond: a pass takes ~31 ms, the FIN timeout is 5.
	gw := newGatewayWithFinTimeout(t, flows, 5*time.Millisecond)
	sent, _, _ := play(t, tr, s, 30*flows, gw.forward)
	c := &gw.core.Counters
	if c.TotalDrops() != 0 || s.flowPackets != uint64(sent) {
		t.Fatalf("drops %v; %d sent, %d back", c.Drops, sent, s.flowPackets)
	}
	if c.ExpiredFIN == 0 {
		t.Error("no FIN entry expired: the test does not test anything")
	}
}

func TestFirstPassDesynchronisesTheFlows(t *testing.T) {
	const flows = 2000
	tr := mustTraffic(t, testTraffic(modeTCP, flows))
	var planned [burstSize]txPacket
	kinds := map[packetKind]int{}
	for n := 0; n < 2*flows; {
		k := tr.plan(planned[:])
		for _, p := range planned[:k] {
			if n >= flows { // the second pass
				kinds[p.tmpl.kind]++
			}
			n++
		}
	}
	// After the first pass (all SYNs), the flows are spread over the
	// phases of a connection: 16 data segments, one ACK, FIN and last ACK
	// among every 19 packets.
	if kinds[kindData] < flows*15/19 || kinds[kindFIN] < flows/19-10 || kinds[kindSYN] > 0 {
		t.Errorf("second pass: %v", kinds)
	}
}

func TestSYNTrafficOpensAndResets(t *testing.T) {
	const flows = 1000
	cfg := testTraffic(modeSYN, flows)
	tr, s, gw := newRig(t, cfg)
	sent, _, syns := play(t, tr, s, 10*flows, gw.forward)
	c := &gw.core.Counters
	if c.TotalDrops() != 0 || s.flowPackets != uint64(sent) || s.misrouted != 0 || s.unmatched != 0 {
		t.Fatalf("drops %v; sink %+v", c.Drops, s.sinkCounts)
	}
	if syns < sent/2-flows || c.Resets < uint64(syns)-flows {
		t.Errorf("%d packets: %d SYNs, %d resets", sent, syns, c.Resets)
	}
	// Every connection's entry was reset: at most one entry per SYN.
	if c.Entries > uint64(syns) {
		t.Errorf("%d entries for %d connections", c.Entries, syns)
	}
	// Staggered start: the first pass sends half the flows' SYNs.
	tr2 := mustTraffic(t, cfg)
	var planned [burstSize]txPacket
	first := 0
	for tr2.passes == 0 {
		first += tr2.plan(planned[:])
	}
	if first > flows/2+burstSize {
		t.Errorf("the first pass sent %d packets for %d flows", first, flows)
	}
}

func TestStraysAreDropped(t *testing.T) {
	const flows = 500
	for _, mode := range []string{modeStray, modeMixed} {
		tr, s, gw := newRig(t, testTraffic(mode, flows))
		sent, strays, _ := play(t, tr, s, 8*flows, gw.forward)
		c := &gw.core.Counters
		if c.Drops[fastpath.DropNonSYNMiss] != uint64(strays) || c.TotalDrops() != uint64(strays) {
			t.Errorf("%s: %d strays, drops %v", mode, strays, c.Drops)
		}
		if s.strays != 0 || s.flowPackets != uint64(sent-strays) || s.misrouted != 0 || s.unmatched != 0 {
			t.Errorf("%s: sink %+v for %d sent, %d strays", mode, s.sinkCounts, sent, strays)
		}
		switch mode {
		case modeStray:
			if strays != sent {
				t.Errorf("stray mode sent %d flow packets", sent-strays)
			}
		case modeMixed:
			// One in 16, or one in 17 where a connection's FIN and last
			// ACK go out together.
			if strays*16 > sent || strays*17 < sent {
				t.Errorf("mixed mode: %d strays in %d packets, want one in 16", strays, sent)
			}
		}
	}
}

func TestMixedSizesAndSequenceNumbers(t *testing.T) {
	tr := mustTraffic(t, testTraffic(modeMixed, 300))
	sizes := map[int]int{}
	// seq of the next segment of each connection, checked against the
	// bytes each data segment carried.
	next := map[uint64]uint32{}
	var planned [burstSize]txPacket
	for n := 0; n < 30*300; {
		k := tr.plan(planned[:])
		for _, p := range planned[:k] {
			sizes[len(p.tmpl.frame)]++
			if p.tmpl.kind == kindStray {
				continue
			}
			key := uint64(p.src)<<16 | uint64(p.sport)
			if want, ok := next[key]; ok && p.tmpl.kind != kindSYN && p.seq != want {
				t.Fatalf("%#x:%d kind %d: seq %d, want %d", p.src, p.sport, p.tmpl.kind, p.seq, want)
			}
			switch p.tmpl.kind {
			case kindSYN, kindFIN:
				next[key] = p.seq + 1
			case kindData:
				next[key] = p.seq + uint32(len(p.tmpl.frame)-headersLen)
			}
		}
		n += k
	}
	for _, size := range []int{64, 594, 1514} {
		if sizes[size] == 0 {
			t.Errorf("no %d-byte frames: %v", size, sizes)
		}
	}
}

func TestSinkSeesMisroutingAndLoss(t *testing.T) {
	const flows = 1000
	tr, s, gw := newRig(t, testTraffic(modeTCP, flows))
	// A broken gateway: one forwarded packet in 97 goes to the other
	// server, and one SYN in 50 is lost.
	n := 0
	broken := func(pkts [][]byte) [][]byte {
		var out [][]byte
		for _, p := range gw.forward(pkts) {
			n++
			if p[offTCPFlags]&pktbuild.SYN != 0 && n%50 == 0 {
				continue
			}
			if n%97 == 0 {
				// Send it to the other server (…:11 ↔ …:12).
				dst := header.Ethernet(p).Destination()
				if dst[header.MACLen-1] == 0x11 {
					dst[header.MACLen-1] = 0x12
				} else {
					dst[header.MACLen-1] = 0x11
				}
			}
			out = append(out, p)
		}
		return out
	}
	play(t, tr, s, 10*flows, broken)
	if s.misrouted == 0 || s.unmatched == 0 {
		t.Errorf("misrouted %d, unmatched %d: the sink saw nothing wrong", s.misrouted, s.unmatched)
	}
}

// TestHotPathDoesNotAllocate: planning, writing and counting run once per
// packet in the worker loop and must leave the garbage collector alone.
func TestHotPathDoesNotAllocate(t *testing.T) {
	tr := mustTraffic(t, testTraffic(modeMixed, 1000))
	s := newSink(&tr.addr)
	var planned [burstSize]txPacket
	bufs := make([][]byte, burstSize)
	for i := range bufs {
		bufs[i] = make([]byte, maxFrame)
	}
	pkts := make([][]byte, burstSize)
	allocs := testing.AllocsPerRun(1000, func() {
		n := tr.plan(planned[:])
		for i := range n {
			p := &planned[i]
			pkts[i] = bufs[i][:len(p.tmpl.frame)]
			p.tmpl.write(pkts[i], p.src, p.sport, p.seq, p.ack)
		}
		s.count(pkts[:n])
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per burst", allocs)
	}
	if s.flowPackets == 0 || s.strays == 0 {
		t.Errorf("sink counted nothing: %+v", s.sinkCounts)
	}
}

// replayPass sends every replayed frame once through fwd, a burst at a
// time, each frame a fresh copy (the gateway rewrites what it forwards),
// and counts what comes back.
func replayPass(n int, write func(int, []byte) int, s *sink, fwd func([][]byte) [][]byte) {
	for i := 0; i < n; i += burstSize {
		var pkts [][]byte
		for k := i; k < min(n, i+burstSize); k++ {
			buf := make([]byte, maxFrame)
			pkts = append(pkts, buf[:write(k, buf)])
		}
		s.count(fwd(pkts))
	}
}

// TestReplayAfterHandshakes: in tcp mode the warm-up is every flow's
// handshake, and the replayed data segments then belong to the
// connections it opened: the gateway forwards them all to the server of
// their connection, and opens nothing more.
func TestReplayAfterHandshakes(t *testing.T) {
	const flows = 1000
	cfg := testTraffic(modeTCP, flows)
	cfg.Replay = true
	cfg.Sizes = []int{64, 594}
	tr, s, gw := newRig(t, cfg)
	_, _, syns := play(t, tr, s, flows, gw.forward)
	if tr.warm() || syns != flows {
		t.Fatalf("after one pass: warm %v, %d SYNs for %d flows", tr.warm(), syns, flows)
	}
	if _, _, syns = play(t, tr, s, flows, gw.forward); !tr.warm() || syns != 0 {
		t.Fatalf("after the ACK pass: warm %v, %d SYNs", tr.warm(), syns)
	}
	n, write := tr.replayFrames()
	if n != flows || tr.replayKind() != kindData {
		t.Fatalf("%d replayed frames of kind %d for %d flows", n, tr.replayKind(), flows)
	}
	buf := make([]byte, maxFrame)
	if size := write(1, buf); size != 594 || buf[offTCPFlags] != pktbuild.ACK|pktbuild.PSH {
		t.Errorf("flow 1's frame: %d bytes, flags %#x; want a 594-byte data segment", size, buf[offTCPFlags])
	}
	for range 3 {
		replayPass(n, write, s, gw.forward)
	}
	c := &gw.core.Counters
	if c.TotalDrops() != 0 || s.flowPackets != 5*flows || s.misrouted != 0 || s.unmatched != 0 || s.syns != flows {
		t.Fatalf("drops %v; sink %+v", c.Drops, s.sinkCounts)
	}
	if opened := gw.core.Servers[0].New + gw.core.Servers[1].New; opened != flows {
		t.Errorf("%d connections opened for %d flows", opened, flows)
	}
}

func TestReplayedStraysAreDropped(t *testing.T) {
	const flows = 500
	cfg := testTraffic(modeStray, flows)
	cfg.Replay = true
	tr, s, gw := newRig(t, cfg)
	n, write := tr.replayFrames()
	if n != flows || tr.replayKind() != kindStray {
		t.Fatalf("%d replayed frames of kind %d for %d stray tuples", n, tr.replayKind(), flows)
	}
	replayPass(n, write, s, gw.forward)
	if c := &gw.core.Counters; c.Drops[fastpath.DropNonSYNMiss] != flows || s.frames != 0 {
		t.Errorf("drops %v, %d frames came back", c.Drops, s.frames)
	}
	for _, mode := range []string{modeSYN, modeMixed} {
		cfg := testTraffic(mode, flows)
		cfg.Replay = true
		if _, err := newTraffic(&cfg); err == nil {
			t.Errorf("%s mode accepted replay", mode)
		}
	}
}
