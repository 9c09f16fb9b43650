package benchrun

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testReport() *Report {
	rep := &Report{Date: "2026-01-02T03:04:05Z", Host: "test CPU, 2 CPUs", Duration: "5s",
		Layout: Layout{GeneratorWorker: 0, GeneratorMain: 0, ForwarderMain: 0, ForwarderWorker: 1}}
	for i, flows := range []int{1000, 100000, 1000000} {
		tp := &GenResult{SentMpps: 5, ReceivedMpps: 5}
		mac := &GenResult{SentMpps: 4, ReceivedMpps: 4}
		vd := &GenResult{SentMpps: 4.5 - float64(i)*0.5, ReceivedMpps: 4.5 - float64(i)*0.5, NewConnsPerSec: 200000,
			Split: []ServerShare{{MAC: "02:00:00:00:00:11", Weight: 3, SYNs: 600, SYNShare: 0.6, ExpectedShare: 0.6},
				{MAC: "02:00:00:00:00:12", Weight: 2, SYNs: 400, SYNShare: 0.4, ExpectedShare: 0.4}}}
		sink := &GenResult{SentMpps: 2 * tp.ReceivedMpps}
		rep.Cases = append(rep.Cases, CaseResult{Case: Case{Name: "tcp " + flowsLabel(float64(flows)), Mode: "tcp", Flows: flows},
			Sink: Run{Forwarder: Sink, Gen: sink}, OfferedMpps: sink.SentMpps, Headroom: ratio(sink, tp),
			Testpmd: Run{Forwarder: Testpmd, Gen: tp}, TestpmdMAC: Run{Forwarder: TestpmdMAC, Gen: mac},
			Vecd:  Run{Forwarder: Vecd, Gen: vd, Vecd: &VecdStats{}},
			Ratio: ratio(vd, tp), RatioMAC: ratio(vd, mac)})
	}
	rep.Cases[2].Problems = []string{"3 flow packets lost"}
	return rep
}

func TestReportPrint(t *testing.T) {
	var out bytes.Buffer
	testReport().Print(&out)
	text := out.String()
	for _, want := range []string{"vecd control 0, worker 1", "tcp 1M", "90.0%", "70.0%", "112.5%", "87.5%", "testpmd-mac", "ceiling", "60.0:40.0", "×2.00 io",
		"PROBLEM tcp 1M: 3 flow packets lost"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}

func TestChartIsWellFormed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := testReport().WriteChart(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	circles := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "circle" {
			circles++
		}
	}
	// Three flow counts: two testpmds and vecd in one panel, two ratios in
	// the other.
	if circles != 15 {
		t.Errorf("%d points drawn, want 15", circles)
	}
	for _, want := range []string{"goal 90%", ">90<", ">1M<", ">3.5<"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("chart lacks %q", want)
		}
	}
	empty := &Report{Cases: []CaseResult{{Case: Case{Mode: "syn"}}}}
	if err := empty.WriteChart(path); err == nil {
		t.Error("a chart without tcp cases was drawn")
	}
}

func TestNiceAxis(t *testing.T) {
	for _, tc := range []struct{ in, top, step float64 }{
		{0.7, 0.8, 0.2}, {1, 1, 0.2}, {4.95, 5, 1}, {5.5, 6, 1}, {100, 100, 20}, {104, 120, 20}, {12, 12, 2}, {0, 1, 0.2},
	} {
		top, step := niceAxis(tc.in)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 || top < tc.in || top/step > 6.0001 {
			t.Errorf("niceAxis(%g) = %g, %g; want %g, %g", tc.in, top, step, tc.top, tc.step)
		}
	}
}

// vec-bench's rows, included as NetNull, are printed and charted with
// their ratios; anything else under net_null is left out.
func TestNetNullRows(t *testing.T) {
	rep := testReport()
	rep.NetNull = []byte(`{"date": "x", "rows": [
		{"name": "testpmd io-fwd", "result": {"mode": "testpmd", "mpps": 100}, "ratio_to_testpmd": 1},
		{"name": "vecd workers ×2, 100000 flows each", "result": {"mpps": 30}, "ratio_to_testpmd": 0.3, "ratio_to_one_worker": 1.87,
			"note": "loops on cores 0,1"},
		{"name": "new connections, one worker, SYN-only", "result": {"mpps": 9, "new_connections_per_s": 8500000}, "ratio_to_testpmd": 0.09}]}`)
	if rows := rep.NetNullRows(); len(rows) != 3 || rows[1].VsOneWorker != 1.87 || rows[2].Result.NewConnsPerSec != 8.5e6 {
		t.Fatalf("rows decoded as %+v", rows)
	}
	var out bytes.Buffer
	rep.Print(&out)
	for _, want := range []string{"vecd workers ×2, 100000 flows each", "1.87", "8.50 M", "0.30", "loops on cores 0,1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	svg := chartSVG(t, rep)
	for _, want := range []string{"30.00 Mpps, 0.30 of testpmd, 1.87 × one worker", "8.50 M new conn/s", "new connections, one worker, SYN-only"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	rep.NetNull = []byte(`[1, 2]`)
	if rows := rep.NetNullRows(); rows != nil {
		t.Errorf("rows of a JSON array: %+v", rows)
	}
}

// chartSVG draws rep's chart into a temporary file and returns it, failing
// the test unless it is well-formed XML.
func chartSVG(t *testing.T, rep *Report) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := rep.WriteChart(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	return string(b)
}
