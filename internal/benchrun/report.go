package benchrun

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Print writes the report for people: the cores, one line per run with
// the vecd run's ratio to the testpmd run of the same case, where the
// threads ran, and any functional problem.
func (r *Report) Print(out io.Writer) {
	l := r.Layout
	fmt.Fprintf(out, "\nvirtio-user ↔ vhost-user benchmark, %s, %s; %s measured per run, best of %d\n", r.Date, r.Host, r.Duration, r.Repeat)
	fmt.Fprintf(out, "load average before %s, after %s (the machine is shared: figures move with it)\n", r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(out, "cores: vec-pktgen worker %d, EAL main lcore %d | testpmd main lcore %d, forwarding lcore %d | vecd control %d, worker %d\n",
		l.GeneratorWorker, l.GeneratorMain, l.ForwarderMain, l.ForwarderWorker, l.ForwarderMain, l.ForwarderWorker)
	fmt.Fprintf(out, "virtio rings of %d entries; 64-byte frames unless the case says otherwise\n", r.QueueSize)
	fmt.Fprintln(out, "ratio: vecd's packet rate over testpmd io-fwd's (the ceiling) with the same traffic, same path, same cores;")
	fmt.Fprintln(out, "  vs mac-fwd: over testpmd mac-fwd's, which, like vecd, writes the frames' MACs (see docs/benchmarking.md)")
	fmt.Fprintln(out, "fwd CPU, gen CPU: the poll threads' shares of their cores while measured (below ~95%, something else ran there);")
	fmt.Fprintln(out, "gen held: time the forwarder held the generator back (window or ring full); near 0, the generator set the pace")
	fmt.Fprintln(out, "sink: testpmd freeing whatever arrives, so its sent Mpps is what the generator offers alone; its ratio column is")
	fmt.Fprintln(out, "  that over what testpmd io-fwd forwarded (above 1, the generator is not what limits the ceiling)")
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tforwarder\tsent Mpps\trecv Mpps\trecv Gbit/s\tnew conn/s\tlost\tmisrouted\tSYN split\tvecd drops\tfwd CPU\tgen CPU\tgen held\tratio\tvs mac-fwd\t")
	for _, c := range r.Cases {
		for _, run := range []*Run{&c.Sink, &c.Testpmd, &c.TestpmdMAC, &c.Vecd} {
			g := run.Gen
			if g == nil {
				continue // a run the report does not have (results from before the sink)
			}
			ratio, ratioMAC, drops, split := "ceiling", "", "-", "-"
			lost, misrouted := fmt.Sprint(g.Total.Lost), fmt.Sprint(g.Total.Misrouted)
			switch run.Forwarder {
			case Sink:
				ratio = fmt.Sprintf("×%.2f io", c.Headroom)
				lost, misrouted = "-", "-" // the sink returns nothing by design
			case Vecd:
				ratio, ratioMAC = fmt.Sprintf("%.1f%%", 100*c.Ratio), fmt.Sprintf("%.1f%%", 100*c.RatioMAC)
				drops = fmt.Sprint(run.Vecd.Drops(""))
				split = g.SplitString()
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%s\t\n", c.Name, run.Forwarder,
				g.SentMpps, g.ReceivedMpps, g.ReceivedGbps, g.NewConnsPerSec, lost, misrouted, split, drops,
				threadCPU(run.Threads, run.Forwarder), threadCPU(run.Threads, "vec-pktgen"), 100*g.HeldFraction, ratio, ratioMAC)
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\nwhere the threads ran in the runs kept (sampled while measuring; threads above 2% CPU):")
	for _, c := range r.Cases {
		for _, run := range []*Run{&c.Sink, &c.Testpmd, &c.TestpmdMAC, &c.Vecd} {
			fmt.Fprintf(out, "  %s, %s (attempts: %s Mpps):\n", c.Name, run.Forwarder, mppsList(run.AttemptsMpps))
			for _, t := range run.Threads {
				fmt.Fprintf(out, "    %s\n", t)
			}
		}
	}
	fmt.Fprintln(out)
	bad := false
	for _, c := range r.Cases {
		for _, p := range c.Problems {
			fmt.Fprintf(out, "PROBLEM %s: %s\n", c.Name, p)
			bad = true
		}
	}
	if !bad {
		fmt.Fprintln(out, "function: every vecd run lost nothing, misrouted nothing, split new connections by the weights and dropped only the unknown flows")
	}
	r.printNetNull(out)
	if p := r.Profile; p != nil {
		fmt.Fprintf(out, "\nprofile of the worker threads, tcp with %d flows (perf report -i %s):\n", p.Flows, p.Data)
		for _, line := range p.Top {
			fmt.Fprintf(out, "  %s\n", line)
		}
	}
}

// WriteJSON writes the report to path, creating its directory.
func (r *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// caseSlug is a case name fit for a file name.
func caseSlug(name string) string { return strings.ReplaceAll(name, " ", "-") }

func mppsList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// threadCPU is the CPU share of the busiest sampled thread of process.
func threadCPU(samples []ThreadSample, process string) string {
	if t, ok := busiestThread(samples, process); ok {
		return fmt.Sprintf("%.0f%%", t.CPU)
	}
	return "?"
}

// printNetNull writes vec-bench's net_null rows, if the report includes
// them: each figure with its ratio to testpmd io-fwd on net_null measured
// in the same vec-bench run.
func (r *Report) printNetNull(out io.Writer) {
	rows := r.NetNullRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(out, "\nnet_null (vec-bench, bench/net_null.json): ratios to testpmd io-fwd on net_null in the same vec-bench run")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tMpps\tvs testpmd\tvs 1 worker\tnew conn/s\t")
	for _, row := range rows {
		vsOne, conns := "-", "-"
		if row.VsOneWorker > 0 {
			vsOne = fmt.Sprintf("%.2f", row.VsOneWorker)
		}
		if row.Result.NewConnsPerSec > 0 {
			conns = fmt.Sprintf("%.2f M", row.Result.NewConnsPerSec/1e6)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t\n", row.Name, row.Result.Mpps, row.VsTestpmd, vsOne, conns)
	}
	tw.Flush()
	for _, row := range rows {
		if row.Note != "" {
			fmt.Fprintf(out, "  %s: %s\n", row.Name, row.Note)
		}
	}
}
