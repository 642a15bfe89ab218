package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuick runs the whole harness on a tiny N over every engine. The
// harness checks the data it reads (whole records by key and by index,
// strictly ordered and complete scans, a bijection after the mixed run and
// after reopening), so any wrong answer shows up as an error cell.
func TestQuick(t *testing.T) {
	cfg := quickConfig()
	cfg.N = 3000
	cfg.Batch = 250
	cfg.Duration = 60 * time.Millisecond
	cfg.Dir = t.TempDir()
	cfg.Out = t.TempDir()
	var log bytes.Buffer
	res, err := run(cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + log.String())
	for _, msg := range res.Errors() {
		t.Error(msg)
	}
	if len(res.Engines) != len(engines) {
		t.Fatalf("ran %d engines, %d registered", len(res.Engines), len(engines))
	}
	if len(res.Rows) != len(metrics) {
		t.Fatalf("%d rows, want %d", len(res.Rows), len(metrics))
	}
	for _, row := range res.Rows {
		for _, e := range res.Engines {
			c := row.Cells[e.Name]
			switch {
			case c == nil:
				t.Errorf("%s %s: no cell", e.Name, row.ID)
			case c.Tag == "":
				t.Errorf("%s %s: no guarantee tag", e.Name, row.ID)
			case c.Err != "":
				// reported above
			case c.NA != "":
				// n/a only where the engine lacks the property the row needs.
				needsDurable := row.Workload == "W1" || row.Workload == "W2"
				needsDisk := row.ID == "w3.disk" || row.ID == "w3j.disk" || row.ID == "w7.reopen"
				if (needsDurable && e.Durable) || (needsDisk && e.Persistent) || (!needsDurable && !needsDisk) {
					t.Errorf("%s %s: n/a (%s) but the engine can run it", e.Name, row.ID, c.NA)
				}
			case c.Value <= 0 && row.ID != "w3.heap" && row.ID != "w3.rss":
				t.Errorf("%s %s: value %v", e.Name, row.ID, c.Value)
			}
		}
	}

	var table bytes.Buffer
	if err := writeTable(&table, res); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	for _, e := range res.Engines {
		if !strings.Contains(table.String(), e.Name) {
			t.Errorf("table lacks column %s", e.Name)
		}
	}
	if err := writeOutputs(cfg.Out, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(back.Rows) != len(res.Rows) || back.Config.N != cfg.N {
		t.Fatalf("results.json round trip: %d rows, N=%d", len(back.Rows), back.Config.N)
	}
	svg, err := os.ReadFile(filepath.Join(cfg.Out, "ratios.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<svg ")) || !bytes.HasSuffix(svg, []byte("</svg>\n")) {
		t.Fatalf("ratios.svg is not an SVG document: %.80q", svg)
	}
}

// TestMainFlags runs the command line on one engine and one workload.
func TestMainFlags(t *testing.T) {
	var out, errb bytes.Buffer
	code := mainErr([]string{"-quick", "-n", "500", "-duration", "20ms", "-engines", "naive",
		"-workloads", "w4,w6", "-dir", t.TempDir(), "-out", ""}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "W4 get by key") || strings.Contains(out.String(), "W1 serial") {
		t.Fatalf("table does not match -workloads:\n%s", out.String())
	}
	if code := mainErr([]string{"-engines", "nosuch", "-out", ""}, &out, &errb); code != 2 {
		t.Fatalf("unknown engine: exit %d, want 2", code)
	}
	if code := mainErr([]string{"-workloads", "W9", "-out", ""}, &out, &errb); code != 2 {
		t.Fatalf("unknown workload: exit %d, want 2", code)
	}
}
