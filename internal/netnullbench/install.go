package netnullbench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"vec/control/config"
	"vec/fastpath"
	"vec/gateway"
	"vec/internal/benchfmt"
)

// The install benchmarks measure step (3) of a takeover on its own: rebuilt
// connection entries handed to the workers through their mailboxes, in
// chunks, each worker's chunks one after the other and the workers in
// parallel, as recovery.Takeover's install does, over Gateway.Install. The
// entries are what recovery.Rebuild would make of agents' answers: random
// client tuples to the benchmark's VIP:port, its servers' IDs from the
// manager's Directory, partitioned with Gateway.WorkerFor (software
// Toeplitz with the port's RSS key) and sorted in tuple order.

func isInstallMode(m benchfmt.Mode) bool {
	return m == InstallIdle || m == InstallBusy || m == InstallFwd
}

// installTimeout bounds the install itself; a worker that stops taking
// requests fails the run instead of hanging it.
const installTimeout = 30 * time.Second

// Installed entries: clients in 11.0.0.0/8 (the feed's are in 10.128/16,
// so no tuple is both), to the benchmark's VIP:port.
const (
	installClientNet = 0x0b000000
	installTupleBits = 40 // 24 bits of client address, 16 of port
)

var (
	benchVIP     = netip.MustParseAddrPort("10.10.0.100:80")
	benchServers = []netip.Addr{netip.MustParseAddr("10.10.0.11"), netip.MustParseAddr("10.10.0.12")}
)

// installWorker is one worker of an install run with what the run reads of
// it.
type installWorker struct {
	core int
	feed *feed
	rx   atomic.Uint64 // packets received, added once per burst
}

