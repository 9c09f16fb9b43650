package benchrun

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"vec/internal/benchfmt"
)

// The files `make bench` writes, and the steps that write them: a merge
// input that is missing names the step that did not run.
const (
	stepSuite   = "bin/vec-pktgen suite -out %s (the virtio-user suite)"
	stepNetNull = "bin/vec-bench -out bench/net_null.json, included by the suite's -include (vec-bench on net_null)"
	stepControl = "bin/vec-bench -control -out %s (poll iterations with and without control API load)"
	stepUpload  = "scripts/bench-upload.sh --out %s (iperf3 upload through vecd and the relay)"
)

// MergeInputs are the files `vec-pktgen merge` folds together.
type MergeInputs struct {
	// Results is the suite's report (bench/results.json), which already
	// holds vec-bench's net_null rows; the merge rewrites it.
	Results string
	Control string // vec-bench -control's bench/control.json
	Upload  string // scripts/bench-upload.sh's bench/upload.json
}

// MergeMain is `vec-pktgen merge`, the last step of `make bench`: it
// folds bench/control.json and bench/upload.json into bench/results.json,
// redraws the chart and prints the summary of every figure with its
// same-run baseline. It measures nothing. It returns the exit status: 1 if
// any input is missing or unreadable (the others are merged all the same).
func MergeMain(args []string, out io.Writer) int {
	flags := flag.NewFlagSet("vec-pktgen merge", flag.ContinueOnError)
	results := flags.String("results", "bench/results.json", "the suite's report, rewritten with the merged sections")
	control := flags.String("control", "bench/control.json", "vec-bench -control's results")
	upload := flags.String("upload", "bench/upload.json", "scripts/bench-upload.sh's results")
	chart := flags.String("chart", "bench/results.svg", "where to redraw the chart (SVG)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	rep, err := Merge(MergeInputs{Results: *results, Control: *control, Upload: *upload})
	if rep == nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen merge:", err)
		return 1
	}
	rep.PrintSummary(out)
	status := 0
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen merge:", err)
		status = 1
	}
	if err := rep.WriteJSON(*results); err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen merge:", err)
		return 1
	}
	fmt.Fprintln(out, "\nresults written to", *results)
	if err := rep.WriteChart(*chart); err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen merge: chart:", err)
		return 1
	}
	fmt.Fprintln(out, "chart written to", *chart)
	return status
}

// Merge reads the suite's report and attaches the control and upload
// results to it as sections of their own, with the summary of every
// figure. Without the suite's report it returns no report. An input
// missing or not of the expected shape leaves its section out (a section
// from an earlier merge is dropped, never kept) and is named, with the step
// that should have written it, in the error returned with the report.
func Merge(in MergeInputs) (*Report, error) {
	b, err := os.ReadFile(in.Results)
	if err != nil {
		return nil, missing(err, stepSuite, in.Results)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s is not the suite's report: %w", in.Results, err)
	}
	rep.Control, rep.Upload, rep.Summary, rep.NotRun, rep.Warnings = nil, nil, nil, nil, nil
	var errs []error
	note := func(err error) {
		errs = append(errs, err)
		rep.NotRun = append(rep.NotRun, err.Error())
	}
	if len(rep.NetNullRows()) == 0 {
		note(fmt.Errorf("%s has no net_null rows: the step %s did not run", in.Results, stepNetNull))
	}
	if raw, err := readSection(in.Control, stepControl, func(c *ControlResults) error { return c.check() }); err != nil {
		note(err)
	} else {
		rep.Control = raw
	}
	if raw, err := readSection(in.Upload, stepUpload, func(u *UploadResults) error { return u.check() }); err != nil {
		note(err)
	} else {
		rep.Upload = raw
	}
	if c := rep.ControlResults(); c != nil {
		if stale := c.predates(rep.Date); stale != "" {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s %s: not from the same `make bench`", in.Control, stale))
		}
	}
	rep.Summary = rep.summarize()
	return &rep, errors.Join(errs...)
}

// missing wraps the error of reading a step's file, saying which step did
// not run when the file is not there.
func missing(err error, step, path string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: the step %s did not run", path, fmt.Sprintf(step, path))
	}
	return fmt.Errorf("reading the output of %s: %w", fmt.Sprintf(step, path), err)
}

