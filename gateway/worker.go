package gateway

import (
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"vec/dpdk"
	"vec/fastpath"
	"vec/fastpath/header"
)

// burstSize is how many packets one rx call asks for.
const burstSize = 32

// idleStop is how long a worker in run-until-input-exhausted mode waits
// without receiving anything before it decides the input is over. net_pcap
// replays a file as fast as it is polled, so any real gap this long means
// the capture has ended.
const idleStop = 300 * time.Millisecond

// Idle-adaptive polling, DPDK l3fwd-power's scheme without interrupts
// (af_packet and virtio-user have none to wait on): a worker that has
// polled idleSpinPolls times in a row without a packet naps, first for
// firstNap, each further empty nap twice as long up to its idleSleep; the
// first packet ends the naps. Packets that arrive meanwhile wait in the RX
// ring, so a nap delays them by at most idleSleep and loses none until the
// ring fills.
const (
	idleSpinPolls = 512
	firstNap      = 16 * time.Microsecond
	// standbyNap is the longest nap of a worker in standby (a backup
	// gateway) when idle_sleep is shorter: it has nothing to forward, and
	// a takeover's first request wakes it after at most this long, then
	// keeps it awake.
	standbyNap = 10 * time.Millisecond
)

// worker is one poll loop: it owns queue `queue` of every port, its fastpath
// core and its burst buffers. Only its own goroutine touches them while it
// runs; main reads the counters after it has stopped.
type worker struct {
	cpu   int
	queue uint16
	ports []uint16
	// maxFrame[i] is the longest frame ports[i] receives whole (its MTU
	// plus the Ethernet header); longer ones are dropped as oversize, like
	// frames chained over several mbufs.
	maxFrame []uint32
	core     *fastpath.Core
	burst    *dpdk.Burst
	// sendPort is the port of the decided burst that burst holds between
	// one pollPort and the next (burst is empty otherwise): pollPort sends
	// it in the same cgo call that receives the next burst, and poll
	// sends it before it returns.
	sendPort uint16
	// whole and wholeAt hold, for a burst with oversize frames, the
	// others and their indices in the burst.
	whole   [burstSize][]byte
	wholeAt [burstSize]int

	verdicts [burstSize]fastpath.Verdict
	txFull   uint64 // packets the TX ring had no room for
	purged   uint64 // entries dropped because their server's drain ended
	// silentVIPs are removed clusters still draining: the fastpath
	// answers ARP and NDP for them (they are in its snapshot), the worker
	// does not send those replies. arpSilenced counts them.
	silentVIPs  []netip.Addr
	arpSilenced uint64

	stopWhenIdle bool
	stop         atomic.Bool
	// iterations counts the loop's iterations (begun) for the control
	// plane's watchdog: one plain atomic store per iteration, no clock.
	iterations atomic.Uint64
	// polls times the iterations (polltime.go); the same reading of the
	// ticks sets the core's clock (iterclock.go).
	polls     pollTimer
	coreClock *iterationClock

	// busyPoll spins whatever the load; otherwise the worker naps when
	// idle, up to idleSleep at a time (the current nap is nap, after
	// empty polls in a row). naps counts them.
	busyPoll  bool
	idleSleep time.Duration
	nap       time.Duration
	empty     int
	naps      uint64
	mailbox   *mailbox

	// probe, pool and clock are set on the worker that sends the ARP
	// requests for servers configured without a MAC.
	probe     *dpdk.Burst
	pool      *dpdk.Mempool
	clock     fastpath.Clock
	nextProbe int64

	// feed, when set, sees every received burst before the fastpath
	// does: LoopConfig.Feed, with which vec-bench writes fresh packets
	// into the buffers net_null hands out, as a NIC would.
	feed func(pkts [][]byte)
}

