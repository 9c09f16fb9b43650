package benchrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Forwarders: the process on the other end of the virtio-user/vhost-user
// pair from the generator.
const (
	// Testpmd is dpdk-testpmd in io forwarding mode: every packet goes
	// straight back out, nothing is read or written. It is the ceiling of
	// the path.
	Testpmd = "testpmd"
	// TestpmdMAC is dpdk-testpmd in mac forwarding mode: it writes both
	// Ethernet addresses of every frame, as vecd does (with a table
	// lookup first). The packet data then lives in the forwarder's cache,
	// and the generator's copy out of the virtio ring has to fetch it from
	// the other core, which io forwarding never makes it do: this is the
	// ceiling of a forwarder that touches the frames.
	TestpmdMAC = "testpmd-mac"
	// Vecd is the gateway.
	Vecd = "vecd"
	// Sink is dpdk-testpmd in icmpecho mode: it answers the generator's
	// ARP probes and frees every other packet, so nothing comes back and
	// the generator runs open loop (vec-pktgen -no-return). What it sends
	// there is what it offers alone, the most it could load a forwarder
	// with on this path.
	Sink = "sink"
)

// forwarders are the runs of a case, in the order they take turns.
var forwarders = []string{Sink, Testpmd, TestpmdMAC, Vecd}

// Case is one traffic pattern, run against the sink (the generator alone),
// testpmd (the ceiling) and vecd, with the same generator settings.
type Case struct {
	Name  string `json:"name"`
	Mode  string `json:"mode"`
	Flows int    `json:"flows"`
}

// CaseResult is a case's two runs and how they compare.
type CaseResult struct {
	Case
	Sink       Run `json:"sink"`
	Testpmd    Run `json:"testpmd"`
	TestpmdMAC Run `json:"testpmd_mac"`
	Vecd       Run `json:"vecd"`
	// Ratio is vecd's rate over testpmd io-fwd's: packets per second the
	// forwarder took from the generator (every packet, strays included,
	// since dropping a stray is work too). RatioMAC is over testpmd
	// mac-fwd's.
	Ratio    float64 `json:"ratio_to_testpmd"`
	RatioMAC float64 `json:"ratio_to_testpmd_mac"`
	// OfferedMpps is what the generator sent into the sink: its rate
	// alone. Headroom is that over what testpmd io-fwd took: above 1, the
	// generator offers more than the ceiling forwards, so testpmd's and
	// vecd's rates are theirs, not the generator's.
	OfferedMpps float64 `json:"generator_offered_mpps"`
	Headroom    float64 `json:"generator_headroom"`
	// Problems are functional failures of the vecd run: loss, misrouting,
	// a split off the weights, drops other than of strays.
	Problems []string `json:"problems,omitempty"`
}

// run returns the case's run against forwarder.
func (c *CaseResult) run(forwarder string) *Run {
	switch forwarder {
	case Sink:
		return &c.Sink
	case Testpmd:
		return &c.Testpmd
	case TestpmdMAC:
		return &c.TestpmdMAC
	}
	return &c.Vecd
}

// ratio is a's sent rate over b's.
func ratio(a, b *GenResult) float64 {
	if b.SentMpps == 0 {
		return 0
	}
	return a.SentMpps / b.SentMpps
}

// Layout says which cores each process was given.
type Layout struct {
	GeneratorWorker int `json:"generator_worker_core"`
	GeneratorMain   int `json:"generator_main_lcore"`
	ForwarderMain   int `json:"forwarder_main_core"` // testpmd's main lcore, vecd's control core
	ForwarderWorker int `json:"forwarder_worker_core"`
}

