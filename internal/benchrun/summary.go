package benchrun

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"vec/internal/benchfmt"
)

// Goals the summary checks (issue 12).
const (
	// goalVirtioRatio: vecd's rate over testpmd io-fwd's on the
	// virtio-user path.
	goalVirtioRatio = 0.9
	// goalP999Micros: the worker's poll-iteration p99.9 under control API
	// load and garbage collection.
	goalP999Micros = 100.0
	// goalUploadRatio: vecd's upload rate over the HAProxy relay's.
	goalUploadRatio = 1.0
	// goalWorker1kMpps, goalWorker1MMpps: vecd's worker on net_null with
	// 1k and 1M live flows (other flow counts have no goal).
	goalWorker1kMpps, goalWorker1MMpps = 40.0, 25.0
	// goalNewConnsPerSec: one worker, SYN-only.
	goalNewConnsPerSec = 10e6
	// goalScaling: two workers' packet rate over one worker's.
	goalScaling = 1.9
)

// workerGoal is the goal of the net_null worker row of flows live flows,
// or nothing for a flow count the issue sets none for.
func workerGoal(flows int, mpps float64) (string, *bool) {
	switch flows {
	case 1000:
		return goal(fmt.Sprintf("≥ %.0f Mpps", goalWorker1kMpps), mpps >= goalWorker1kMpps)
	case 1000000:
		return goal(fmt.Sprintf("≥ %.0f Mpps", goalWorker1MMpps), mpps >= goalWorker1MMpps)
	}
	return "", nil
}

// SummaryRow is one figure of `make bench` with its baseline measured in
// the same run (the same file), and their ratio.
type SummaryRow struct {
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	// Baseline names what the figure is compared with; BaselineValue is
	// in BaselineUnit.
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baseline_value"`
	BaselineUnit  string  `json:"baseline_unit"`
	// Ratio is Value over BaselineValue (for new connections, the SYNs
	// received per second over testpmd's packet rate).
	Ratio float64 `json:"ratio"`
	// Goal, when the figure has one, and whether this run met it.
	Goal    string `json:"goal,omitempty"`
	GoalMet *bool  `json:"goal_met,omitempty"`
	Note    string `json:"note,omitempty"`
	// Source is the section of the report the figure and its baseline
	// come from: net_null, cases, control or upload.
	Source string `json:"source"`
}

func goal(text string, met bool) (string, *bool) { return text, &met }