// run is the worker goroutine. It reports through started whether the
// thread could be registered and pinned, then polls until stopped.
func (w *worker) run(started chan<- error, done chan<- struct{}) {
	defer close(done)
	// The goroutine stays locked to this thread until it exits: EAL keeps
	// per-thread state (lcore id, mempool cache) for registered threads.
	runtime.LockOSThread()
	unregister, err := dpdk.RegisterWorkerThread(w.cpu)
	started <- err
	if err != nil {
		return
	}
	defer unregister()
	w.polls = newPollTimer()
	w.poll()
}

func (w *worker) poll() {
	defer w.flush()
	lastRx := time.Now()
	for idle, iter := 0, 0; !w.stop.Load(); iter++ {
		w.iterations.Store(uint64(iter) + 1)
		ticks := readTicks()
		w.polls.lap(ticks)
		w.coreClock.set(ticks)
		got := 0
		for i, port := range w.ports {
			got += w.pollPort(port, w.maxFrame[i])
		}
		w.core.Reap()
		w.serveMailbox()
		if w.probe != nil && iter%1024 == 0 {
			w.sendARPRequests()
		}
		if !w.busyPoll && w.adapt(got) {
			w.polls.skip()
		}
		if !w.stopWhenIdle {
			continue
		}
		// Reading the clock on every empty poll would cost more than the
		// poll itself; look only every 1024 empty iterations.
		if got > 0 {
			idle = 0
			continue
		}
		if idle++; idle%1024 == 0 {
			if time.Since(lastRx) > idleStop {
				return
			}
		} else if idle == 1 {
			lastRx = time.Now()
		}
	}
}

// adapt naps after a run of empty polls, longer the longer the worker
// stays idle, and resets on the first packet. It reports whether it napped.
func (w *worker) adapt(got int) bool {
	if got > 0 {
		w.empty, w.nap = 0, 0
		return false
	}
	if w.empty++; w.empty < idleSpinPolls {
		return false
	}
	longest := w.idleSleep
	if w.core.Mode() == fastpath.ModeStandby {
		longest = max(longest, standbyNap)
	}
	w.nap = min(max(2*w.nap, firstNap), longest)
	napThread(w.nap)
	w.naps++
	return true
}

// pollPort receives one burst from port and decides it; what is to be
// transmitted goes back out the same port in the cgo call that receives
// the next burst (of this port or another): one call per burst instead
// of one each way. Frames that did not arrive whole (longer than
// maxFrame, or chained) are dropped and counted as oversize before the
// fastpath sees the burst.
func (w *worker) pollPort(port uint16, maxFrame uint32) int {
	// An empty burst (nothing received last time) sends nothing.
	n := w.burst.SendKeptThenRx(w.sendPort, w.queue, port, w.queue)
	w.txFull += uint64(w.burst.TxFull())
	if n == 0 {
		return 0
	}
	views := w.burst.Packets()
	pkts := views
	if w.feed != nil {
		w.feed(pkts)
	}
	keep := w.burst.Keep() // all 0 after Rx: what is not kept is freed
	at := []int(nil)       // nil: pkts is the whole burst
	if bad := oversize(w.burst.Segments(), w.burst.PacketLens(), maxFrame); bad > 0 {
		w.core.Counters.RX += uint64(bad)
		w.core.Counters.Drops[fastpath.DropOversize] += uint64(bad)
		pkts, at = wholeOnly(pkts, w.burst.Segments(), w.burst.PacketLens(), maxFrame, w.whole[:0], w.wholeAt[:0])
	}
	verdicts := w.verdicts[:len(pkts)]
	// Encapsulating services write in front of a frame, into its mbuf's
	// headroom; ProcessBurst then replaces the frame's view, which SendKept
	// follows.
	w.core.SetHeadroom(w.burst.Headroom())
	w.core.ProcessBurst(pkts, verdicts)
	if at == nil && len(w.silentVIPs) == 0 {
		// Nearly every burst: the verdicts alone decide.
		for i, v := range verdicts {
			keep[i] = transmitted(v)
		}
	} else {
		for i, v := range verdicts {
			k := transmitted(v)
			if v == fastpath.VerdictReply && len(w.silentVIPs) > 0 && w.silenced(pkts[i]) {
				k = 0
			}
			if at != nil {
				keep[at[i]] = k
				views[at[i]] = pkts[i] // a copy of the view: it may have moved
			} else {
				keep[i] = k
			}
		}
	}
	w.sendPort = port
	return n
}

