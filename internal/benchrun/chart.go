package benchrun

import (
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// Net_null section geometry: one bar per row of vec-bench's results.
const (
	netNullTop    = chartHeight + 20 // its title's baseline
	netNullRow    = 20
	netNullBarX   = 430
	netNullBarMax = 220
)

// WriteChart draws the tcp cases as an SVG file: packet rate against flow
// count for testpmd (io and mac forwarding) and vecd, and vecd's ratios to
// both; below, when the report includes vec-bench's net_null results, a
// bar per row of those.
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
	nn := r.NetNullRows()
	height := chartHeight
	if len(nn) > 0 {
		height = netNullTop + netNullRow*(len(nn)+1)
	}
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
	drawNetNull(&b, nn)
	b.WriteString("</svg>\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// drawNetNull draws a bar per net_null row, its length the row's packet
// rate against the largest, labelled with the rate, its ratio to testpmd
// io-fwd on net_null, and the new connections per second or the ratio to
// one worker where the row has them.
func drawNetNull(b *strings.Builder, rows []NetNullRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", leftPanelX, netNullTop,
		"vec-bench on net_null, one process per row: Mpps, and the ratio to testpmd io-fwd measured in the same run")
	top := 0.0
	for _, row := range rows {
		top = max(top, row.Result.Mpps)
	}
	for i, row := range rows {
		y := netNullTop + netNullRow*(i+1)
		w := 0.0
		if top > 0 {
			w = row.Result.Mpps / top * netNullBarMax
		}
		label := fmt.Sprintf("%.2f Mpps, %.2f of testpmd", row.Result.Mpps, row.VsTestpmd)
		if row.VsOneWorker > 0 {
			label += fmt.Sprintf(", %.2f × one worker", row.VsOneWorker)
		}
		if row.Result.NewConnsPerSec > 0 {
			label += fmt.Sprintf(", %.2f M new conn/s", row.Result.NewConnsPerSec/1e6)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", leftPanelX, y, html.EscapeString(row.Name))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#1f5fbf"/>`+"\n", netNullBarX, y-11, w, netNullRow-6)
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", netNullBarX+w+6, y, html.EscapeString(label))
	}
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
