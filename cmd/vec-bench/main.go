// Command vec-bench measures the gateway's worker loop on DPDK net_null
// ports against baselines measured in the same run on the same device:
// dpdk-testpmd io forwarding (the ceiling), a plain Go rx → tx loop, and the
// same loop writing a fresh flow tuple into every packet (the work the
// worker benchmark does in place of a NIC). After vecd's worker loop over
// each count of -flows, it measures the loop on one core and on two (one
// net_null queue each, -scale-flows flows per worker; the second worker
// shares -control-core with the control plane) and reports their ratio,
// and one loop fed only SYNs of new flows into a table of -syn-table
// entries (new connections per second). It prints every figure with its
// ratio to testpmd and writes the results as JSON. The measurements
// themselves are internal/netnullbench's.
//
//	vec-bench [-duration 5s] [-flows 1000,100000,1000000] [-scale-flows 100000] [-syn-table 1000000] [-out bench/results.json]
//	vec-bench -control [-duration 4s] [-flows 100000] [-api-rate 1000] [-rounds 2]
//
// -control measures what the control plane costs the worker instead: the
// worker loop alone, next to a goroutine that only spins on the control
// core (what a busy neighbouring core costs by itself), and while the
// process serves a steady load of control API and /metrics requests (and
// applies a weight change every 50 requests), alternated for -rounds
// rounds; it reports the ratios of the packet rates with the allocation
// rate and GC cycles of each run, and the worker loop's iteration times
// (p50, p99, p99.9, p99.99 and the longest, with the times the kernel
// preempted the worker and the GC pauses; benchfmt.PollIterationReport).
//
// -install measures step (3) of a takeover (docs/recovery.md): installing
// -entries rebuilt connection entries through the workers' mailboxes in
// chunks of -install-chunk, as recovery.Takeover does, into workers that
// have no traffic (idle-adaptive polling, vecd's default, and busy
// polling) and into workers forwarding -flows flows each, whose packet
// rate during the install it compares with the rate just before. It runs
// every worker core set of -worker-sets (by default one worker on
// -worker-core, then two on -control-core and -worker-core) for -rounds
// rounds and writes bench/install.json; docs/benchmarking.md ("Installing
// rebuilt connections") explains the figures.
//
//	vec-bench -install [-entries 1000000] [-install-chunk 4096] [-flows 100000] [-duration 2s] [-rounds 2] [-worker-sets "1;0,1"]
//
// Each measurement runs in a child process of its own (vec-bench -run MODE),
// since a process initialises DPDK's EAL only once.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"vec/gateway"
	"vec/internal/benchfmt"
	"vec/internal/netnullbench"
	"vec/recovery"
)