// readSection reads path as the JSON that step writes: it must decode into
// T and pass check.
func readSection[T any](path, step string, check func(*T) error) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, missing(err, step, path)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s is not the output of %s: %w", path, fmt.Sprintf(step, path), err)
	}
	if err := check(&v); err != nil {
		return nil, fmt.Errorf("%s is not the output of %s: %w", path, fmt.Sprintf(step, path), err)
	}
	return b, nil
}

// ControlResults is vec-bench -control's results (bench/control.json) as
// the merge reads them: each kind of run, once per round.
type ControlResults benchfmt.ControlReport

// ControlKind is one kind of run of vec-bench -control, with its worst
// poll-iteration times over the rounds.
type ControlKind struct {
	Name string
	Runs []benchfmt.Result
}

// Kinds lists the kinds of run, the worker alone (the baseline) first.
func (c *ControlResults) Kinds() []ControlKind {
	return []ControlKind{{"worker alone", c.Alone}, {"next to a busy core", c.Busy},
		{"API load and GC", c.Loaded}, {"weight manager every 100 ms", c.Managed}}
}

// Worst is the run of the kind with the highest p99.9 (the rounds'
// worst), or nil when the kind has no run with poll-iteration times.
func (k ControlKind) Worst() *benchfmt.Result {
	var worst *benchfmt.Result
	for i := range k.Runs {
		if p := k.Runs[i].PollIteration; p != nil && (worst == nil || p.P999Micros > worst.PollIteration.P999Micros) {
			worst = &k.Runs[i]
		}
	}
	return worst
}

func (c *ControlResults) check() error {
	for _, k := range c.Kinds()[:3:3] {
		if k.Worst() == nil {
			return fmt.Errorf("no %s run with poll-iteration times", k.Name)
		}
	}
	return nil
}

// predates says, if the control results were measured before the suite
// started (at suiteDate), when they were; "" if they were not, or either
// date is unknown.
func (c *ControlResults) predates(suiteDate string) string {
	measured, err1 := time.Parse(time.RFC3339, c.Date)
	suite, err2 := time.Parse(time.RFC3339, suiteDate)
	if err1 != nil || err2 != nil || !measured.Before(suite) {
		return ""
	}
	return fmt.Sprintf("was measured at %s, before the suite's run of %s", c.Date, suiteDate)
}

// UploadResult is one driver, MTU and stream count of
// scripts/bench-upload.sh: medians of its runs, in Gbit/s.
type UploadResult struct {
	Driver  string  `json:"driver"`
	MTU     int     `json:"mtu"`
	Streams int     `json:"streams"`
	Vecd    float64 `json:"vecd_gbps"`
	Relay   float64 `json:"relay_gbps"`
	Direct  float64 `json:"direct_gbps"`
}

// UploadResults is what the merge uses of bench/upload.json.
type UploadResults struct {
	Seconds int            `json:"seconds_per_run"`
	Results []UploadResult `json:"results"`
}

func (u *UploadResults) check() error {
	if len(u.Results) == 0 {
		return errors.New("no results")
	}
	for _, r := range u.Results {
		switch {
		case r.MTU <= 0:
			return fmt.Errorf("%s, %d streams: no MTU", r.Driver, r.Streams)
		case r.Relay <= 0:
			return fmt.Errorf("%s: no relay figure", r.label())
		}
	}
	return nil
}

// label names the result in the summary and the chart: driver, MTU and
// streams.
func (r UploadResult) label() string {
	return fmt.Sprintf("%s, MTU %d, %s", r.Driver, r.MTU, streamsLabel(r.Streams))
}

// ControlResults decodes the report's control section; nil when it has
// none.
func (r *Report) ControlResults() *ControlResults {
	var c ControlResults
	if len(r.Control) == 0 || json.Unmarshal(r.Control, &c) != nil || c.check() != nil {
		return nil
	}
	return &c
}

// UploadResults decodes the report's upload section; nil when it has
// none.
func (r *Report) UploadResults() *UploadResults {
	var u UploadResults
	if len(r.Upload) == 0 || json.Unmarshal(r.Upload, &u) != nil || u.check() != nil {
		return nil
	}
	return &u
}