// flush sends the decided burst pollPort left, if there is one.
func (w *worker) flush() {
	if len(w.ports) == 0 {
		return // it never polled: it holds no burst
	}
	w.burst.SendKept(w.sendPort, w.queue)
	w.txFull += uint64(w.burst.TxFull())
}

// transmitted is v as a keep byte: 1 to send the packet, 0 to free it.
func transmitted(v fastpath.Verdict) byte {
	if v.Transmits() {
		return 1
	}
	return 0
}

// silenced reports whether a reply the fastpath wrote (always untagged:
// tagged frames are dropped) answers for a removed VIP: the sender address
// of an ARP reply, the target of a Neighbor Advertisement, the source of an
// echo reply (ICMP or ICMPv6), is one of silentVIPs. The fastpath writes
// its IPv6 replies without extension headers, so the ICMPv6 message is
// right after the fixed header.
func (w *worker) silenced(reply []byte) bool {
	eth := header.Ethernet(reply)
	if !eth.IsValid() {
		return false
	}
	var ip netip.Addr
	switch eth.Type() {
	case header.EtherTypeARP:
		a := header.ARP(eth.Payload())
		if !a.IsValid() {
			return false
		}
		ip = addr4(a.SenderIP())
	case header.EtherTypeIPv4:
		v4 := header.IPv4(eth.Payload())
		if !v4.IsValid() {
			return false
		}
		ip = addr4(v4.Source())
	case header.EtherTypeIPv6:
		const (
			next   = header.UntaggedIPv6Offset + header.IPv6NextHeaderOffset
			source = header.UntaggedIPv6Offset + header.IPv6SrcAddrOffset
			typ    = header.UntaggedIPv6L4Offset + header.ICMPTypeOffset
			target = header.UntaggedIPv6L4Offset + header.NDPTargetOffset
		)
		if len(reply) < header.UntaggedIPv6L4Offset+header.ICMPHeaderLen || reply[next] != header.ICMPv6ProtocolNumber {
			return false
		}
		switch reply[typ] {
		case header.ICMPv6NeighborAdvertisement:
			if len(reply) < target+header.IPv6AddressLen {
				return false
			}
			ip = netip.AddrFrom16([16]byte(reply[target:]))
		case header.ICMPv6EchoReply:
			ip = netip.AddrFrom16([16]byte(reply[source:]))
		default:
			return false
		}
	default:
		return false
	}
	if slices.Contains(w.silentVIPs, ip) {
		w.arpSilenced++
		return true
	}
	return false
}

// addr4 is the IPv4 address a big-endian integer holds.
func addr4(ip uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
}

// sendARPRequests asks, once per probe interval, every server given by IP
// alone that is unresolved or due for a refresh, on every port (by ARP or
// by Neighbor Discovery; SendKept sends each request as long as its view).
func (w *worker) sendARPRequests() {
	now := w.clock.Now()
	if now < w.nextProbe {
		return
	}
	w.nextProbe = now + int64(fastpath.NeighborProbeInterval)
	snap := w.core.Snapshot()
	if len(snap.NeighborSlots()) == 0 {
		return // every server has a static MAC
	}
	for _, port := range w.ports {
		if err := w.probe.Alloc(w.pool, burstSize, fastpath.NeighborRequestLen); err != nil {
			return // no buffers now: the next interval tries again
		}
		n := snap.WriteNeighborRequests(w.probe.Packets(), now)
		keep := w.probe.Keep()
		for i := range keep {
			keep[i] = 0
			if i < n {
				keep[i] = 1
			}
		}
		w.probe.SendKept(port, w.queue)
	}
}
