package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// formatValue prints v with about three significant digits.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func cellText(c *Cell) string {
	switch {
	case c == nil:
		return "-"
	case c.Err != "":
		return "ERROR"
	case c.NA != "":
		return "n/a " + c.Tag
	}
	return formatValue(c.Value) + " " + c.Tag
}

// writeTable prints the results as a text table with one column per engine,
// the physical limit and dualdb's ratio to the best peer.
func writeTable(w io.Writer, res *Results) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"workload", "unit"}
	for _, e := range res.Engines {
		head = append(head, e.Name)
	}
	head = append(head, "limit", "dualdb vs best peer")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range res.Rows {
		line := []string{row.Title, row.Unit}
		for _, e := range res.Engines {
			line = append(line, cellText(row.Cells[e.Name]))
		}
		lim := "-"
		if row.LimitVal != nil {
			lim = formatValue(row.LimitVal.Value)
		}
		ratio := "-"
		if row.Ratio > 0 {
			ratio = fmt.Sprintf("%.2fx vs %s %s", row.Ratio, row.RatioPeer, row.Cells[row.RatioPeer].Tag)
		}
		line = append(line, lim, ratio)
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, `
N=%d records, %v per timed workload, %s on %s, GOMAXPROCS=%d, %s.
Tags: D = commit on stable storage (fsync/fdatasync/msync) before it returns; N = written to files,
no sync per commit; M = memory only, gone at close. O = both keys kept ordered by the engine;
S = sorted at scan time. ns/op = wall time / ops over all goroutines. The ratio compares dualdb with
the best peer on the row (>1 = dualdb better); on rows about writes, load, disk and reopen only
peers with the same durability letter count.
`, res.Config.N, res.Config.Duration, res.DataDir, res.FSType, res.GOMAXPROCS, res.GoVersion)
	for _, e := range res.Engines {
		fmt.Fprintf(w, "  %-7s %s: %s\n", e.Name, e.Version, e.Note)
	}
	for _, k := range []string{"fsync4k", "slicescan", "raw.fixed", "raw.json"} {
		if l := res.Limits[k]; l != nil {
			fmt.Fprintf(w, "  limit %-9s %s %s: %s\n", k, formatValue(l.Value), l.Unit, l.What)
		}
	}
	for _, msg := range res.Warnings {
		fmt.Fprintln(w, "WARNING:", msg)
	}
	for _, msg := range res.Errors() {
		fmt.Fprintln(w, "ERROR:", msg)
	}
	return nil
}

// writeOutputs writes results.json and ratios.svg into dir.
func writeOutputs(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ratios.svg"), []byte(ratioSVG(res)), 0o644)
}

// ratioSVG draws dualdb's ratio to the best peer per row as horizontal bars
// on a log2 scale around 1 (right = dualdb better).
func ratioSVG(res *Results) string {
	const (
		width, rowH, top, labelW = 960, 26, 70, 300
		maxLog                   = 6.0 // 64x either way
	)
	var rows []*Row
	for _, r := range res.Rows {
		if r.Ratio > 0 {
			rows = append(rows, r)
		}
	}
	height := top + rowH*max(len(rows), 1) + 50
	center := float64(labelW) + float64(width-labelW-180)/2
	half := float64(width-labelW-180) / 2
	x := func(ratio float64) float64 {
		l := math.Max(-maxLog, math.Min(maxLog, math.Log2(ratio)))
		return center + l/maxLog*half
	}
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16">%s</text>`+"\n",
		esc(fmt.Sprintf("dualdb vs best peer per workload (N=%d, %s, %s)", res.Config.N, res.FSType, res.Started.Format("2006-01-02"))))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555">%s</text>`+"\n",
		esc("bar right of the line = dualdb better; log2 scale, clipped at 64x; label: ratio, the peer compared and its tag"))
	for _, t := range []struct {
		v     float64
		label string
	}{{1.0 / 64, "1/64x"}, {1.0 / 8, "1/8x"}, {1, "1x"}, {8, "8x"}, {64, "64x"}} {
		stroke := "#ddd"
		if t.v == 1 {
			stroke = "#000"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x(t.v), top-8, x(t.v), height-40, stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(t.v), height-24, t.label)
	}
	if len(rows) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no dualdb ratios in this run</text>`+"\n", labelW, top+16)
	}
	for i, r := range rows {
		y := top + i*rowH
		x1, x2 := center, x(r.Ratio)
		color := "#2a7f3f"
		if x2 < x1 {
			x1, x2, color = x2, x1, "#b03a2e"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-10, y+16, esc(r.Title+" ("+r.Unit+")"))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x1, y+4, math.Max(x2-x1, 1), rowH-8, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", width-175, y+16,
			esc(fmt.Sprintf("%s vs %s %s", formatRatio(r.Ratio), r.RatioPeer, r.Cells[r.RatioPeer].Tag)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func formatRatio(r float64) string {
	if r >= 10 || r < 0.1 {
		if r < 0.1 {
			return fmt.Sprintf("1/%.0fx", 1/r)
		}
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}