func main() {
	run := flag.String("run", "", "run one measurement in this process: a benchfmt.Mode such as plain, worker or install-fwd (internal)")
	control := flag.Bool("control", false, "measure the worker with and without control API load (see the package comment)")
	install := flag.Bool("install", false, "measure installing rebuilt connection entries, and forwarding meanwhile (see the package comment)")
	apiRate := flag.Int("api-rate", 1000, "-control: control requests per second (0: as fast as one goroutine goes)")
	rounds := flag.Int("rounds", 2, "-control, -install: rounds of the measurements, alternated")
	defaultGC := flag.Bool("default-gc", false, "-control: keep Go's default garbage collector pacing instead of vecd's (gateway.TuneGC)")
	entries := flag.Int("entries", 1000000, "-install: rebuilt connection entries to install")
	chunk := flag.Int("install-chunk", recovery.DefaultInstallChunk, "-install: entries per mailbox request")
	workerSets := flag.String("worker-sets", "", "-install: worker core sets to measure, ';' between sets "+
		"(default: -worker-core alone, then -control-core and -worker-core)")
	gomaxprocs := flag.Int("gomaxprocs", 0, "-install: start the measurements with this GOMAXPROCS (0: Go's default); like vecd, the gateway raises it to the worker and control cores' count")
	workerCoreList := flag.String("worker-cores", "", "the measured loops' cores, for -run workers and install-* (internal)")
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs (-install: each forwarding window, default 2s)")
	flowList := flag.String("flows", "1000,100000,1000000", "live-flow counts for the worker measurements (-install: per worker, default 100000)")
	scaleFlows := flag.Int("scale-flows", 100000, "live flows per worker of the one- and two-worker measurements")
	synTable := flag.Int("syn-table", 1000000, "connection table capacity of the SYN-only (new connections) measurement")
	out := flag.String("out", "bench/results.json", "where to write the results as JSON (-install: default bench/install.json)")
	controlCore := flag.Int("control-core", 0, "core of the EAL main thread and of testpmd's main lcore")
	workerCore := flag.Int("worker-core", 1, "core of the measured loop (and of testpmd's forwarding lcore)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *install {
		if !set["duration"] {
			*duration = 2 * time.Second
		}
		if !set["flows"] {
			*flowList = "100000"
		}
		if !set["out"] {
			*out = "bench/install.json"
		}
	}
	if *run != "" {
		if !*defaultGC {
			gateway.TuneGC()
		}
		flows, err := parseFlows(*flowList)
		if err != nil || len(flows) != 1 {
			fmt.Fprintln(os.Stderr, "vec-bench -run needs exactly one -flows value")
			os.Exit(2)
		}
		opts := netnullbench.Options{Mode: benchfmt.Mode(*run), Flows: flows[0], Duration: *duration,
			ControlCore: *controlCore, WorkerCore: *workerCore, APIRate: *apiRate, InstallEntries: *entries, InstallChunk: *chunk}
		if *workerCoreList != "" {
			if opts.WorkerCores, err = parseCores(*workerCoreList); err != nil {
				fmt.Fprintln(os.Stderr, "vec-bench: -worker-cores:", err)
				os.Exit(2)
			}
		}
		os.Exit(runOne(opts))
	}
	flows, err := parseFlows(*flowList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		os.Exit(2)
	}
	if *install {
		if *workerSets == "" {
			*workerSets = fmt.Sprintf("%d;%d,%d", *workerCore, *controlCore, *workerCore)
		}
		sets, err := parseSets(*workerSets)
		if err != nil || len(flows) != 1 || *rounds < 1 || *entries < 1 || *chunk < 1 || *gomaxprocs < 0 {
			fmt.Fprintln(os.Stderr, "vec-bench: -install takes one -flows value, -rounds ≥ 1, -entries ≥ 1, -install-chunk ≥ 1, -gomaxprocs ≥ 0 and -worker-sets like 1;0,1")
			os.Exit(2)
		}
		o := installOptions{duration: *duration, flows: flows[0], entries: *entries, chunk: *chunk, rounds: *rounds,
			sets: sets, controlCore: *controlCore, gomaxprocs: *gomaxprocs, out: *out}
		if err := orchestrateInstall(o); err != nil {
			fmt.Fprintln(os.Stderr, "vec-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *control {
		if len(flows) != 1 || *rounds < 1 || *apiRate < 0 {
			fmt.Fprintln(os.Stderr, "vec-bench: -control takes one -flows value, -rounds ≥ 1 and -api-rate ≥ 0")
			os.Exit(2)
		}
		if err := orchestrateControl(*duration, flows[0], *apiRate, *rounds, *defaultGC, *out, *controlCore, *workerCore); err != nil {
			fmt.Fprintln(os.Stderr, "vec-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *scaleFlows < 1 || *synTable < 1 {
		fmt.Fprintln(os.Stderr, "vec-bench: -scale-flows and -syn-table must be ≥ 1")
		os.Exit(2)
	}
	o := runOptions{duration: *duration, flows: flows, scaleFlows: *scaleFlows, synTable: *synTable, out: *out,
		controlCore: *controlCore, workerCore: *workerCore}
	if err := orchestrate(o); err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		os.Exit(1)
	}
}

func parseFlows(s string) ([]int, error) {
	flows, err := parseNumbers(s, 1, "positive number")
	if err != nil {
		return nil, fmt.Errorf("-flows: %w", err)
	}
	return flows, nil
}

// parseNumbers reads a comma-separated list of whole numbers no smaller
// than least; what names such a number in the error.
func parseNumbers(s string, least int, what string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < least {
			return nil, fmt.Errorf("%q is not a %s", f, what)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// runOne is the child: one measurement, its result as JSON on stdout.
func runOne(opts netnullbench.Options) int {
	res, err := netnullbench.RunBenchmark(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// runOptions are the default run's.
type runOptions struct {
	duration    time.Duration
	flows       []int
	scaleFlows  int // flows per worker of the scaling rows
	synTable    int // table capacity of the new-connections row
	out         string
	controlCore int
	workerCore  int
}

func orchestrate(o runOptions) error {
	duration, controlCore, workerCore := o.duration, o.controlCore, o.workerCore
	fmt.Printf("device: net_null (64-byte frames), one RX/TX queue; measured loop on core %d, EAL main thread on core %d\n",
		workerCore, controlCore)
	rep := benchfmt.NetNullReport{Date: time.Now().UTC().Format(time.RFC3339), Device: "net_null,size=64", ControlCore: controlCore, WorkerCore: workerCore}
	testpmd, err := runTestpmd(duration, controlCore, []int{workerCore})
	if err != nil {
		return fmt.Errorf("testpmd baseline: %w", err)
	}
	rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: "testpmd io-fwd", Result: testpmd})
	plain, err := child(netnullbench.Plain, duration, 1, controlCore, workerCore, 0)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: "Go rx→tx loop", Result: plain})
	maxFlows := o.flows[len(o.flows)-1]
	rewrite, err := child(netnullbench.Rewrite, duration, maxFlows, controlCore, workerCore, 0)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: "Go rx→rewrite→tx loop", Result: rewrite})
	for _, n := range o.flows {
		res, err := child(netnullbench.Worker, duration, n, controlCore, workerCore, 0)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: fmt.Sprintf("vecd worker, %d flows", n), Result: res})
	}
	// Encapsulation beside MAC rewrite: the fewest flows (the fastpath's
	// own work) and, for GUE, the most (memory latency on top).
	for _, e := range []struct {
		mode  benchfmt.Mode
		name  string
		flows int
	}{{netnullbench.WorkerIPIP, "IPIP", o.flows[0]}, {netnullbench.WorkerGUE, "GUE", o.flows[0]}, {netnullbench.WorkerGUE, "GUE", maxFlows}} {
		res, err := child(e.mode, duration, e.flows, controlCore, workerCore, 0)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: fmt.Sprintf("vecd worker, %d flows, %s", e.flows, e.name), Result: res})
	}
	if controlCore == workerCore {
		fmt.Println("one core given (-control-core = -worker-core): no two-worker measurement")
	} else {
		scaling, err := scalingRows(duration, o.scaleFlows, controlCore, workerCore, testpmd)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, scaling...)
	}
	syn, err := child(netnullbench.NewConns, duration, o.synTable, controlCore, workerCore, 0)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, benchfmt.NetNullRow{Name: "new connections, one worker, SYN-only", Result: syn,
		Note: fmt.Sprintf("each SYN a new flow, into a full table (-syn-table %d: %d entries): %d embryonic entries evicted and %d expired while measured",
			syn.Flows, syn.Entries, syn.Evicted, syn.Expired)})
	for i := range rep.Rows {
		rep.Rows[i].VsTestpmd = rep.Rows[i].Result.Mpps / testpmd.Mpps
		rep.Rows[i].VsPlain = rep.Rows[i].Result.Mpps / plain.Mpps
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tMpps\tvs testpmd\tvs Go loop\tvs 1 worker\tnew conn/s\tdropped\tentries")
	for _, r := range rep.Rows {
		vsOne, conns := "-", "-"
		if r.VsOneWorker > 0 {
			vsOne = fmt.Sprintf("%.2f", r.VsOneWorker)
		}
		if r.Result.NewConnsPerSec > 0 {
			conns = fmt.Sprintf("%.2f M", r.Result.NewConnsPerSec/1e6)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%d\t%d\n", r.Name, r.Result.Mpps, r.VsTestpmd, r.VsPlain, vsOne, conns,
			r.Result.Dropped, r.Result.Entries)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Printf("%s: %s\n", r.Name, r.Note)
		}
	}
	return writeResults(o.out, rep)
}

