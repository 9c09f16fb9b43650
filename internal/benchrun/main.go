package benchrun

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Main is `vec-pktgen suite`: it runs the whole benchmark and returns the
// exit status.
func Main(args []string) int {
	fs := flag.NewFlagSet("vec-pktgen suite", flag.ContinueOnError)
	vecd := fs.String("vecd", "bin/vecd", "vecd binary")
	testpmd := fs.String("testpmd", "dpdk-testpmd", "dpdk-testpmd binary")
	duration := fs.Duration("duration", 4*time.Second, "measured time of each run")
	repeat := fs.Int("repeat", 2, "runs of each case against each forwarder, taking turns; the best counts")
	flowList := fs.String("flows", "1000,100000,1000000", "flow counts of the tcp cases")
	caseFlows := fs.Int("case-flows", 100000, "flows of the syn, mixed and stray cases")
	only := fs.String("cases", "tcp,syn,mixed,stray", "which kinds of case to run")
	out := fs.String("out", "bench/results.json", "where to write the report as JSON")
	chart := fs.String("chart", "bench/results.svg", "where to draw the chart (SVG)")
	include := fs.String("include", "", "a JSON file (vec-bench's net_null results) to include in -out as net_null")
	genCore := fs.Int("gen-core", 0, "core of vec-pktgen's worker thread")
	genMain := fs.Int("gen-main-lcore", 0, "vec-pktgen's EAL main lcore")
	fwdMain := fs.Int("control-core", 0, "testpmd's main lcore and vecd's control core")
	fwdWorker := fs.Int("worker-core", 1, "testpmd's forwarding lcore and vecd's worker core")
	queueSize := fs.Int("queue-size", DefaultQueueSize, "virtio ring size of the port pair (virtio-user queue_size)")
	window := fs.Int("window", 0, "vec-pktgen -window (0: half the ring)")
	perf := fs.Bool("perf", false, "afterwards, profile vecd's and vec-pktgen's worker threads with perf during one more run at the largest flow count")
	keep := fs.Bool("keep", false, "keep the scratch directory (logs, configs, counters)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite:", err)
		return 1
	}
	if *repeat < 1 || *queueSize < 64 {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite: -repeat must be at least 1, -queue-size at least 64")
		return 2
	}
	opts := Options{Pktgen: self, Vecd: *vecd, Testpmd: *testpmd, Duration: *duration, Repeat: *repeat, QueueSize: *queueSize, Window: *window, Perf: *perf,
		Layout: Layout{GeneratorWorker: *genCore, GeneratorMain: *genMain, ForwarderMain: *fwdMain, ForwarderWorker: *fwdWorker}}
	kinds := map[string]bool{}
	for _, k := range strings.Split(*only, ",") {
		kinds[strings.TrimSpace(k)] = true
	}
	if kinds["tcp"] {
		for _, f := range strings.Split(*flowList, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "vec-pktgen suite: -flows: %q is not a positive number\n", f)
				return 2
			}
			opts.Cases = append(opts.Cases, Case{Name: "tcp " + flowsLabel(float64(n)), Mode: "tcp", Flows: n})
			opts.PerfFlows = max(opts.PerfFlows, n)
		}
	}
	for _, mode := range []string{"syn", "mixed", "stray"} {
		if kinds[mode] {
			opts.Cases = append(opts.Cases, Case{Name: mode + " " + flowsLabel(float64(*caseFlows)), Mode: mode, Flows: *caseFlows})
		}
	}
	if len(opts.Cases) == 0 {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite: no cases selected")
		return 2
	}
	opts.PerfFlows = max(opts.PerfFlows, *caseFlows)
	if opts.Dir, err = os.MkdirTemp("", "vec-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite:", err)
		return 1
	}
	progress := func(format string, args ...any) { fmt.Printf(format, args...) }
	fmt.Printf("vec-pktgen suite: %d cases × (sink, testpmd io, testpmd mac, vecd) × %d, %s each; logs in %s\n", len(opts.Cases), opts.Repeat, opts.Duration, opts.Dir)
	rep, err := opts.Run(progress)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite:", err)
		fmt.Fprintln(os.Stderr, "vec-pktgen suite: logs kept in", opts.Dir)
		return 1
	}
	if *include != "" {
		switch b, err := os.ReadFile(*include); {
		case err != nil:
			fmt.Fprintln(os.Stderr, "vec-pktgen suite: not including it:", err)
		case !json.Valid(b):
			fmt.Fprintf(os.Stderr, "vec-pktgen suite: not including %s: not JSON\n", *include)
		default:
			rep.NetNull = b
		}
	}
	rep.Print(os.Stdout)
	if err := rep.WriteJSON(*out); err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite:", err)
		return 1
	}
	fmt.Println("\nresults written to", *out)
	if err := rep.WriteChart(*chart); err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen suite: chart:", err)
	} else {
		fmt.Println("chart written to", *chart)
	}
	if *keep || rep.Profile != nil {
		fmt.Println("scratch directory kept:", opts.Dir)
	} else {
		os.RemoveAll(opts.Dir)
	}
	return 0
}