func runInstallBenchmark(opts Options, nn *netNull, res benchfmt.Result) (benchfmt.Result, error) {
	cores := opts.workerCores()
	traffic := opts.Mode == InstallFwd
	if opts.InstallEntries < 1 || opts.InstallChunk < 1 {
		return res, fmt.Errorf("install benchmark: %d entries in chunks of %d", opts.InstallEntries, opts.InstallChunk)
	}
	if opts.InstallEntries > 1<<installTupleBits {
		return res, fmt.Errorf("install benchmark: at most %d distinct entries", 1<<installTupleBits)
	}
	if len(cores) > 1 && !nn.port.RSSEnabled() {
		return res, fmt.Errorf("port %s has no RSS: every rebuilt entry would go to worker 0", nn.port.Name())
	}
	ctl, err := newControl(opts)
	if err != nil {
		return res, err
	}
	defer ctl.close()
	polling := "adaptive"
	if opts.Mode == InstallBusy {
		polling = "busy"
	}
	iws := make([]*installWorker, len(cores))
	var feeds []*feed
	for i, cpu := range cores {
		iws[i] = &installWorker{core: cpu}
		if traffic {
			iws[i].feed = newFeed(i, opts.Flows, true)
			feeds = append(feeds, iws[i].feed)
		}
	}
	cfg := gateway.LoopConfig{Cores: cores, TableCapacity: opts.tableCapacity(), BusyPoll: opts.Mode == InstallBusy,
		IdleSleep: config.DefaultIdleSleep, NoTraffic: !traffic}
	if traffic {
		cfg.Feed = func(i int) func(pkts [][]byte) {
			iw := iws[i]
			return func(pkts [][]byte) {
				iw.feed.write(pkts)
				iw.rx.Add(uint64(len(pkts)))
			}
		}
	}
	loops, err := newLoops(ctl, nn, cfg, nil)
	if err != nil {
		return res, fmt.Errorf("%w (a connection table of %d MiB of hugepage memory per worker)", err, tableBytes(opts)>>20)
	}
	// Deferred in this order, the loops stop before their memory goes.
	defer loops.Close()
	defer loops.Stop()
	g := loops.Gateway()
	perWorker, err := rebuiltEntries(ctl, g, opts.InstallEntries)
	if err != nil {
		return res, err
	}
	runtime.GC() // the entries' garbage, before anything is measured
	if err := loops.Start(); err != nil {
		return res, err
	}

	rep := &benchfmt.InstallReport{ControlCore: opts.ControlCore, GOMAXPROCS: runtime.GOMAXPROCS(0), Polling: polling, Traffic: traffic,
		Entries: opts.InstallEntries, Chunk: opts.InstallChunk}
	rep.Workers = make([]benchfmt.InstallWorker, len(iws))
	for i, iw := range iws {
		// NewTable holds half its slots.
		rep.Workers[i] = benchfmt.InstallWorker{Core: iw.core, Entries: len(perWorker[i]), TableCapacity: fastpath.TableSlots(opts.tableCapacity()) / 2}
	}
	if traffic {
		if err := waitWarm(feeds, cores); err != nil {
			return res, err
		}
		before := rateOver(iws, func() { time.Sleep(opts.Duration) })
		rep.BeforeMpps, rep.BeforeSeconds = before.mpps(), before.seconds
		for i := range rep.Workers {
			rep.Workers[i].BeforeMpps = before.workerMpps(i)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	// A takeover installs with the workers in ModeRecovering (unknown
	// segments dropped as takeover_miss), then makes them active.
	if err := g.SetMode(ctx, fastpath.ModeRecovering); err != nil {
		return res, err
	}
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	var installErr error
	during := rateOver(iws, func() {
		installErr = installChunks(ctx, g, perWorker, opts.InstallChunk, rep.Workers)
	})
	runtime.ReadMemStats(&mem1)
	if installErr != nil {
		return res, installErr
	}
	if err := g.SetMode(ctx, fastpath.ModeActive); err != nil {
		return res, err
	}
	rep.Seconds = during.seconds
	rep.EntriesPerSec = float64(opts.InstallEntries) / rep.Seconds
	if traffic {
		rep.DuringMpps = during.mpps()
		rep.DuringRatio = rep.DuringMpps / rep.BeforeMpps
		after := rateOver(iws, func() { time.Sleep(opts.Duration) })
		rep.AfterMpps, rep.AfterSeconds = after.mpps(), after.seconds
		for i := range rep.Workers {
			rep.Workers[i].DuringMpps = during.workerMpps(i)
			rep.Workers[i].AfterMpps = after.workerMpps(i)
		}
		res.Packets = during.total()
		res.Mpps = rep.DuringMpps
	}
	res.Seconds = rep.Seconds
	res.AllocMBps = float64(mem1.TotalAlloc-mem0.TotalAlloc) / rep.Seconds / 1e6
	res.GCCycles = mem1.NumGC - mem0.NumGC

	if err := loops.Stop(); err != nil {
		return res, err
	}
	// The loops have stopped: their counters are ours.
	res.Hugepage = true
	var problems []error
	for i, r := range g.ReadStopped(0).Cores {
		wr := &rep.Workers[i]
		c := &r.Counters
		wr.TableEntries = int(c.Entries)
		rep.Installed += wr.Installed
		rep.Existing += wr.Existing
		rep.Full += wr.Full
		rep.Invalid += wr.Invalid
		rep.TableEntries += wr.TableEntries
		res.Dropped += c.TotalDrops()
		res.Entries += c.Entries
		want := wr.Installed
		if traffic {
			want += opts.Flows
		}
		if wr.TableEntries != want {
			problems = append(problems, fmt.Errorf("worker on core %d: table holds %d entries, want %d", wr.Core, wr.TableEntries, want))
		}
		if c.Installed != uint64(wr.Installed) {
			problems = append(problems, fmt.Errorf("worker on core %d: counted %d installed, its answers say %d", wr.Core, c.Installed, wr.Installed))
		}
	}
	res.Install = rep
	if rep.Installed != opts.InstallEntries {
		problems = append(problems, fmt.Errorf("%d of %d entries installed (%d existing, %d full, %d invalid)",
			rep.Installed, opts.InstallEntries, rep.Existing, rep.Full, rep.Invalid))
	}
	return res, errors.Join(problems...)
}

// rebuiltEntries makes n distinct entries for the benchmark's service and
// gives each to the worker WorkerFor names, in the order recovery.Rebuild
// hands them over (protocol, VIP, VIP port, client, client port).
func rebuiltEntries(ctl *control, g *gateway.Gateway, n int) ([][]fastpath.InstallEntry, error) {
	service, servers, err := ctl.servers()
	if err != nil {
		return nil, err
	}
	vip := benchVIP.Addr().As4()
	vipIP := uint32(vip[0])<<24 | uint32(vip[1])<<16 | uint32(vip[2])<<8 | uint32(vip[3])
	perWorker := make([][]fastpath.InstallEntry, g.NumWorkers())
	for w := range perWorker {
		perWorker[w] = make([]fastpath.InstallEntry, 0, n/len(perWorker)+n/8)
	}
	seed := rand.Uint64()
	for i := range n {
		// i → tuple is one-to-one (see mixTuple), so no two entries share
		// a tuple and the table cannot answer Existing.
		v := mixTuple(uint64(i) + seed)
		k := fastpath.NewFlowKey(6, installClientNet|uint32(v>>16), uint16(v), vipIP, benchVIP.Port())
		// Servers by the configured weights 3:2; one connection in eight
		// closing.
		e := fastpath.InstallEntry{Key: k, Service: service, Server: servers[0], State: fastpath.StateActive}
		if i%5 >= 3 {
			e.Server = servers[1]
		}
		if i%8 == 7 {
			e.State = fastpath.StateFIN
		}
		w := g.WorkerFor(e)
		perWorker[w] = append(perWorker[w], e)
	}
	for _, es := range perWorker {
		slices.SortFunc(es, func(a, b fastpath.InstallEntry) int {
			return cmp.Or(cmp.Compare(a.Key.Proto, b.Key.Proto), cmp.Compare(a.Key.DstIP, b.Key.DstIP),
				cmp.Compare(a.Key.DstPort, b.Key.DstPort), cmp.Compare(a.Key.SrcIP, b.Key.SrcIP),
				cmp.Compare(a.Key.SrcPort, b.Key.SrcPort))
		})
	}
	return perWorker, nil
}

// mixTuple scrambles x within installTupleBits bits one-to-one: adding a
// constant, xor-shifting right and multiplying by an odd number are each
// invertible modulo 2^installTupleBits.
func mixTuple(x uint64) uint64 {
	const mask = 1<<installTupleBits - 1
	x &= mask
	x ^= x >> 21
	x = x * 0x9e3779b97f4a7c15 & mask
	x ^= x >> 19
	x = x * 0xbf58476d1ce4e5b9 & mask
	return x ^ x>>23
}

// installChunks sends every worker its entries in chunks through
// Gateway.Install, each worker's chunks one after the other and the
// workers in parallel: recovery.Takeover's install. It fills in each
// worker's results and timings.
func installChunks(ctx context.Context, g *gateway.Gateway, perWorker [][]fastpath.InstallEntry, chunk int, out []benchfmt.InstallWorker) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(perWorker))
	var wg sync.WaitGroup
	for w, entries := range perWorker {
		if len(entries) == 0 {
			continue
		}
		wg.Go(func() {
			r := &out[w]
			var sum, worst time.Duration
			start := time.Now()
			for len(entries) > 0 {
				n := min(chunk, len(entries))
				t := time.Now()
				got, err := g.Install(ctx, w, entries[:n:n])
				rtt := time.Since(t)
				if err != nil {
					errs[w] = fmt.Errorf("install on worker %d: %w", w, err)
					cancel()
					return
				}
				sum, worst = sum+rtt, max(worst, rtt)
				r.Chunks++
				r.Installed += got.Installed
				r.Existing += got.Existing
				r.Full += got.Full
				r.Invalid += got.Invalid
				entries = entries[n:]
			}
			r.Seconds = time.Since(start).Seconds()
			r.ChunkMaxMs = float64(worst) / 1e6
			r.ChunkMeanMs = float64(sum) / float64(r.Chunks) / 1e6
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// window is the packets each worker received over a span of time.
type window struct {
	packets []uint64
	seconds float64
}

// rateOver counts the packets the workers receive while during runs.
func rateOver(iws []*installWorker, during func()) window {
	w := window{packets: make([]uint64, len(iws))}
	for i, iw := range iws {
		w.packets[i] = iw.rx.Load()
	}
	start := time.Now()
	during()
	w.seconds = time.Since(start).Seconds()
	for i, iw := range iws {
		w.packets[i] = iw.rx.Load() - w.packets[i]
	}
	return w
}

func (w window) total() uint64 {
	var n uint64
	for _, p := range w.packets {
		n += p
	}
	return n
}

func (w window) mpps() float64            { return float64(w.total()) / w.seconds / 1e6 }
func (w window) workerMpps(i int) float64 { return float64(w.packets[i]) / w.seconds / 1e6 }