// Report is the whole suite's result, written as JSON.
type Report struct {
	Date       string          `json:"date"`
	Host       string          `json:"host"`
	LoadBefore string          `json:"load_before"`
	LoadAfter  string          `json:"load_after"`
	Duration   string          `json:"duration"`
	Repeat     int             `json:"repeat"`
	QueueSize  int             `json:"queue_size"`
	Layout     Layout          `json:"layout"`
	Cases      []CaseResult    `json:"cases"`
	Profile    *Profile        `json:"profile,omitempty"`
	NetNull    json.RawMessage `json:"net_null,omitempty"`
	// Control and Upload are vec-bench -control's and
	// scripts/bench-upload.sh's results as they wrote them, and Summary
	// every figure of the run with its baseline: `vec-pktgen merge` adds
	// them (Merge), naming in NotRun the steps whose results it did not
	// find, and in Warnings results that seem to be from another run.
	Control  json.RawMessage `json:"control,omitempty"`
	Upload   json.RawMessage `json:"upload,omitempty"`
	Summary  []SummaryRow    `json:"summary,omitempty"`
	NotRun   []string        `json:"not_run,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
}

// Options configure a suite run.
type Options struct {
	Pktgen   string // vec-pktgen binary
	Vecd     string // vecd binary
	Testpmd  string // dpdk-testpmd binary
	Duration time.Duration
	// Repeat is how many times each case runs against each forwarder; the
	// best attempt counts.
	Repeat    int
	Cases     []Case
	Layout    Layout
	QueueSize int  // virtio ring size (0: DefaultQueueSize)
	Window    int  // vec-pktgen -window; 0: WindowFor(QueueSize)
	Perf      bool // profile one extra run with perf
	// PerfFlows is the flow count of the profiled run.
	PerfFlows int
	Dir       string // scratch directory: sockets, configs, logs
}

// pair is the suite's Pair for a case and a forwarder.
func (o *Options) pair(c Case, forwarder string) *Pair {
	p := &Pair{Pktgen: o.Pktgen, Forwarder: forwarder, Dir: o.Dir, Case: c, Duration: o.Duration, Layout: o.Layout,
		Binary: o.Testpmd, QueueSize: o.QueueSize}
	if forwarder == Vecd {
		p.Binary = o.Vecd
	}
	if o.Window > 0 {
		p.GenArgs = []string{"-window", strconv.Itoa(o.Window)}
	}
	return p
}

// problems lists what went wrong functionally in a vecd run.
func problems(r *Run) []string {
	var out []string
	g, t := r.Gen, &r.Gen.Total
	if t.Lost != 0 {
		out = append(out, fmt.Sprintf("%d flow packets lost", t.Lost))
	}
	if t.Misrouted != 0 || t.Unmatched != 0 {
		out = append(out, fmt.Sprintf("%d packets misrouted, %d of connections whose SYN never came back", t.Misrouted, t.Unmatched))
	}
	for _, s := range g.Split {
		if s.Weight == 0 && s.Packets > 0 {
			out = append(out, fmt.Sprintf("%d packets went to %s, which is no server", s.Packets, s.MAC))
		}
	}
	if t.UntrackedMACs != 0 {
		out = append(out, fmt.Sprintf("%d packets went to MACs beyond the first 16 seen", t.UntrackedMACs))
	}
	if t.StraysReceived != 0 {
		out = append(out, fmt.Sprintf("%d packets of unknown flows were forwarded", t.StraysReceived))
	}
	if t.SYNsReceived > 1000 && g.MaxSplitError() > 0.01 {
		out = append(out, fmt.Sprintf("new connections split %s, weights ask for %s", g.SplitString(), weightString(g)))
	}
	if r.Vecd != nil {
		strays := r.Vecd.Drops("non_syn_miss")
		if other := r.Vecd.Drops("") - strays; other != 0 {
			out = append(out, fmt.Sprintf("vecd dropped %d packets for reasons other than an unknown flow", other))
		}
		if strays != t.StraysSent {
			out = append(out, fmt.Sprintf("vecd dropped %d packets of unknown flows, %d were sent", strays, t.StraysSent))
		}
		if _, _, txFull, _ := r.Vecd.Totals(); txFull != 0 {
			out = append(out, fmt.Sprintf("vecd's transmit ring refused %d packets", txFull))
		}
	}
	return out
}

func weightString(g *GenResult) string {
	total := 0
	for _, s := range g.Split {
		total += s.Weight
	}
	var parts []string
	for _, s := range g.Split {
		if s.Weight > 0 {
			parts = append(parts, fmt.Sprintf("%.1f", 100*float64(s.Weight)/float64(total)))
		}
	}
	return strings.Join(parts, ":")
}

// Run runs every case against testpmd and then vecd.
func (o *Options) Run(progress func(format string, args ...any)) (*Report, error) {
	rep := &Report{
		Date: time.Now().UTC().Format(time.RFC3339), Host: hostDescription(), LoadBefore: loadAverage(),
		Duration: o.Duration.String(), Repeat: o.Repeat, QueueSize: o.QueueSize, Layout: o.Layout,
	}
	for _, c := range o.Cases {
		res := CaseResult{Case: c}
		// The forwarders take turns, so that a noisy stretch of the
		// shared machine does not hit one of them only; the best attempt
		// of each counts, and every vecd attempt must pass the checks.
		for attempt := range o.Repeat {
			for _, fwd := range forwarders {
				progress("%-12s %-7s ...", c.Name, fwd)
				run, err := o.pair(c, fwd).Run()
				if err != nil {
					return rep, fmt.Errorf("%s against %s: %w", c.Name, fwd, err)
				}
				progress(" sent %.2f Mpps, received %.2f Mpps, generator held back %.0f%% (load %s)\n",
					run.Gen.SentMpps, run.Gen.ReceivedMpps, 100*run.Gen.HeldFraction, loadAverage())
				best := res.run(fwd)
				if fwd == Vecd {
					for _, p := range problems(&run) {
						res.Problems = append(res.Problems, fmt.Sprintf("attempt %d: %s", attempt+1, p))
					}
				}
				attempts := append(best.AttemptsMpps, run.Gen.SentMpps)
				if best.Gen == nil || run.Gen.SentMpps > best.Gen.SentMpps {
					*best = run
				}
				best.AttemptsMpps = attempts
			}
		}
		res.Ratio = ratio(res.Vecd.Gen, res.Testpmd.Gen)
		res.RatioMAC = ratio(res.Vecd.Gen, res.TestpmdMAC.Gen)
		res.OfferedMpps = res.Sink.Gen.SentMpps
		res.Headroom = ratio(res.Sink.Gen, res.Testpmd.Gen)
		progress("%-12s generator alone %.2f Mpps | forwarded: testpmd io %.2f, mac %.2f, vecd %.2f Mpps | generator/testpmd io %.2f\n",
			c.Name, res.OfferedMpps, res.Testpmd.Gen.ReceivedMpps, res.TestpmdMAC.Gen.ReceivedMpps, res.Vecd.Gen.ReceivedMpps, res.Headroom)
		rep.Cases = append(rep.Cases, res)
	}
	if o.Perf {
		progress("profiling vecd and vec-pktgen with perf, %d flows ...\n", o.PerfFlows)
		prof, err := o.profile()
		if err != nil {
			return rep, fmt.Errorf("profile: %w", err)
		}
		rep.Profile = prof
	}
	rep.LoadAfter = loadAverage()
	return rep, nil
}

// Profile is where the worker threads spent their time in a profiled run.
type Profile struct {
	Flows   int            `json:"flows"`
	Threads []ThreadSample `json:"threads"`
	// Top is perf report's heaviest symbols of each worker thread, as
	// shares of that thread's samples.
	Top []string `json:"top"`
	// Data is the perf.data file, for perf report -i.
	Data string `json:"data"`
}

// profileTime is how long perf records.
const profileTime = 3 * time.Second

// profile runs vecd once more with PerfFlows flows and records the
// generator's and vecd's worker threads with perf while it measures.
func (o *Options) profile() (*Profile, error) {
	prof := &Profile{Flows: o.PerfFlows, Data: filepath.Join(o.Dir, "perf.data")}
	var perfErr error
	p := o.pair(Case{Name: "profile", Mode: "tcp", Flows: o.PerfFlows}, Vecd)
	p.Duration = max(o.Duration, profileTime+4*time.Second)
	p.whileMeasuring = func(pids map[string]int) {
		prof.Threads = sampleThreads(pids, 500*time.Millisecond)
		var tids []string
		for _, name := range []string{"vec-pktgen", Vecd} {
			if t, ok := busiestThread(prof.Threads, name); ok {
				tids = append(tids, strconv.Itoa(t.TID))
			}
		}
		if len(tids) == 0 {
			perfErr = errors.New("no busy worker thread to profile")
			return
		}
		out, err := exec.Command("perf", "record", "-g", "-q", "-o", prof.Data, "-t", strings.Join(tids, ","),
			"--", "sleep", strconv.FormatFloat(profileTime.Seconds(), 'f', -1, 64)).CombinedOutput()
		if err != nil {
			perfErr = fmt.Errorf("perf record: %v\n%s", err, out)
		}
	}
	_, err := p.Run()
	if err != nil {
		return nil, err
	}
	if perfErr != nil {
		return nil, perfErr
	}
	for _, comm := range []string{Vecd, "vec-pktgen"} {
		out, err := exec.Command("perf", "report", "-i", prof.Data, "--stdio", "--no-children", "-g", "none",
			"--comm", comm, "--percentage", "relative", "--sort", "dso,symbol", "--percent-limit", "1.5").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("perf report: %v\n%s", err, out)
		}
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			// "12.34%  dso  [.] symbol"
			if len(f) >= 4 && strings.HasSuffix(f[0], "%") && !strings.HasPrefix(f[0], "#") {
				prof.Top = append(prof.Top, fmt.Sprintf("%-10s %7s  %-26s %s", comm, f[0], f[1], f[3]))
			}
		}
	}
	return prof, nil
}

// hostDescription names the CPU and the core count.
func hostDescription() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs", model, runtime.NumCPU())
}
