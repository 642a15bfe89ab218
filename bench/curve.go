package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// curveMetrics are the rows -curve follows across store sizes: the costs
// that must grow no faster than the store.
var curveMetrics = []string{"w3.load", "w3.heap", "w3.rss", "w4.get", "w5.getidx", "w6.scankey", "w7.reopen"}

// curvePoint is one engine's figures from one results.json.
type curvePoint struct {
	n      int
	values map[string]float64 // metric id -> value; missing if the run had none
}

// loadCurve reads results.json from each of dirs (or the files themselves)
// and returns engine's figures, ordered by N.
func loadCurve(paths []string, engine string) ([]curvePoint, error) {
	var pts []curvePoint
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, "results.json")
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var res Results
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if res.Config.N <= 0 {
			return nil, fmt.Errorf("%s: no record count (config.n) in the results", p)
		}
		pt := curvePoint{n: res.Config.N, values: map[string]float64{}}
		for _, row := range res.Rows {
			if c := row.Cells[engine]; c.ok() {
				pt.values[row.ID] = c.Value
			}
		}
		if len(pt.values) == 0 {
			return nil, fmt.Errorf("%s: no figures for engine %q", p, engine)
		}
		pts = append(pts, pt)
	}
	slices.SortFunc(pts, func(a, b curvePoint) int { return a.n - b.n })
	for i := 1; i < len(pts); i++ {
		if pts[i].n == pts[i-1].n {
			return nil, fmt.Errorf("two results with N = %d", pts[i].n)
		}
	}
	return pts, nil
}

// curveRatio is the growth of a metric from the first point to pt, divided
// by the growth of N: 1 means linear (a per-record or rate figure that
// stays flat, a total time that grows with N).
func curveRatio(id string, first, pt curvePoint) (float64, bool) {
	a, okA := first.values[id]
	b, okB := pt.values[id]
	if !okA || !okB || a == 0 {
		return 0, false
	}
	if id == "w7.reopen" { // a total: compare with the growth of N
		return (b / a) / (float64(pt.n) / float64(first.n)), true
	}
	return b / a, true
}

// writeCurve prints, per metric, the value at each N and its ratio to the
// smallest N (for reopen: time ratio over N ratio).
func writeCurve(w io.Writer, engine string, pts []curvePoint) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s as the store grows (ratio: value / value at N=%d; reopen: time ratio / N ratio)\n", engine, pts[0].n)
	fmt.Fprintf(&b, "%-28s %-10s", "metric", "unit")
	for _, p := range pts {
		fmt.Fprintf(&b, " %16s", fmt.Sprintf("N=%s", formatValue(float64(p.n))))
	}
	b.WriteString("\n")
	for _, id := range curveMetrics {
		m := metricByID(id)
		fmt.Fprintf(&b, "%-28s %-10s", m.Title, m.Unit)
		for _, p := range pts {
			v, ok := p.values[id]
			if !ok {
				fmt.Fprintf(&b, " %16s", "-")
				continue
			}
			cell := formatValue(v)
			if r, ok := curveRatio(id, pts[0], p); ok && p.n != pts[0].n {
				cell += fmt.Sprintf(" (%.2fx)", r)
			}
			fmt.Fprintf(&b, " %16s", cell)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func metricByID(id string) Metric {
	for _, m := range metrics {
		if m.ID == id {
			return m
		}
	}
	return Metric{ID: id, Title: id}
}

// curveSVG draws each metric's ratio to the smallest N against N (log
// scale), one line per metric; a flat line at 1 is linear cost.
func curveSVG(engine string, pts []curvePoint) string {
	const width, height, left, right, top, bottom = 760, 420, 70, 220, 60, 50
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	minN, maxN := float64(pts[0].n), float64(pts[len(pts)-1].n)
	x := func(n float64) float64 {
		if maxN == minN {
			return float64(left)
		}
		return float64(left) + math.Log(n/minN)/math.Log(maxN/minN)*plotW
	}
	const lo, hi = 0.25, 4.0 // ratio axis, log2
	y := func(r float64) float64 {
		r = math.Max(lo, math.Min(hi, r))
		return float64(top) + (math.Log2(hi)-math.Log2(r))/(math.Log2(hi)-math.Log2(lo))*plotH
	}
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"}
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16">%s</text>`+"\n", esc(engine+": cost as the store grows"))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555">%s</text>`+"\n",
		esc(fmt.Sprintf("value / value at N=%s (reopen: time ratio / N ratio); 1 = linear; log scales", formatValue(minN))))
	for _, r := range []float64{0.25, 0.5, 1, 2, 4} {
		stroke := "#ddd"
		if r == 1 {
			stroke = "#000"
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, y(r), float64(left)+plotW, y(r), stroke)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%gx</text>`+"\n", left-6, y(r)+4, r)
	}
	for _, p := range pts {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">N=%s</text>`+"\n", x(float64(p.n)), height-bottom+20, formatValue(float64(p.n)))
	}
	for i, id := range curveMetrics {
		var line []string
		for _, p := range pts {
			if r, ok := curveRatio(id, pts[0], p); ok {
				line = append(line, fmt.Sprintf("%.1f,%.1f", x(float64(p.n)), y(r)))
			}
		}
		if len(line) == 0 {
			continue
		}
		c := colors[i%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(line, " "))
		m := metricByID(id)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", width-right+10, top+16*i+4, c, esc(m.Title))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// runCurve is the -curve mode: no measurement, only the reading of earlier
// results at several N.
func runCurve(paths []string, engine, out string, stdout io.Writer) error {
	pts, err := loadCurve(paths, engine)
	if err != nil {
		return err
	}
	if err := writeCurve(stdout, engine, pts); err != nil {
		return err
	}
	if out == "" {
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "curve.svg"), []byte(curveSVG(engine, pts)), 0o644)
}