func quotient(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// summarize lists every figure of issue 12 the report holds: vecd's worker
// on net_null at each flow count, new connections per second, two workers
// against one, vecd on the virtio-user path at each tcp flow count, the
// worker's poll-iteration p99.9 under API load, and the iperf3 upload.
func (r *Report) summarize() []SummaryRow {
	var rows []SummaryRow
	nn := r.NetNullRows()
	var testpmd, testpmdScaled, oneWorker *benchfmt.NetNullRow
	for i := range nn {
		switch m := nn[i].Result; {
		case m.Mode == "testpmd" && len(m.WorkerCores) <= 1:
			testpmd = &nn[i]
		case m.Mode == "testpmd":
			testpmdScaled = &nn[i]
		case m.Mode == "workers" && len(m.WorkerCores) == 1:
			oneWorker = &nn[i]
		}
	}
	for _, row := range nn {
		m := row.Result
		switch {
		case testpmd != nil && m.Mode == "worker":
			text, met := workerGoal(m.Flows, m.Mpps)
			rows = append(rows, SummaryRow{Figure: fmt.Sprintf("net_null: vecd worker, %s flows", flowsLabel(float64(m.Flows))),
				Value: m.Mpps, Unit: "Mpps", Baseline: "testpmd io-fwd on net_null", BaselineValue: testpmd.Result.Mpps, BaselineUnit: "Mpps",
				Ratio: quotient(m.Mpps, testpmd.Result.Mpps), Goal: text, GoalMet: met, Source: "net_null"})
		case testpmd != nil && m.Mode == "syn":
			text, met := goal(fmt.Sprintf("≥ %.0f M/s", goalNewConnsPerSec/1e6), m.NewConnsPerSec >= goalNewConnsPerSec)
			rows = append(rows, SummaryRow{Figure: "net_null: new connections/s, SYN-only, one worker",
				Value: m.NewConnsPerSec, Unit: "conn/s", Baseline: "testpmd io-fwd on net_null", BaselineValue: testpmd.Result.Mpps, BaselineUnit: "Mpps",
				Ratio: quotient(m.Mpps, testpmd.Result.Mpps), Goal: text, GoalMet: met,
				Note: fmt.Sprintf("%d entries in the table at the end", m.Entries), Source: "net_null"})
		case oneWorker != nil && m.Mode == "workers" && len(m.WorkerCores) > 1:
			note := "cores " + joinInts(m.WorkerCores)
			if testpmdScaled != nil && testpmd != nil {
				note += fmt.Sprintf("; testpmd io-fwd on them: %.2f Mpps, %.3f × one core", testpmdScaled.Result.Mpps,
					quotient(testpmdScaled.Result.Mpps, testpmd.Result.Mpps))
			}
			ratio := quotient(m.Mpps, oneWorker.Result.Mpps)
			text, met := goal(fmt.Sprintf("≥ %.1f × one", goalScaling), ratio >= goalScaling)
			rows = append(rows, SummaryRow{Figure: fmt.Sprintf("net_null: %d workers, %s flows each", len(m.WorkerCores), flowsLabel(float64(m.Flows))),
				Value: m.Mpps, Unit: "Mpps", Baseline: "one worker", BaselineValue: oneWorker.Result.Mpps, BaselineUnit: "Mpps",
				Ratio: ratio, Goal: text, GoalMet: met, Note: note, Source: "net_null"})
		}
	}
	for _, c := range r.Cases {
		if c.Mode != "tcp" || c.Vecd.Gen == nil || c.Testpmd.Gen == nil {
			continue
		}
		text, met := goal(fmt.Sprintf("≥ %.0f%%", 100*goalVirtioRatio), c.Ratio >= goalVirtioRatio)
		rows = append(rows, SummaryRow{Figure: fmt.Sprintf("virtio-user: vecd, tcp %s flows", flowsLabel(float64(c.Flows))),
			Value: c.Vecd.Gen.SentMpps, Unit: "Mpps", Baseline: "testpmd io-fwd", BaselineValue: c.Testpmd.Gen.SentMpps, BaselineUnit: "Mpps",
			Ratio: c.Ratio, Goal: text, GoalMet: met,
			Note: fmt.Sprintf("generator offered %.2f Mpps (%.2f × io-fwd)", c.OfferedMpps, c.Headroom), Source: "cases"})
	}
	if c := r.ControlResults(); c != nil {
		kinds := c.Kinds()
		alone, loaded := kinds[0].Worst(), kinds[2].Worst()
		p := loaded.PollIteration
		text, met := goal(fmt.Sprintf("< %.0f µs", goalP999Micros), p.P999Micros < goalP999Micros)
		rows = append(rows, SummaryRow{Figure: "poll-iteration p99.9, API load and GC",
			Value: p.P999Micros, Unit: "µs", Baseline: "worker alone", BaselineValue: alone.PollIteration.P999Micros, BaselineUnit: "µs",
			Ratio: quotient(p.P999Micros, alone.PollIteration.P999Micros), Goal: text, GoalMet: met,
			Note: fmt.Sprintf("%.0f API req/s, %d GC cycles, %d GC pauses (≤ %.0f µs); p99.99 %.1f µs, max %.0f µs",
				loaded.APIPerSec, loaded.GCCycles, p.GCPauses, p.GCPauseMaxMicros, p.P9999Micros, p.MaxMicros), Source: "control"})
	}
	if u := r.UploadResults(); u != nil {
		for _, res := range u.Results {
			ratio := quotient(res.Vecd, res.Relay)
			text, met := goal(fmt.Sprintf("≥ %.0f × relay", goalUploadRatio), ratio >= goalUploadRatio)
			rows = append(rows, SummaryRow{Figure: "iperf3 upload via VIP, " + res.label(),
				Value: res.Vecd, Unit: "Gbit/s", Baseline: "HAProxy relay", BaselineValue: res.Relay, BaselineUnit: "Gbit/s",
				Ratio: ratio, Goal: text, GoalMet: met, Note: fmt.Sprintf("direct %.2f Gbit/s", res.Direct), Source: "upload"})
		}
	}
	return rows
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func streamsLabel(n int) string {
	if n == 1 {
		return "1 stream"
	}
	return fmt.Sprintf("%d streams", n)
}

// summaryValue renders a figure in its unit.
func summaryValue(v float64, unit string) string {
	switch unit {
	case "conn/s":
		return fmt.Sprintf("%.2f M conn/s", v/1e6)
	case "µs":
		return fmt.Sprintf("%.1f µs", v)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

// PrintSummary writes the summary table: every figure with its baseline,
// their ratio and the goal, then the steps that did not run and any
// warning.
func (r *Report) PrintSummary(out io.Writer) {
	fmt.Fprintf(out, "\nsummary of make bench (virtio-user suite of %s): each figure with its baseline from the same run\n", r.Date)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tbaseline\t\tratio\tgoal\t\tnote")
	for _, row := range r.Summary {
		met := ""
		if row.GoalMet != nil {
			met = map[bool]string{true: "met", false: "NOT met"}[*row.GoalMet]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%s\t%s\t%s\n", row.Figure, summaryValue(row.Value, row.Unit), row.Baseline,
			summaryValue(row.BaselineValue, row.BaselineUnit), row.Ratio, row.Goal, met, row.Note)
	}
	tw.Flush()
	for _, s := range r.NotRun {
		fmt.Fprintln(out, "NOT RUN:", s)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(out, "WARNING:", w)
	}
}