// scalingRows measures vecd's loop on one worker (workerCore), then on
// two (controlCore and workerCore, one net_null queue each), with flows
// flows per worker, and gives the second its ratio to the first; then
// testpmd on the same two cores, with its ratio to testpmd, the
// one-core run.
func scalingRows(duration time.Duration, flows, controlCore, workerCore int, testpmd benchfmt.Result) ([]benchfmt.NetNullRow, error) {
	var rows []benchfmt.NetNullRow
	for _, cores := range [][]int{{workerCore}, {controlCore, workerCore}} {
		mode := netnullbench.Workers
		res, err := runChild(mode, duration, nil, "-run", string(mode), "-duration", duration.String(), "-flows", strconv.Itoa(flows),
			"-control-core", strconv.Itoa(controlCore), "-worker-cores", joinCores(cores))
		if err != nil {
			return nil, err
		}
		r := benchfmt.NetNullRow{Name: fmt.Sprintf("vecd workers ×%d, %d flows each", len(cores), flows), Result: res}
		if len(cores) == 2 {
			r.VsOneWorker = res.Mpps / rows[0].Result.Mpps
			r.Note = fmt.Sprintf("loops on cores %s (queue 0, queue 1: %s Mpps); the EAL main thread, the control plane and the Go runtime share core %d with the first",
				joinCores(cores), joinFloats(res.WorkerMpps), controlCore)
		}
		rows = append(rows, r)
	}
	// The machine's own scaling: testpmd on the same two cores, its main
	// lcore sharing the first with a forwarding lcore as vecd's control
	// plane shares it with the first loop.
	cores := []int{controlCore, workerCore}
	two, err := runTestpmd(duration, controlCore, cores)
	if err != nil {
		return nil, fmt.Errorf("testpmd on two cores: %w", err)
	}
	rows = append(rows, benchfmt.NetNullRow{Name: "testpmd io-fwd ×2", Result: two, VsOneWorker: two.Mpps / testpmd.Mpps,
		Note: fmt.Sprintf("forwarding lcores on cores %s, one queue each; ratio to testpmd on one core", joinCores(cores))})
	return rows, nil
}

