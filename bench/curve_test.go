package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeResults writes a results.json with dualdb's figures at n.
func writeResults(t *testing.T, n int, load, reopen float64) string {
	t.Helper()
	res := &Results{Config: Config{N: n}}
	for _, id := range []string{"w3.load", "w7.reopen"} {
		v := load
		if id == "w7.reopen" {
			v = reopen
		}
		res.Rows = append(res.Rows, &Row{Metric: metricByID(id), Cells: map[string]*Cell{"dualdb": {Value: v}}})
	}
	dir := t.TempDir()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCurve(t *testing.T) {
	// Given out of order: reopen 1 s at 1M, 3.3 s at 3M is 1.1x linear;
	// the load rate halves.
	big := writeResults(t, 3_000_000, 50_000, 3.3)
	small := writeResults(t, 1_000_000, 100_000, 1.0)
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := runCurve([]string{big, small}, "dualdb", out, &stdout); err != nil {
		t.Fatal(err)
	}
	text := stdout.String()
	for _, want := range []string{"N=1.00M", "N=3.00M", "(1.10x)", "(0.50x)"} {
		if !strings.Contains(text, want) {
			t.Errorf("curve output lacks %q:\n%s", want, text)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "curve.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<polyline")) {
		t.Errorf("curve.svg has no line:\n%s", svg)
	}
}

func TestCurveRefusesDuplicateN(t *testing.T) {
	a := writeResults(t, 1000, 1, 1)
	b := writeResults(t, 1000, 2, 2)
	if err := runCurve([]string{a, b}, "dualdb", "", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "N = 1000") {
		t.Fatalf("want an error naming the duplicate N, got %v", err)
	}
}
