package benchrun

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata are the files of a real `make bench` (2026-12-05),
// control.json with fewer histogram buckets and net_null.json without the
// poll-iteration times: the shapes vec-bench and scripts/bench-upload.sh
// write.

// mergeFixture writes the suite's report (testReport, with testdata's
// net_null rows included as the suite's -include does) to a scratch
// directory and returns the merge's inputs, testdata's control and upload
// results copied next to it.
func mergeFixture(t *testing.T) MergeInputs {
	t.Helper()
	dir := t.TempDir()
	rep := testReport()
	nn, err := os.ReadFile("testdata/net_null.json")
	if err != nil {
		t.Fatal(err)
	}
	rep.NetNull = nn
	in := MergeInputs{Results: filepath.Join(dir, "results.json"), Control: filepath.Join(dir, "control.json"), Upload: filepath.Join(dir, "upload.json")}
	if err := rep.WriteJSON(in.Results); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"control.json", "upload.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// fixture decodes a testdata file generically, without the merge's types.
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// worstP999 is the highest p99.9 of a kind of run of the control fixture.
func worstP999(t *testing.T, control map[string]any, kind string) float64 {
	t.Helper()
	worst := 0.0
	for _, run := range control[kind].([]any) {
		worst = max(worst, run.(map[string]any)["poll_iteration"].(map[string]any)["p99_9_us"].(float64))
	}
	if worst == 0 {
		t.Fatalf("fixture has no %s p99.9", kind)
	}
	return worst
}

func summaryRow(t *testing.T, rows []SummaryRow, figure string) SummaryRow {
	t.Helper()
	for _, row := range rows {
		if row.Figure == figure {
			return row
		}
	}
	t.Fatalf("summary lacks %q: %+v", figure, rows)
	return SummaryRow{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

// The merged report holds the control and upload results as written, and
// the summary every figure with its same-run baseline.
func TestMergeFoldsControlAndUpload(t *testing.T) {
	in := mergeFixture(t)
	rep, err := Merge(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(in.Results); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(in.Results)
	if err != nil {
		t.Fatal(err)
	}
	var merged struct {
		Control map[string]any `json:"control"`
		Upload  map[string]any `json:"upload"`
		Summary []SummaryRow   `json:"summary"`
		Cases   []CaseResult   `json:"cases"`
		NetNull map[string]any `json:"net_null"`
		NotRun  []string       `json:"not_run"`
	}
	if err := json.Unmarshal(b, &merged); err != nil {
		t.Fatal(err)
	}
	control, upload := fixture(t, "control.json"), fixture(t, "upload.json")
	for _, key := range []string{"date", "ratio", "worker_alone_mpps", "worker_with_api_load"} {
		if fmt.Sprint(merged.Control[key]) != fmt.Sprint(control[key]) {
			t.Errorf("control %s merged as %v, want %v", key, merged.Control[key], control[key])
		}
	}
	if fmt.Sprint(merged.Upload["results"]) != fmt.Sprint(upload["results"]) {
		t.Errorf("upload results merged as %v", merged.Upload["results"])
	}
	if len(merged.Cases) != 3 || merged.NetNull == nil || len(merged.NotRun) != 0 {
		t.Errorf("the suite's report was not kept: %d cases, net_null %v, not run %v", len(merged.Cases), merged.NetNull != nil, merged.NotRun)
	}

	rows := merged.Summary
	p := summaryRow(t, rows, "poll-iteration p99.9, API load and GC")
	loaded, alone := worstP999(t, control, "worker_with_api_load"), worstP999(t, control, "worker_alone")
	if p.Value != loaded || p.BaselineValue != alone || p.Baseline != "worker alone" || !near(p.Ratio, loaded/alone) ||
		p.GoalMet == nil || *p.GoalMet != (loaded < 100) {
		t.Errorf("p99.9 row %+v; want %g µs against the worker alone's %g", p, loaded, alone)
	}
	results := upload["results"].([]any)
	for _, r := range results {
		res := r.(map[string]any)
		streams := int(res["streams"].(float64))
		row := summaryRow(t, rows, fmt.Sprintf("iperf3 upload via VIP, %s, MTU %.0f, %s", res["driver"], res["mtu"], streamsLabel(streams)))
		vecd, relay := res["vecd_gbps"].(float64), res["relay_gbps"].(float64)
		if row.Value != vecd || row.BaselineValue != relay || row.Baseline != "HAProxy relay" || !near(row.Ratio, vecd/relay) {
			t.Errorf("upload row %+v; want %g Gbit/s against the relay's %g", row, vecd, relay)
		}
	}

	nn := fixture(t, "net_null.json")["rows"].([]any)
	mpps := map[string]float64{}
	for _, r := range nn {
		row := r.(map[string]any)
		mpps[row["name"].(string)] = row["result"].(map[string]any)["mpps"].(float64)
	}
	testpmd := mpps["testpmd io-fwd"]
	for _, flows := range []string{"1k", "1M"} {
		name := map[string]string{"1k": "vecd worker, 1000 flows", "1M": "vecd worker, 1000000 flows"}[flows]
		row := summaryRow(t, rows, "net_null: vecd worker, "+flows+" flows")
		if row.Value != mpps[name] || row.BaselineValue != testpmd || !near(row.Ratio, mpps[name]/testpmd) {
			t.Errorf("%s row %+v; want %g Mpps against testpmd's %g", flows, row, mpps[name], testpmd)
		}
		// Issue 12's goals: 40 Mpps with 1k flows, 25 with 1M.
		want := map[string]float64{"1k": 40, "1M": 25}[flows]
		if row.Goal != fmt.Sprintf("≥ %.0f Mpps", want) || row.GoalMet == nil || *row.GoalMet != (mpps[name] >= want) {
			t.Errorf("%s row's goal %q met %v; want ≥ %g Mpps", flows, row.Goal, row.GoalMet, want)
		}
	}
	if row := summaryRow(t, rows, "net_null: vecd worker, 100k flows"); row.Goal != "" || row.GoalMet != nil {
		t.Errorf("100k row has a goal: %+v", row)
	}
	two, one := mpps["vecd workers ×2, 100000 flows each"], mpps["vecd workers ×1, 100000 flows each"]
	// The note has testpmd's own scaling on the same cores.
	testpmd2 := mpps["testpmd io-fwd ×2"]
	if row := summaryRow(t, rows, "net_null: 2 workers, 100k flows each"); row.Value != two || row.BaselineValue != one || !near(row.Ratio, two/one) ||
		!strings.Contains(row.Note, fmt.Sprintf("testpmd io-fwd on them: %.2f Mpps, %.3f × one core", testpmd2, testpmd2/testpmd)) {
		t.Errorf("two-worker row %+v; want %g against %g, testpmd %g against %g", row, two, one, testpmd2, testpmd)
	}
	syn := summaryRow(t, rows, "net_null: new connections/s, SYN-only, one worker")
	if syn.Value <= 0 || syn.BaselineValue != testpmd || syn.Goal != "≥ 10 M/s" || syn.GoalMet == nil || *syn.GoalMet != (syn.Value >= 10e6) {
		t.Errorf("new connections row %+v", syn)
	}
	if row := summaryRow(t, rows, "net_null: 2 workers, 100k flows each"); row.Goal != "≥ 1.9 × one" || row.GoalMet == nil || *row.GoalMet != (two/one >= 1.9) {
		t.Errorf("two-worker row's goal %q met %v", row.Goal, row.GoalMet)
	}
	rep1M := testReport().Cases[2]
	if row := summaryRow(t, rows, "virtio-user: vecd, tcp 1M flows"); row.Value != rep1M.Vecd.Gen.SentMpps ||
		row.BaselineValue != rep1M.Testpmd.Gen.SentMpps || row.Ratio != rep1M.Ratio || !strings.Contains(row.Note, "generator offered") {
		t.Errorf("virtio-user 1M row %+v", row)
	}

	var out bytes.Buffer
	rep.PrintSummary(&out)
	for _, want := range []string{"poll-iteration p99.9, API load and GC", fmt.Sprintf("%.1f µs", loaded), fmt.Sprintf("%.1f µs", alone),
		"iperf3 upload via VIP, af_xdp, MTU 1500, 1 stream", "iperf3 upload via VIP, af_packet, MTU 9000, 1 stream", "HAProxy relay", "net_null: vecd worker, 1M flows", "virtio-user: vecd, tcp 1k flows", "< 100 µs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "NOT RUN") {
		t.Errorf("summary says a step did not run:\n%s", out.String())
	}
}

// The chart of a merged report has the control and upload rows.
func TestMergedChartHasControlAndUploadRows(t *testing.T) {
	rep, err := Merge(mergeFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	svg := chartSVG(t, rep)
	control := fixture(t, "control.json")
	loaded, alone := worstP999(t, control, "worker_with_api_load"), worstP999(t, control, "worker_alone")
	// The fixture has one round: its API-load run is the worst.
	gcCycles := control["worker_with_api_load"].([]any)[0].(map[string]any)["gc_cycles"].(float64)
	wants := []string{"poll-iteration p99.9", ">worker alone<", fmt.Sprintf(">API load and GC (%.0f GC cycles)<", gcCycles), "goal &lt; 100 µs",
		fmt.Sprintf("%.1f µs, %.2f × alone", loaded, loaded/alone), "iperf3 upload", "vecd worker, 1000000 flows"}
	for _, r := range fixture(t, "upload.json")["results"].([]any) {
		res := r.(map[string]any)
		name := fmt.Sprintf("%s, MTU %.0f, %s", res["driver"], res["mtu"], streamsLabel(int(res["streams"].(float64))))
		wants = append(wants, ">"+name+": vecd<", ">"+name+": HAProxy relay<",
			fmt.Sprintf("%.2f Gbit/s, %.2f × relay", res["vecd_gbps"], res["vecd_gbps"].(float64)/res["relay_gbps"].(float64)))
	}
	for _, want := range wants {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	// Every row of text lies inside the drawing.
	var doc struct {
		Height int `xml:"height,attr"`
		Texts  []struct {
			Y float64 `xml:"y,attr"`
		} `xml:"text"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatal(err)
	}
	for _, text := range doc.Texts {
		if text.Y > float64(doc.Height) {
			t.Errorf("text at y %g below the chart's height %d", text.Y, doc.Height)
		}
	}
}

// A missing input is named with the step that did not run; the others are
// merged all the same, and a section from an earlier merge is not kept.
func TestMergeReportsMissingInputs(t *testing.T) {
	in := mergeFixture(t)
	rep, err := Merge(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(in.Results); err != nil { // a report merged before
		t.Fatal(err)
	}
	if err := os.Remove(in.Control); err != nil {
		t.Fatal(err)
	}
	rep, err = Merge(in)
	if err == nil || rep == nil {
		t.Fatalf("merge without control results: report %v, error %v", rep != nil, err)
	}
	for _, want := range []string{in.Control + " is missing", "bin/vec-bench -control", "did not run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if rep.Control != nil || rep.Upload == nil || len(rep.NotRun) != 1 {
		t.Errorf("control kept %v, upload merged %v, not run %v", rep.Control != nil, rep.Upload != nil, rep.NotRun)
	}
	for _, row := range rep.Summary {
		if row.Source == "control" {
			t.Errorf("summary has a control figure without control results: %+v", row)
		}
	}
	var out bytes.Buffer
	rep.PrintSummary(&out)
	if !strings.Contains(out.String(), "NOT RUN: "+in.Control+" is missing") {
		t.Errorf("summary does not say the control step did not run:\n%s", out.String())
	}

	if err := os.Remove(in.Upload); err != nil {
		t.Fatal(err)
	}
	if _, err = Merge(in); err == nil || !strings.Contains(err.Error(), "scripts/bench-upload.sh") || !strings.Contains(err.Error(), in.Upload+" is missing") {
		t.Errorf("merge without upload results: %v", err)
	}
	if err := os.WriteFile(in.Upload, []byte(`{"results": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = Merge(in); err == nil || !strings.Contains(err.Error(), "is not the output of scripts/bench-upload.sh") {
		t.Errorf("merge of upload results without results: %v", err)
	}
	// An earlier bench-upload.sh wrote one MTU for the file, none per result.
	if err := os.WriteFile(in.Upload, []byte(`{"mtu": 1500, "results": [{"driver": "af_xdp", "streams": 1, "vecd_gbps": 3, "relay_gbps": 5}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = Merge(in); err == nil || !strings.Contains(err.Error(), "af_xdp, 1 streams: no MTU") {
		t.Errorf("merge of upload results without an MTU per result: %v", err)
	}

	noNetNull := testReport()
	if err := noNetNull.WriteJSON(in.Results); err != nil {
		t.Fatal(err)
	}
	if _, err = Merge(in); err == nil || !strings.Contains(err.Error(), "no net_null rows") || !strings.Contains(err.Error(), "bin/vec-bench -out bench/net_null.json") {
		t.Errorf("merge without net_null rows: %v", err)
	}

	if err := os.Remove(in.Results); err != nil {
		t.Fatal(err)
	}
	rep, err = Merge(in)
	if rep != nil || err == nil || !strings.Contains(err.Error(), "bin/vec-pktgen suite") || !strings.Contains(err.Error(), "did not run") {
		t.Errorf("merge without the suite's report: report %v, error %v", rep != nil, err)
	}
}

// Control results measured before the suite started are merged with a
// warning: they are not from the same `make bench`.
func TestMergeWarnsOfEarlierControlResults(t *testing.T) {
	in := mergeFixture(t)
	rep := testReport()
	rep.Date = "2099-01-01T00:00:00Z"
	rep.NetNull, _ = os.ReadFile("testdata/net_null.json")
	if err := rep.WriteJSON(in.Results); err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Warnings) != 1 || !strings.Contains(merged.Warnings[0], "before the suite's run of 2099-01-01T00:00:00Z") {
		t.Errorf("warnings %v", merged.Warnings)
	}
}

// `vec-pktgen merge` rewrites the report and the chart and prints the
// summary; with an input missing it still does, and exits 1.
func TestMergeMain(t *testing.T) {
	in := mergeFixture(t)
	chart := filepath.Join(filepath.Dir(in.Results), "results.svg")
	args := []string{"-results", in.Results, "-control", in.Control, "-upload", in.Upload, "-chart", chart}
	var out bytes.Buffer
	if status := MergeMain(args, &out); status != 0 {
		t.Fatalf("exit status %d:\n%s", status, out.String())
	}
	for _, want := range []string{"summary of make bench", "results written to " + in.Results, "chart written to " + chart} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(in.Results)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"summary"`)) || !bytes.Contains(b, []byte(`"worker_with_api_load"`)) || !bytes.Contains(b, []byte(`"vecd_to_relay"`)) {
		t.Errorf("%s lacks the merged sections", in.Results)
	}
	if err := os.Remove(chart); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(in.Upload); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if status := MergeMain(args, &out); status != 1 {
		t.Errorf("exit status %d without upload results, want 1", status)
	}
	if !strings.Contains(out.String(), "NOT RUN: "+in.Upload+" is missing: the step scripts/bench-upload.sh") {
		t.Errorf("output does not say the upload step did not run:\n%s", out.String())
	}
	if _, err := os.Stat(chart); err != nil {
		t.Errorf("chart not redrawn without upload results: %v", err)
	}
}