// joinFloats writes v with two decimals, separated by commas.
func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = f2(x)
	}
	return strings.Join(s, ", ")
}

// writeResults writes rep to out as indented JSON, creating its directory,
// and says where.
func writeResults(out string, rep any) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("results written to", out)
	return nil
}

// child runs one measurement in a fresh process.
func child(mode benchfmt.Mode, duration time.Duration, flows, controlCore, workerCore, apiRate int) (benchfmt.Result, error) {
	return childGC(mode, duration, flows, controlCore, workerCore, apiRate, false)
}

// childGC is child, optionally with Go's default GC pacing.
func childGC(mode benchfmt.Mode, duration time.Duration, flows, controlCore, workerCore, apiRate int, defaultGC bool) (benchfmt.Result, error) {
	return runChild(mode, duration, nil, "-run", string(mode), "-duration", duration.String(), "-flows", strconv.Itoa(flows),
		"-control-core", strconv.Itoa(controlCore), "-worker-core", strconv.Itoa(workerCore), "-api-rate", strconv.Itoa(apiRate),
		"-default-gc="+strconv.FormatBool(defaultGC))
}

// childTimeout bounds one measurement's process: the measured time, a
// warm-up of at most a minute and set-up.
func childTimeout(duration time.Duration) time.Duration { return 3*duration + 2*time.Minute }

// runChild runs this program with args, and env added to the environment,
// and decodes the result it prints; it kills the child if it outlives
// childTimeout.
func runChild(mode benchfmt.Mode, duration time.Duration, env []string, args ...string) (benchfmt.Result, error) {
	var res benchfmt.Result
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout(duration))
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s measurement: killed after %v: %v\n%s", mode, childTimeout(duration), err, stderr.String())
		}
		return res, fmt.Errorf("%s measurement: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("%s measurement printed %q: %w", mode, stdout.String(), err)
	}
	return res, nil
}

// runTestpmd runs dpdk-testpmd io forwarding on the same kind of port
// (one net_null port looped onto itself), one forwarding lcore and queue
// on each of cores, its main lcore on controlCore, and averages its
// per-second receive rate, skipping the first report.
func runTestpmd(duration time.Duration, controlCore int, cores []int) (benchfmt.Result, error) {
	res := benchfmt.Result{Mode: "testpmd"}
	if len(cores) > 1 {
		res.WorkerCores = cores
	}
	lcores := []string{fmt.Sprintf("0@%d", controlCore)}
	for i, c := range cores {
		lcores = append(lcores, fmt.Sprintf("%d@%d", i+1, c))
	}
	n := strconv.Itoa(len(cores))
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpdk-testpmd", "--lcores", strings.Join(lcores, ","),
		"--in-memory", "--no-pci", "--vdev=net_null0,size=64", "--",
		"--forward-mode=io", "--port-topology=loop", "--nb-cores="+n, "--rxq="+n, "--txq="+n, "--stats-period=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting dpdk-testpmd (apt-get install dpdk): %w", err)
	}
	var rates []float64
	scan := bufio.NewScanner(stdout)
	var transcript strings.Builder
	// One report per second; the first covers start-up and is dropped.
	want := max(2, int(duration/time.Second)) + 1
	for len(rates) < want && scan.Scan() {
		line := scan.Text()
		transcript.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Rx-pps:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > 0 {
					rates = append(rates, v)
				}
			}
		}
	}
	cmd.Process.Signal(os.Interrupt)
	go func() { // drain whatever it prints while it shuts down
		for scan.Scan() {
		}
	}()
	if err := cmd.Wait(); err != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return res, err
		}
	}
	if len(rates) < 2 {
		return res, fmt.Errorf("testpmd reported no forwarding rate:\n%s", transcript.String())
	}
	rates = rates[1:]
	var sum float64
	for _, r := range rates {
		sum += r
	}
	res.Mpps = sum / float64(len(rates)) / 1e6
	res.Seconds = float64(len(rates))
	res.Packets = uint64(sum)
	return res, nil
}

