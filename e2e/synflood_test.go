package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vec/e2e/traffic"
	"vec/fastpath/header"
	"vec/internal/pcapfile"
)

// The SYN-flood test (issue 13): hping3 floods the VIP with SYNs from
// random sources while established downloads run and new connections keep
// arriving. vecd's table is small, so the flood fills it and the eviction
// policy (closing, then embryonic, then idle ACTIVE entries) decides what
// survives; the downloads are ACTIVE and must not be touched.
//
// The servers receive the flood's SYNs (DSR forwards them like any other)
// and accept them at the IP layer (netns.sh sets rp_filter=0 there, as DSR
// needs), but their SYN-ACKs to the random sources have no route: a server
// namespace holds only the cluster's /24. The server's TCP drops each such
// SYN on the failed route lookup (IpOutNoRoutes), without keeping a request
// socket, so no SYN-ACK reaches the segment and no server's SYN queue
// fills. The test logs that count next to the SYNs forwarded.

const (
	floodStreams = 50
	// floodStreamRate and floodStreamLength: each download is paced to
	// 250 kB/s (12.5 MB/s for the 50) and lasts long enough to be open
	// across the whole flood, which starts once all are established.
	floodStreamRate   = 250_000
	floodStreamLength = floodLength + 10*time.Second
	floodLength       = 30 * time.Second
	// floodTableCapacity is vecd's table (entries per worker): an embryonic
	// entry lives 3 s (the SYN timeout), so a flood of more than about
	// 1400 SYN/s keeps it full on its own.
	floodTableCapacity = 4096
	// floodPaceEnv overrides hping3's pacing: an interval as hping3's -i
	// takes it (u50: 50 µs between SYNs), or "flood" for --flood.
	floodPaceEnv = "VEC_SYNFLOOD_PACE"
	// floodPace is hping3's default interval. hping3 sleeps longer than it
	// asks, so the rate it reaches is measured and logged.
	floodPace = "u50"
)

// floodDropReasons are the drop reasons under which vecd may count a pure
// SYN to a service's port: anything else a SYN of the flood met would be
// forwarded.
var floodDropReasons = []string{"table_full", "no_server", "server_unresolved"}

