package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() { os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr)) }

// mainErr runs the command line; exit codes: 0 ok, 1 a measurement failed
// or returned wrong data, 2 usage or I/O error.
func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small N and short durations (CI): N=20000, 300ms per timed workload")
	n := fs.Int("n", 0, "records loaded for W3-W8 and W3J (default 1000000, 20000 with -quick)")
	dur := fs.Duration("duration", 0, "time per timed workload (default 5s, 300ms with -quick)")
	eng := fs.String("engines", "", "comma-separated engines (default all: "+strings.Join(engineNames(), ",")+")")
	wl := fs.String("workloads", "", "comma-separated workloads (default all: "+strings.Join(allWorkloads, ",")+")")
	dir := fs.String("dir", "", "parent directory for the stores; must be a real disk, not tmpfs (default os.TempDir(), or . if that is tmpfs)")
	out := fs.String("out", "results", "directory for results.json and ratios.svg (\"\" = do not write)")
	seed := fs.Uint64("seed", 1, "data set seed")
	count := fs.Int("count", 1, "rounds over all engines; each cell reports the median (use 3+ on a busy machine)")
	curve := fs.String("curve", "", "comma-separated results directories (or results.json files) of runs at different -n: print how dualdb's costs grow with N and write curve.svg into -out; measures nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *curve != "" {
		if err := runCurve(splitList(*curve), "dualdb", *out, stdout); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 2
		}
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := defaultConfig()
	if *quick {
		cfg = quickConfig()
	}
	if *n > 0 {
		cfg.N = *n
	}
	if *dur > 0 {
		cfg.Duration = *dur
	}
	if *eng != "" {
		cfg.Engines = splitList(*eng)
	}
	if *wl != "" {
		cfg.Workloads = splitList(strings.ToUpper(*wl))
	}
	cfg.Dir, cfg.Out, cfg.Seed, cfg.Count = *dir, *out, *seed, max(*count, 1)
	if cfg.Dir != "" && fsType(cfg.Dir) == "tmpfs" {
		fmt.Fprintf(stderr, "bench: %s is tmpfs: fsync does nothing there, durable figures would be false\n", cfg.Dir)
		return 2
	}
	res, err := run(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if err := writeTable(stdout, res); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if cfg.Out != "" {
		if err := writeOutputs(cfg.Out, res); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 2
		}
		fmt.Fprintf(stderr, "bench: wrote %s/results.json and %s/ratios.svg in %s\n", cfg.Out, cfg.Out, time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond))
	}
	if len(res.Errors()) > 0 {
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func engineNames() []string {
	var out []string
	for _, e := range allEngines() {
		out = append(out, e.Name)
	}
	return out
}