// orchestrateControl alternates the worker alone and the worker under
// control API load, rounds times each, and reports the ratio of the mean
// packet rates.
func orchestrateControl(duration time.Duration, flows, apiRate, rounds int, defaultGC bool, out string, controlCore, workerCore int) error {
	gc := "vecd's (GOGC off, limit 128 MiB)"
	if defaultGC {
		gc = "Go's default (GOGC=100)"
	}
	fmt.Printf("worker loop on core %d, control plane (API and /metrics load) on core %d, %d flows, %v per run, GC pacing %s\n",
		workerCore, controlCore, flows, duration, gc)
	rep := benchfmt.ControlReport{Date: time.Now().UTC().Format(time.RFC3339), Flows: flows, APIRate: apiRate,
		ControlCore: controlCore, WorkerCore: workerCore, DefaultGC: defaultGC}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tMpps\tAPI req/s\talloc MB/s\tGC cycles\tdropped\titer p50 µs\tp99\tp99.9\tp99.99\tmax\tpreempted\tGC pauses")
	mean := func(rs []benchfmt.Result) float64 {
		var sum float64
		for _, r := range rs {
			sum += r.Mpps
		}
		return sum / float64(len(rs))
	}
	for i := range rounds {
		for _, mode := range []benchfmt.Mode{netnullbench.Worker, netnullbench.WorkerBusy, netnullbench.WorkerAPI, netnullbench.WorkerManager} {
			res, err := childGC(mode, duration, flows, controlCore, workerCore, apiRate, defaultGC)
			if err != nil {
				return err
			}
			switch mode {
			case netnullbench.Worker:
				rep.Alone = append(rep.Alone, res)
			case netnullbench.WorkerBusy:
				rep.Busy = append(rep.Busy, res)
			case netnullbench.WorkerManager:
				rep.Managed = append(rep.Managed, res)
			default:
				rep.Loaded = append(rep.Loaded, res)
			}
			fmt.Fprintf(tw, "%s #%d\t%.2f\t%.0f\t%.1f\t%d\t%d", mode, i+1, res.Mpps, res.APIPerSec, res.AllocMBps, res.GCCycles, res.Dropped)
			if p := res.PollIteration; p != nil {
				fmt.Fprintf(tw, "\t%.2f\t%.2f\t%.1f\t%.0f\t%.0f\t%d\t%d (≤%.0f µs)", p.P50Micros, p.P99Micros, p.P999Micros, p.P9999Micros, p.MaxMicros, p.Preempted, p.GCPauses, p.GCPauseMaxMicros)
			}
			fmt.Fprintln(tw)
		}
	}
	rep.AloneMpps, rep.BusyMpps, rep.LoadedMpps = mean(rep.Alone), mean(rep.Busy), mean(rep.Loaded)
	rep.ManagedMpps = mean(rep.Managed)
	rep.Ratio, rep.RatioToBusy, rep.ManagerRatio = rep.LoadedMpps/rep.AloneMpps, rep.LoadedMpps/rep.BusyMpps, rep.ManagedMpps/rep.AloneMpps
	fmt.Fprintf(tw, "mean alone\t%.2f\t\t\t\t\nmean next to a busy core\t%.2f\t\t\t\t\nmean under API load\t%.2f\t\t\t\t\n",
		rep.AloneMpps, rep.BusyMpps, rep.LoadedMpps)
	fmt.Fprintf(tw, "mean with the manager every 100 ms\t%.2f\t\t\t\t\n", rep.ManagedMpps)
	fmt.Fprintf(tw, "ratio API load / alone\t%.3f\t\t\t\t\nratio API load / busy core\t%.3f\t\t\t\t\n", rep.Ratio, rep.RatioToBusy)
	fmt.Fprintf(tw, "ratio manager / alone\t%.3f\t\t\t\t\n", rep.ManagerRatio)
	tw.Flush()
	return writeResults(out, rep)
}
