package benchrun

import (
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"

	"vec/internal/benchfmt"
)

// Chart geometry: two panels side by side.
const (
	chartWidth  = 960
	chartHeight = 460
	panelWidth  = 400
	panelHeight = 280
	panelTop    = 60
	leftPanelX  = 70
	rightPanelX = 550
)

// series is one line of a panel.
type series struct {
	name   string
	color  string
	points [][2]float64 // (flows, value)
}

// panel is one plot: log-scaled flows across, values up.
type panel struct {
	title, unit string
	left        float64
	yMax        float64
	xMin, xMax  float64
	series      []series
	goal        float64 // a dashed horizontal line; 0 for none
	goalLabel   string
}

// Geometry of the bar sections under the panels (vec-bench's net_null
// rows, the control and upload results): one bar per row.
const (
	barsTop    = chartHeight + 20 // the first section's title's baseline
	barRow     = 20
	barX       = 430
	barMax     = 220
	barsGap    = 16 // between a section's last row and the next title
	colorVecd  = "#1f5fbf"
	colorBasis = "#888888" // a baseline's bar
)

// WriteChart draws the tcp cases as an SVG file: packet rate against flow
// count for testpmd (io and mac forwarding) and vecd, and vecd's ratios to
// both; below, for each of vec-bench's net_null results, the control
// results and the upload results the report includes, a bar per figure,
// its baseline's bar grey.
func (r *Report) WriteChart(path string) error {
	tp := series{name: "testpmd io-fwd (ceiling)", color: "#888888"}
	mac := series{name: "testpmd mac-fwd", color: "#d08a2a"}
	vd := series{name: "vecd", color: "#1f5fbf"}
	ratio := series{name: "vecd / testpmd io-fwd", color: "#1f5fbf"}
	ratioMAC := series{name: "vecd / testpmd mac-fwd", color: "#d08a2a"}
	xMin, xMax, yMax := math.Inf(1), math.Inf(-1), 0.0
	for _, c := range r.Cases {
		if c.Mode != "tcp" {
			continue
		}
		f := float64(c.Flows)
		tp.points = append(tp.points, [2]float64{f, c.Testpmd.Gen.SentMpps})
		mac.points = append(mac.points, [2]float64{f, c.TestpmdMAC.Gen.SentMpps})
		vd.points = append(vd.points, [2]float64{f, c.Vecd.Gen.SentMpps})
		ratio.points = append(ratio.points, [2]float64{f, 100 * c.Ratio})
		ratioMAC.points = append(ratioMAC.points, [2]float64{f, 100 * c.RatioMAC})
		xMin, xMax = min(xMin, f), max(xMax, f)
		yMax = max(yMax, c.Testpmd.Gen.SentMpps, c.TestpmdMAC.Gen.SentMpps, c.Vecd.Gen.SentMpps)
	}
	if len(vd.points) == 0 {
		return errors.New("no tcp case to chart")
	}
	xMin, xMax = math.Pow(10, math.Floor(math.Log10(xMin))), math.Pow(10, math.Ceil(math.Log10(xMax)))
	if xMin == xMax {
		xMin, xMax = xMin/10, xMax*10
	}
	var sections strings.Builder
	y := barsTop
	y = drawNetNull(&sections, y, r.NetNullRows())
	y = drawControl(&sections, y, r.ControlResults())
	y = drawUpload(&sections, y, r.UploadResults())
	height := max(chartHeight, y-barsGap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", leftPanelX,
		html.EscapeString(fmt.Sprintf("vecd over virtio-user ↔ vhost-user, tcp connections, %s per run, best of %d (%s)", r.Duration, r.Repeat, r.Date)))
	ratioMax := 100.0
	for _, pt := range append(ratio.points, ratioMAC.points...) {
		ratioMax = max(ratioMax, pt[1])
	}
	panel{title: "packets per second the forwarder takes in", unit: "Mpps", left: leftPanelX, yMax: yMax * 1.1,
		xMin: xMin, xMax: xMax, series: []series{tp, mac, vd}}.draw(&b)
	panel{title: "vecd / testpmd", unit: "%", left: rightPanelX, yMax: ratioMax, xMin: xMin, xMax: xMax,
		series: []series{ratio, ratioMAC}, goal: 90, goalLabel: "goal 90% (of io-fwd)"}.draw(&b)
	b.WriteString(sections.String())
	b.WriteString("</svg>\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// bar is one row of a bar section: a name at the left, a bar as long as
// value against the section's scale, and text after it.
type bar struct {
	name, text string
	value      float64
	color      string
}

// drawBars draws a section of bars whose title's baseline is at top, the
// longest bar (or the goal, if further) barMax wide, and a dashed line at
// goal if goal > 0, each bar's text to the right of both. It returns the
// next section's top.
func drawBars(b *strings.Builder, top int, title string, bars []bar, goal float64, goalLabel string) int {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", leftPanelX, top, html.EscapeString(title))
	scale := goal
	for _, br := range bars {
		scale = max(scale, br.value)
	}
	goalX := 0.0
	if goal > 0 {
		goalX = barX + barMax*goal/scale
	}
	for i, br := range bars {
		y := top + barRow*(i+1)
		w := 0.0
		if scale > 0 {
			w = br.value / scale * barMax
		}
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", leftPanelX, y, html.EscapeString(br.name))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", barX, y-11, w, barRow-6, br.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", max(barX+w, goalX)+6, y, html.EscapeString(br.text))
	}
	bottom := top + barRow*len(bars)
	if goal > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c33" stroke-dasharray="6 4"/>`+"\n", goalX, top+4, goalX, bottom+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#c33" text-anchor="middle">%s</text>`+"\n", goalX, bottom+18, html.EscapeString(goalLabel))
		bottom += barRow / 2 // room for the goal's label
	}
	return bottom + barRow + barsGap
}

// drawNetNull draws a bar per net_null row, its length the row's packet
// rate, labelled with the rate, its ratio to testpmd io-fwd on net_null
// (whose own bar is grey), and the new connections per second or the
// ratio to one worker where the row has them.
func drawNetNull(b *strings.Builder, top int, rows []benchfmt.NetNullRow) int {
	if len(rows) == 0 {
		return top
	}
	var bars []bar
	for _, row := range rows {
		text := fmt.Sprintf("%.2f Mpps, %.2f of testpmd", row.Result.Mpps, row.VsTestpmd)
		if row.VsOneWorker > 0 {
			text += fmt.Sprintf(", %.2f × one worker", row.VsOneWorker)
		}
		if row.Result.NewConnsPerSec > 0 {
			text += fmt.Sprintf(", %.2f M new conn/s", row.Result.NewConnsPerSec/1e6)
		}
		color := colorVecd
		if row.Result.Mode == "testpmd" {
			color = colorBasis
		}
		bars = append(bars, bar{name: row.Name, text: text, value: row.Result.Mpps, color: color})
	}
	return drawBars(b, top, "vec-bench on net_null, one process per row: Mpps, and the ratio to testpmd io-fwd measured in the same run", bars, 0, "")
}

// drawControl draws a bar per kind of vec-bench -control run, its length
// the worker's poll-iteration p99.9 (the worst of the rounds), against the
// goal; the worker alone is the baseline.
func drawControl(b *strings.Builder, top int, c *ControlResults) int {
	if c == nil {
		return top
	}
	var bars []bar
	kinds := c.Kinds()
	alone := kinds[0].Worst()
	for i, k := range kinds {
		run := k.Worst()
		if run == nil {
			continue
		}
		p := run.PollIteration
		text := fmt.Sprintf("%.1f µs; p99.99 %.1f, max %.0f", p.P999Micros, p.P9999Micros, p.MaxMicros)
		name, color := k.Name, colorBasis
		if i > 0 {
			text = fmt.Sprintf("%.1f µs, %.2f × alone; p99.99 %.1f, max %.0f", p.P999Micros, quotient(p.P999Micros, alone.PollIteration.P999Micros), p.P9999Micros, p.MaxMicros)
			color = colorVecd
		}
		if run.GCCycles > 0 {
			name += fmt.Sprintf(" (%d GC cycles)", run.GCCycles)
		}
		bars = append(bars, bar{name: name, text: text, value: p.P999Micros, color: color})
	}
	rounds := "one round"
	if len(c.Alone) > 1 {
		rounds = fmt.Sprintf("worst of %d rounds", len(c.Alone))
	}
	title := fmt.Sprintf("vec-bench -control, %d flows: the worker's poll-iteration p99.9 in µs (%s), same run", c.Flows, rounds)
	return drawBars(b, top, title, bars, goalP999Micros, fmt.Sprintf("goal < %.0f µs", goalP999Micros))
}

// drawUpload draws two bars per driver and stream count of the iperf3
// upload: through vecd, and through the HAProxy relay (the baseline).
func drawUpload(b *strings.Builder, top int, u *UploadResults) int {
	if u == nil {
		return top
	}
	var bars []bar
	for _, res := range u.Results {
		name := res.label()
		bars = append(bars,
			bar{name: name + ": vecd", value: res.Vecd, color: colorVecd,
				text: fmt.Sprintf("%.2f Gbit/s, %.2f × relay", res.Vecd, quotient(res.Vecd, res.Relay))},
			bar{name: name + ": HAProxy relay", value: res.Relay, color: colorBasis,
				text: fmt.Sprintf("%.2f Gbit/s (direct %.2f)", res.Relay, res.Direct)})
	}
	title := fmt.Sprintf("iperf3 upload client → VIP → server, medians of %d s runs: vecd against the HAProxy relay of the same run", u.Seconds)
	return drawBars(b, top, title, bars, 0, "")
}

// niceAxis returns the top of an axis that shows values up to v, and its
// tick step: 1, 2 or 5 times a power of ten, at most six steps.
func niceAxis(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.2
	}
	p := math.Pow(10, math.Floor(math.Log10(v/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * p; math.Ceil(v/step) <= 6 {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

func (p panel) px(flows float64) float64 {
	return p.left + (math.Log10(flows)-math.Log10(p.xMin))/(math.Log10(p.xMax)-math.Log10(p.xMin))*panelWidth
}

func (p panel) py(v float64) float64 {
	return panelTop + panelHeight - v/p.yMax*panelHeight
}

func (p panel) draw(b *strings.Builder) {
	var step float64
	p.yMax, step = niceAxis(p.yMax)
	fmt.Fprintf(b, `<text x="%.0f" y="%d" font-weight="bold">%s</text>`+"\n", p.left, panelTop-12, html.EscapeString(p.title))
	fmt.Fprintf(b, `<rect x="%.0f" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", p.left, panelTop, panelWidth, panelHeight)
	for v := 0.0; v <= p.yMax+step/2; v += step {
		y := p.py(v)
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`+"\n", p.left, y, p.left+panelWidth, y)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", p.left-6, y+4, trimFloat(v))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle" transform="rotate(-90 %.0f %d)">%s</text>`+"\n",
		p.left-45, panelTop+panelHeight/2, p.left-45, panelTop+panelHeight/2, p.unit)
	for f := p.xMin; f <= p.xMax*1.001; f *= 10 {
		x := p.px(f)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, panelTop, x, panelTop+panelHeight)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, panelTop+panelHeight+16, flowsLabel(f))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle">concurrent flows</text>`+"\n", p.left+panelWidth/2, panelTop+panelHeight+34)
	if p.goal > 0 {
		y := p.py(p.goal)
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#c33" stroke-dasharray="6 4"/>`+"\n", p.left, y, p.left+panelWidth, y)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" fill="#c33">%s</text>`+"\n", p.left+4, y+14, p.goalLabel)
	}
	for i, s := range p.series {
		var pts []string
		for _, pt := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.px(pt[0]), p.py(pt[1])))
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.color)
		for _, pt := range s.points {
			x, y := p.px(pt[0]), p.py(pt[1])
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x, y, s.color)
			// The first series is labelled above its points, the others below.
			ly := y - 8
			if i > 0 {
				ly = y + 18
			}
			label := trimFloat(pt[1])
			if p.unit == "%" {
				label = fmt.Sprintf("%.0f", pt[1])
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`+"\n", x, ly, s.color, label)
		}
		ly := panelTop + panelHeight + 52 + 16*i
		fmt.Fprintf(b, `<line x1="%.0f" y1="%d" x2="%.0f" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", p.left, ly-4, p.left+24, ly-4, s.color)
		fmt.Fprintf(b, `<text x="%.0f" y="%d">%s</text>`+"\n", p.left+30, ly, html.EscapeString(s.name))
	}
}

func flowsLabel(f float64) string {
	switch {
	case f >= 1e6:
		return trimFloat(f/1e6) + "M"
	case f >= 1e3:
		return trimFloat(f/1e3) + "k"
	}
	return trimFloat(f)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