// TestSYNFloodSparesConnections: 50 paced downloads run through vecd,
// first unflooded, then while hping3 floods the VIP with SYNs from random
// sources for 30 s, with new short connections arriving at a steady rate
// in both runs. Under the flood no download fails or is reset, their
// throughput stays at 90 % or more of the unflooded run's, every new
// connection is accepted, the flood fills vecd's table (it evicts embryonic
// entries, and no ACTIVE one), and every SYN that left the client (counted
// there) is accounted for: forwarded by vecd (counted on its bridge port)
// or dropped under a reason in vecd's counters.
func TestSYNFloodSparesConnections(t *testing.T) {
	hping, err := exec.LookPath("hping3")
	if err != nil {
		SkipOrFail(t, "needs hping3 (apt-get install hping3; scripts/setup.sh installs it)")
	}
	pace := floodPace
	if p := os.Getenv(floodPaceEnv); p != "" {
		pace = p
	}
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	Binary(t, "vec-loadgen")
	services := []vecdService{{Name: "http", Proto: "tcp", Port: traffic.HTTPPort, Servers: weightedServers(c, false)}}
	v := startVecd(t, c, withTableCapacity(t, vecdYAML(c, services), floodTableCapacity), true)

	calm := runFloodPhase(t, c, v, "", "")
	flood := runFloodPhase(t, c, v, hping, pace)

	// Throughput: what the client received over the window, and what
	// vec-loadgen measured over each whole run.
	ratio := flood.throughput() / calm.throughput()
	t.Logf("throughput at the client: unflooded %.1f MB/s, flooded %.1f MB/s (%.1f %%); vec-loadgen over the runs: %.4f and %.4f Gbps",
		calm.throughput()/1e6, flood.throughput()/1e6, 100*ratio, calm.streams.Gbps, flood.streams.Gbps)
	if ratio < 0.9 {
		t.Errorf("the downloads' throughput under the flood is %.1f %% of the unflooded run's, want at least 90 %%", 100*ratio)
	}
	if flood.streams.Gbps < 0.9*calm.streams.Gbps {
		t.Errorf("vec-loadgen measured %.4f Gbps under the flood, %.4f without: below 90 %%", flood.streams.Gbps, calm.streams.Gbps)
	}
	for _, p := range []*floodRun{calm, flood} {
		if n := p.streams.Errors.ByClass["reset"]; n != 0 {
			t.Errorf("%s: %d downloads were reset", p.what, n)
		}
	}

	// The table: the flood filled it and evicted embryonic entries only.
	d := flood.delta()
	t.Logf("vecd's table (capacity %d) under the flood: at most %d entries; evicted %d embryonic, %d closing, %d ACTIVE; %d embryonic expired",
		floodTableCapacity, flood.maxEntries, d.evictedSYN, d.evictedFIN, d.evictedActive, d.expiredSYN)
	if d.evictedSYN == 0 {
		t.Errorf("the flood evicted no embryonic entry (at most %d entries of %d): the table never filled, the test proves nothing about eviction",
			flood.maxEntries, floodTableCapacity)
	}
	if d.evictedActive != 0 {
		t.Errorf("the flood evicted %d ACTIVE entries", d.evictedActive)
	}

	// Every SYN that left the client, the flood's and the new
	// connections', was forwarded by vecd or dropped under a reason.
	var dropped uint64
	for _, r := range floodDropReasons {
		dropped += d.drops[r]
	}
	cs, fs := flood.clientSYNs, flood.fwSYN
	sending := cs.lastBare.Sub(cs.firstBare)
	t.Logf("flood: hping3 %s for %s: %d SYNs left the client (%.0f/s; hping3 itself counted %d); vecd forwarded %d of them (%d twice), %d dropped",
		pace, ms(sending), cs.bare, float64(cs.bare)/sending.Seconds(), flood.hpingSent, fs.bare, fs.bareRepeats, int64(cs.bare)-int64(fs.bare))
	t.Logf("legitimate SYNs: %d left the client, vecd forwarded %d, %d dropped; vecd's SYN drops %v: %d in all",
		cs.withOptions, fs.withOptions, int64(cs.withOptions)-int64(fs.withOptions), floodDropReasons, dropped)
	t.Logf("vecd over the flood's window: received %d frames (the gateway interface %d), forwarded %d (tx_full %d), replied %d, dropped %v",
		d.rx, d.portRX, d.tx, d.txFull, d.replies, d.drops)
	t.Logf("the servers' new connections in the window: %d; their kernels found no route for %d SYN-ACKs to the flood's sources",
		d.newConns, flood.noRoutes)
	if cs.bare == 0 {
		t.Fatalf("hping3 sent nothing:\n%s", flood.hpingOut)
	}
	if cs.total() != fs.total()+dropped {
		t.Errorf("%d SYNs left the client; vecd forwarded %d and dropped %d: %d unaccounted for", cs.total(), fs.total(), dropped,
			int64(cs.total())-int64(fs.total()+dropped))
	}
	if fs.bareRepeats != 0 || cs.bareRepeats != 0 {
		t.Errorf("flood SYNs seen twice: %d on the client, %d among those vecd forwarded", cs.bareRepeats, fs.bareRepeats)
	}
	for _, p := range []*floodRun{calm, flood} {
		if d := p.delta(); d.rx != d.tx+d.replies+d.arpLearned+d.sumDrops() {
			t.Errorf("%s: vecd's counters do not add up: rx %d != tx %d + replies %d + arp_learned %d + drops %d",
				p.what, d.rx, d.tx, d.replies, d.arpLearned, d.sumDrops())
		}
	}
}

// withTableCapacity sets workers.table_capacity in a vecdYAML configuration.
func withTableCapacity(t *testing.T, yaml string, capacity int) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(  table_capacity: )\d+$`)
	if len(re.FindAllString(yaml, -1)) != 1 {
		t.Fatalf("no single workers.table_capacity in the configuration:\n%s", yaml)
	}
	return re.ReplaceAllString(yaml, "${1}"+strconv.Itoa(capacity))
}

// floodRun is one run of the downloads and new connections, flooded or not,
// with what was measured over its window (the flood's 30 s, or as long
// without one).
type floodRun struct {
	what    string
	streams *traffic.DownloadResult
	// rxBytes is what the client's interface received over the window.
	rxBytes uint64
	elapsed time.Duration
	// before and after are vecd's counters written just before the window
	// and after it (and the flood's last frame) ended; portRX the gateway
	// interface's kernel count of received frames at about those times.
	before, after         vecdCounters
	portBefore, portAfter uint64
	maxEntries            uint64
	// The flood: hping3's own count of SYNs sent and its output; the SYNs
	// that left the client and those vecd forwarded to the servers,
	// counted on the wire; and how many SYN-ACKs the servers had no route
	// for.
	hpingSent         uint64
	hpingOut          string
	clientSYNs, fwSYN synCount
	noRoutes          uint64
}

func (r *floodRun) throughput() float64 { return float64(r.rxBytes) / r.elapsed.Seconds() }

// runFloodPhase runs the downloads; once all are established, new
// connections for floodLength and, with hping set, the flood alongside.
func runFloodPhase(t *testing.T, c *Cluster, v *vecdProc, hping, pace string) *floodRun {
	t.Helper()
	r := &floodRun{what: "unflooded run"}
	if hping != "" {
		r.what = "flooded run"
	}
	opened := time.Now()
	streams := c.startPacedStreams(floodStreams, floodStreamRate, floodStreamLength, floodStreamLength+25*time.Second)
	waitActive(t, v, floodStreams, opened, 20*time.Second)
	// The gauge counts a connection from its SYN: give the last
	// handshakes time to complete, so no download's SYN falls in the
	// window.
	time.Sleep(time.Second)

	cl := c.Status().Client
	var clientCapture, forwarded *fwdCapture
	var noRoutesBefore uint64
	if hping != "" {
		// Every SYN the client sends (hping3's and the new connections'),
		// and every SYN vecd forwards. Both listen before the first of
		// those SYNs is sent, and stop after the last is through.
		const syns = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
		forwarded = c.startForwardCaptureOf(1, syns)
		clientCapture = c.startFrameCapture(cl.NS, cl.Iface, syns, "-Q", "out")
		noRoutesBefore = serversNoRoutes(t, c)
	}
	var err error
	r.before = freshCounters(t, v, time.Now())
	if r.portBefore, err = portRX(c); err != nil {
		t.Fatal(err)
	}
	rx0 := mustIfaceStat(t, c, cl.NS, cl.Iface, "rx_bytes")
	start := time.Now()
	conns := c.startNewConns(floodLength)
	var flood *Proc
	if hping != "" {
		args := []string{hping, "-q", "-S", "-p", strconv.Itoa(traffic.HTTPPort), "--rand-source"}
		if pace == "flood" {
			args = append(args, "--flood")
		} else {
			args = append(args, "-i", pace)
		}
		flood = c.Start(c.ClientNS(), "hping3", append(args, c.VIP().String())...)
	}
	sampler := startEntriesSampler(v)
	time.Sleep(floodLength)
	if flood != nil {
		// hping3 prints its count of sent packets when interrupted; at
		// the shortest intervals it may take its time to notice.
		if err := flood.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if flood.Wait(2*time.Second) != nil && flood.Running() {
			t.Logf("hping3 still sending 2 s after SIGINT: stopping it")
			flood.Stop()
		}
	}
	r.elapsed = time.Since(start)
	r.rxBytes = mustIfaceStat(t, c, cl.NS, cl.Iface, "rx_bytes") - rx0
	end := time.Now()
	r.maxEntries = sampler.stop()
	if failed := conns.result(t, "new connections during the "+r.what); failed != 0 {
		t.Errorf("%s: %d new connections failed", r.what, failed)
	}
	if flood != nil {
		// The last counters are read once no SYN is on its way and the
		// table has room again: no later SYN is dropped for a full table.
		if !waitFor(10*time.Second, func() bool {
			st, _, err := v.liveCounters()
			return err == nil && st.entries() < floodTableCapacity
		}) {
			t.Errorf("vecd's table still full 10 s after the flood")
		}
	}
	r.after = freshCounters(t, v, time.Now())
	if r.portAfter, err = portRX(c); err != nil {
		t.Fatal(err)
	}
	if flood != nil {
		r.hpingOut = flood.Output()
		// Its own count is for the log: the SYNs counted on the wire are
		// the reference.
		if m := regexp.MustCompile(`(\d+) packets transmitted`).FindStringSubmatch(r.hpingOut); m != nil {
			r.hpingSent, _ = strconv.ParseUint(m[1], 10, 64)
		}
		r.noRoutes = serversNoRoutes(t, c) - noRoutesBefore
		for _, cp := range []struct {
			capture *fwdCapture
			count   *synCount
		}{{clientCapture, &r.clientSYNs}, {forwarded, &r.fwSYN}} {
			pkts, complete := cp.capture.packets()
			if !complete {
				t.Errorf("the capture %s lost frames: %q", cp.capture.path, strings.TrimSpace(cp.capture.proc.Output()))
			}
			*cp.count = countSYNs(pkts)
		}
	}
	r.streams = streams.check(t, fmt.Sprintf("%d downloads, %s", floodStreams, r.what), start, end)
	return r
}

// waitActive waits until counters vecd wrote after since count n live
// connections over its servers.
func waitActive(t *testing.T, v *vecdProc, n int64, since time.Time, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, written, err := v.liveCounters()
		var active int64
		for _, s := range st.Servers {
			active += s.Active
		}
		if err == nil && written.After(since) && active >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vecd holds %d ACTIVE connections after %v, want %d (%v): %s", active, timeout, n, err, st.brief())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freshCounters returns the first counters vecd wrote after since.
func freshCounters(t *testing.T, v *vecdProc, since time.Time) vecdCounters {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, written, err := v.liveCounters()
		if err == nil && written.After(since) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("vecd wrote no counters after %s (%v)", since.Format("15:04:05.000"), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustIfaceStat(t *testing.T, c *Cluster, ns, iface, stat string) uint64 {
	t.Helper()
	n, err := ifaceStat(c, ns, iface, stat)
	if err != nil {
		t.Fatalf("%s's %s in %s: %v", iface, stat, ns, err)
	}
	return n
}

// entriesSampler follows the table's size in vecd's live counters.
type entriesSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
}

func startEntriesSampler(v *vecdProc) *entriesSampler {
	s := &entriesSampler{done: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(statsInterval / 2)
		defer tick.Stop()
		for {
			if st, _, err := v.liveCounters(); err == nil {
				s.max = max(s.max, st.entries())
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// stop ends the sampling and returns the most entries seen.
func (s *entriesSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return s.max
}

// serversNoRoutes sums the servers' IpOutNoRoutes: datagrams, here SYN-ACKs
// to the flood's random sources, their kernels had no route for.
func serversNoRoutes(t *testing.T, c *Cluster) uint64 {
	t.Helper()
	var sum uint64
	for _, s := range c.Servers() {
		snmp := c.Exec(s.NS, "cat", "/proc/net/snmp")
		var names []string
		for line := range strings.Lines(snmp) {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "Ip:" {
				continue
			}
			if names == nil {
				names = f
				continue
			}
			for i, name := range names {
				if name == "OutNoRoutes" && i < len(f) {
					n, err := strconv.ParseUint(f[i], 10, 64)
					if err != nil {
						t.Fatalf("%s's /proc/net/snmp: %v", s.NS, err)
					}
					sum += n
				}
			}
		}
	}
	return sum
}

// synCount counts the SYNs (without ACK) among captured frames. Bare
// ones, with a 20-byte TCP header, are hping3's: Linux always puts options
// (MSS at least) in its SYNs, so the legitimate connections' SYNs have
// options, whatever source the flood picked. bareRepeats counts bare SYNs
// seen again (same source address, port and sequence number).
type synCount struct {
	bare, withOptions, bareRepeats uint64
	// firstBare and lastBare are when the first and the last bare SYN
	// was captured.
	firstBare, lastBare time.Time
}

func (n synCount) total() uint64 { return n.bare + n.withOptions }

func countSYNs(pkts []pcapfile.Packet) synCount {
	var n synCount
	seen := map[[10]byte]bool{}
	for _, p := range pkts {
		eth := header.Ethernet(p.Data)
		if !eth.IsValid() || eth.Type() != header.EtherTypeIPv4 {
			continue
		}
		ip := header.IPv4(eth.Payload())
		if len(ip) < header.IPv4MinHeaderLen || ip.Protocol() != header.TCPProtocolNumber {
			continue
		}
		tcp := header.TCP(ip[ip.HeaderLen():])
		if len(tcp) <= header.TCPFlagsOffset {
			continue
		}
		if tcp.Flags()&(header.TCPFlagSYN|header.TCPFlagACK) != header.TCPFlagSYN {
			continue
		}
		if tcp.DataOffset() != header.TCPMinHeaderLen {
			n.withOptions++
			continue
		}
		n.bare++
		if n.firstBare.IsZero() || p.Time.Before(n.firstBare) {
			n.firstBare = p.Time
		}
		if p.Time.After(n.lastBare) {
			n.lastBare = p.Time
		}
		var k [10]byte // source address, source port, sequence number
		s := binary.BigEndian.AppendUint32(k[:0], ip.Source())
		s = binary.BigEndian.AppendUint16(s, tcp.SourcePort())
		binary.BigEndian.AppendUint32(s, tcp.SequenceNumber())
		if seen[k] {
			n.bareRepeats++
		}
		seen[k] = true
	}
	return n
}

// floodDelta is what vecd counted over a run's window.
type floodDelta struct {
	rx, tx, replies, arpLearned, txFull, portRX       uint64
	drops                                             map[string]uint64
	evictedSYN, evictedFIN, evictedActive, expiredSYN uint64
	newConns                                          uint64
}

func (r *floodRun) delta() floodDelta {
	d := floodDelta{drops: map[string]uint64{}, portRX: r.portAfter - r.portBefore}
	for i, a := range r.after.Cores {
		b := r.before.Cores[i]
		d.rx += a.RX - b.RX
		d.tx += a.TX - b.TX
		d.replies += a.Replies - b.Replies
		d.arpLearned += a.ARPLearned - b.ARPLearned
		d.txFull += a.TxFull - b.TxFull
		d.evictedSYN += a.EvictedSYN - b.EvictedSYN
		d.evictedFIN += a.EvictedFIN - b.EvictedFIN
		d.evictedActive += a.EvictedActive - b.EvictedActive
		d.expiredSYN += a.ExpiredSYN - b.ExpiredSYN
		for reason, n := range a.Drops {
			if n > b.Drops[reason] {
				d.drops[reason] += n - b.Drops[reason]
			}
		}
	}
	for _, s := range r.after.Servers {
		if b, ok := r.before.server(s.Service, s.Server); ok {
			d.newConns += s.New - b.New
		}
	}
	return d
}

func (d floodDelta) sumDrops() uint64 {
	var n uint64
	for _, v := range d.drops {
		n += v
	}
	return n
}
