package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	rpprof "runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/stress"
	"github.com/dualdb/dualdb/metrics"
)

// This file is the glue of `dualdb stress`: flags, the store, the HTTP
// servers, the progress line and the results table. The workload, the
// checker, the naive store and the histogram are package internal/stress.

// stressConfig holds the flags of `dualdb stress`.
type stressConfig struct {
	dir           string
	duration      time.Duration
	workers       int
	keys          int
	valueSize     int
	pprofAddr     string
	metricsAddr   string
	listenAny     bool
	naive         bool
	noSync        bool
	checkEvery    time.Duration
	orderCheck    time.Duration
	checkpoint    int
	mutexFraction int
	blockRate     int
	seed          uint64
	json          bool
	mix           string
	cpuProfile    string
	memProfile    string
}

func newStressCmd() *cobra.Command {
	c := stressConfig{}
	cmd := &cobra.Command{
		Use:   "stress DIR",
		Short: "Run a concurrent workload against a new store and check it online",
		Long: `stress creates a store in DIR (which must be new or empty), loads --keys
records and runs --workers goroutines for --duration doing Puts (put: 20%),
multi-record Updates that swap index keys between two records (update: 15%),
Gets (get: 25%), GetByIndex lookups (get-index: 25%) and scans of 50 records
by key (scan-key: 8%) and by index (scan-index: 7%); --mix changes the
shares. Each write is one commit. Meanwhile an online checker counts
every inconsistent observation:

  index       GetByIndex(x) returned a record whose index key is not x
  key         Get(k) returned another record, or none
  torn        a record carrying a transaction's temporary index key, or a
              value written for another index key: part of a transaction seen
  order       a scan or a snapshot out of order
  snapshot    a snapshot whose two indexes disagree
  ordercheck  the store's own online order check (--order-check) failed

At the end it prints ops/s and p50/p99/p99.9 latency per operation kind
and for all the workers' operations together (total, without the
checker's), the process's CPU time, the commits and how many shared each
WAL transaction, and the violation count. It exits 1 if there was any
violation (2 on an error). The store is left in DIR: dualdb verify DIR
checks it.

--naive runs the same workload and checker against two Go maps behind two
locks (no DIR needed), the design dualdb replaces: watch the violations.

--metrics ADDR serves Prometheus metrics on http://ADDR/metrics and --pprof
ADDR serves net/http/pprof on http://ADDR/debug/pprof/ while the workload
runs (port 0 picks a free port; the address is printed). Both listen on
loopback only unless --listen-any is given; a missing host means 127.0.0.1.
With --pprof, stress also turns on the mutex and block profiles for the
run (--mutex-profile-fraction, --block-profile-rate); without it they stay
off, since their sampling costs the workload time and nobody could read them.
--cpu-profile FILE and --mem-profile FILE write a CPU profile of the timed
run and an allocation profile at its end, for go tool pprof.

--no-sync opens the store with NoSync (commits are written, not fsynced):
the setting to compare with stores that keep everything in memory.
Throughput is every worker operation (the checker's excluded) over the
timed run; latencies are of every operation, one clock reading before and
one after it, kept per worker without locks.

Ctrl-C ends the run early and still prints the results.`,
		Example: `  dualdb stress /tmp/s1 --duration 10s --workers 50
  dualdb stress --naive --duration 5s
  dualdb stress /tmp/s2 --duration 60s --pprof 127.0.0.1:6060 --metrics 127.0.0.1:9464
  dualdb stress /tmp/s3 --duration 20s --workers 64 --no-sync --json --cpu-profile cpu.pb.gz`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usageErr("stress takes one directory, got %d arguments", len(args))
			case len(args) == 1:
				c.dir = args[0]
			case !c.naive:
				return usageErr("stress needs a directory for the store (or --naive)")
			}
			if c.workers < 1 || c.keys < 2 || c.duration <= 0 || c.valueSize < 0 || c.checkEvery <= 0 {
				return usageErr("--workers must be >= 1, --keys >= 2, --duration and --check-every > 0, --value-size >= 0")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runStress(ctx, c, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&c.duration, "duration", 10*time.Second, "how long the workload runs")
	f.IntVar(&c.workers, "workers", 50, "concurrent worker goroutines")
	f.IntVar(&c.keys, "keys", 10000, "records loaded before the run; the workers pick keys among them")
	f.IntVar(&c.valueSize, "value-size", 100, "bytes per value (at least what the checker writes into it)")
	f.StringVar(&c.pprofAddr, "pprof", "", "serve net/http/pprof on this address (host:port)")
	f.StringVar(&c.metricsAddr, "metrics", "", "serve Prometheus /metrics on this address (host:port)")
	f.BoolVar(&c.listenAny, "listen-any", false, "allow --pprof and --metrics on non-loopback addresses")
	f.BoolVar(&c.naive, "naive", false, "stress two maps behind two locks instead of a dualdb store")
	f.BoolVar(&c.noSync, "no-sync", false, "open the store with NoSync: no fsync per commit")
	f.DurationVar(&c.checkEvery, "check-every", 100*time.Millisecond, "interval of the checker's full snapshot comparison")
	f.DurationVar(&c.orderCheck, "order-check", time.Second, "interval of the store's own online order check (0: off)")
	f.IntVar(&c.checkpoint, "checkpoint-every", 5000, "WAL records between automatic checkpoints (<0: never)")
	f.IntVar(&c.mutexFraction, "mutex-profile-fraction", 10, "with --pprof: runtime.SetMutexProfileFraction during the run (0: off)")
	f.IntVar(&c.blockRate, "block-profile-rate", 10000, "with --pprof: runtime.SetBlockProfileRate during the run, in ns (0: off)")
	f.StringVar(&c.cpuProfile, "cpu-profile", "", "write a CPU profile of the timed run to this file")
	f.StringVar(&c.memProfile, "mem-profile", "", "write an allocation profile to this file at the end of the run")
	f.Uint64Var(&c.seed, "seed", 0, "seed of the workers' random choices (0: from the clock)")
	f.StringVar(&c.mix, "mix", stress.DefaultMix.String(), "percent of each kind of operation, adding up to 100 (a kind left out: 0)")
	f.BoolVar(&c.json, "json", false, "print the results as one JSON object")
	return cmd
}

func runStress(ctx context.Context, c stressConfig, stdout, stderr io.Writer) (err error) {
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt)
	defer cancel()
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	pprofAddr, metricsAddr, err := c.listenAddrs()
	if err != nil {
		return err
	}
	mix, err := stress.ParseMix(c.mix)
	if err != nil {
		return usageErr("--%v", err)
	}
	run, err := stress.New(stress.Config{
		Workers: c.workers, Keys: c.keys, ValueSize: c.valueSize, CheckEvery: c.checkEvery, Seed: c.seed, Mix: mix,
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The store.
	var store stress.Store
	if c.naive {
		store = stress.NewNaiveStore()
	} else {
		if err := requireNewDir(c.dir); err != nil {
			return err
		}
		m, err := metrics.New(reg, nil)
		if err != nil {
			return err
		}
		d, err := openStoreWith(c.dir, &db.Options{
			NoSync:             c.noSync,
			CheckpointEvery:    c.checkpoint,
			OrderCheckInterval: max(c.orderCheck, 0),
			Observer:           run.Observer(m),
			Logger:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}, true, stderr)
		if err != nil {
			return err
		}
		m.Attach(d)
		store = stress.NewDBStore(d)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	if err := run.RegisterMetrics(reg); err != nil {
		return err
	}

	// Profiling and metrics servers, up before the load so that a scraper
	// sees the whole run.
	if pprofAddr != "" {
		prevMutex := runtime.SetMutexProfileFraction(c.mutexFraction)
		runtime.SetBlockProfileRate(c.blockRate)
		defer func() {
			runtime.SetMutexProfileFraction(prevMutex)
			runtime.SetBlockProfileRate(0)
		}()
	}
	servers, err := serveStress(pprofAddr, metricsAddr, reg, stderr)
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	if err != nil {
		return err
	}

	writeMem, err := createMemProfile(c.memProfile)
	if err != nil {
		return err
	}
	if err := run.Start(store); err != nil {
		writeMem()
		return err
	}
	stopCPU, err := startCPUProfile(c.cpuProfile)
	if err != nil {
		run.Stop()
		writeMem()
		return err
	}
	if !c.json {
		fmt.Fprintf(stderr, "stress: %s, %d records, %d workers for %s, seed %d, mix %s\n",
			store.Name(), c.keys, c.workers, c.duration, c.seed, mix)
	}
	waitStress(ctx, run, c, stderr)
	res := run.Stop()
	if err := stopCPU(); err != nil {
		return err
	}
	if err := writeMem(); err != nil {
		return err
	}

	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printStress(stdout, res)
	}
	switch {
	case res.Violations > 0:
		return errFindings
	case res.Errors > 0:
		return fmt.Errorf("%d operations failed; first: %w", res.Errors, run.Err())
	}
	return nil
}

// startCPUProfile starts a CPU profile into file ("" for none) and returns
// the function that ends it and closes the file.
func startCPUProfile(file string) (stop func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, wrapErr(err, "--cpu-profile")
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, wrapErr(err, "--cpu-profile %s", file)
	}
	return func() error {
		rpprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return wrapErr(err, "--cpu-profile %s", file)
		}
		return nil
	}, nil
}

// createMemProfile creates file ("" for none) before the run, so that a bad
// path fails early, and returns the function that writes the allocation
// profile into it at the end and closes it.
func createMemProfile(file string) (write func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, wrapErr(err, "--mem-profile")
	}
	return func() error {
		if err := rpprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			f.Close()
			return wrapErr(err, "--mem-profile %s", file)
		}
		if err := f.Close(); err != nil {
			return wrapErr(err, "--mem-profile %s", file)
		}
		return nil
	}, nil
}

// listenAddrs checks --pprof and --metrics: loopback unless --listen-any,
// a missing host meaning 127.0.0.1.
func (c stressConfig) listenAddrs() (pprofAddr, metricsAddr string, err error) {
	check := func(flag, addr string) (string, error) {
		if addr == "" {
			return "", nil
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", usageErr("--%s %s: want host:port (%v)", flag, addr, err)
		}
		if c.listenAny {
			return addr, nil
		}
		switch ip := net.ParseIP(strings.Trim(host, "[]")); {
		case host == "":
			host = "127.0.0.1"
		case host == "localhost":
		case ip == nil || !ip.IsLoopback():
			return "", usageErr("--%s %s: not a loopback address; pass --listen-any to serve on other interfaces", flag, addr)
		}
		return net.JoinHostPort(host, port), nil
	}
	if pprofAddr, err = check("pprof", c.pprofAddr); err != nil {
		return "", "", err
	}
	metricsAddr, err = check("metrics", c.metricsAddr)
	return pprofAddr, metricsAddr, err
}

// requireNewDir refuses a directory with anything in it: stress writes its
// own records and must not touch a real store.
func requireNewDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return wrapErr(err, "%s", dir)
	case len(entries) > 0:
		return userErr(os.ErrExist, "%s is not empty: stress creates its own store; give a new or empty directory", dir)
	}
	return nil
}

// serveStress starts the pprof and metrics servers (one if the addresses
// are equal) and prints their URLs.
func serveStress(pprofAddr, metricsAddr string, reg *prometheus.Registry, stderr io.Writer) ([]*http.Server, error) {
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	var order []string
	if pprofAddr != "" {
		m := mux(pprofAddr)
		m.HandleFunc("/debug/pprof/", pprof.Index)
		m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		m.HandleFunc("/debug/pprof/profile", pprof.Profile)
		m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		m.HandleFunc("/debug/pprof/trace", pprof.Trace)
		order = append(order, pprofAddr)
	}
	if metricsAddr != "" {
		mux(metricsAddr).Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if metricsAddr != pprofAddr {
			order = append(order, metricsAddr)
		}
	}
	var servers []*http.Server
	for _, addr := range order {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return servers, wrapErr(err, "listen on %s", addr)
		}
		bound := ln.Addr().String()
		if addr == pprofAddr {
			fmt.Fprintf(stderr, "stress: pprof on http://%s/debug/pprof/\n", bound)
		}
		if addr == metricsAddr {
			fmt.Fprintf(stderr, "stress: metrics on http://%s/metrics\n", bound)
		}
		s := &http.Server{Handler: muxes[addr], ReadHeaderTimeout: 10 * time.Second}
		go s.Serve(ln) // returns http.ErrServerClosed on Close
		servers = append(servers, s)
	}
	return servers, nil
}

// waitStress shows a progress line until the duration is over, ctx is
// done or the store failed.
func waitStress(ctx context.Context, run *stress.Run, c stressConfig, stderr io.Writer) {
	start := time.Now()
	term := isTerminal(stderr)
	every := 5 * time.Second
	if term {
		every = 500 * time.Millisecond
	}
	if c.json {
		every = time.Duration(math.MaxInt64)
	}
	tick := time.NewTicker(min(every, time.Hour))
	defer tick.Stop()
	end := time.NewTimer(c.duration)
	defer end.Stop()
	var lastOps uint64
	last := start
	line := func(now time.Time) {
		p := run.Progress()
		rate := float64(p.Ops-lastOps) / now.Sub(last).Seconds()
		lastOps, last = p.Ops, now
		msg := fmt.Sprintf("%6.1fs/%s  %s ops  %s ops/s  conflicts %s  errors %s  violations %s",
			now.Sub(start).Seconds(), c.duration, count(p.Ops), count(int64(rate)),
			count(p.Conflicts), count(p.Errors), count(p.Violations))
		if term {
			fmt.Fprintf(stderr, "\r\x1b[K%s", msg)
		} else {
			fmt.Fprintln(stderr, "stress:", msg)
		}
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case now := <-tick.C:
			if run.Failed() {
				break loop // the store failed: no point going on
			}
			if !c.json {
				line(now)
			}
		}
	}
	if term && !c.json {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
}

// printStress prints the results table.
func printStress(w io.Writer, res stress.Results) {
	fmt.Fprintf(w, "%s: %d workers, %s records, %.1fs, seed %d\n\n", res.Store, res.Workers, count(res.Records), res.Seconds, res.Seed)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tops/s\tp50\tp99\tp99.9\t")
	secs := func(s float64) string { return latencyString(time.Duration(s * float64(time.Second))) }
	for _, o := range append(res.Ops, res.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", o.Op, count(o.Count), count(int64(o.PerSecond)), secs(o.P50), secs(o.P99), secs(o.P999))
	}
	tw.Flush()
	fmt.Fprintln(w)
	if res.CPUSeconds > 0 {
		fmt.Fprintf(w, "cpu: %.1fs of process CPU time, %s operations per CPU-second\n",
			res.CPUSeconds, count(int64(float64(res.Total.Count)/res.CPUSeconds)))
	}
	if c := res.Commits; c != nil {
		fmt.Fprintf(w, "commits: %s in %s WAL transactions (%.1f per group commit), %s checkpoints\n",
			count(c.Commits), count(c.WALTransactions), c.PerTransaction, count(c.Checkpoints))
	}
	fmt.Fprintf(w, "\nconflicts: %s (a worker's index key taken by another worker first: expected)\n", count(res.Conflicts))
	if res.Errors > 0 {
		fmt.Fprintf(w, "errors: %s; first: %s\n", count(res.Errors), res.FirstError)
	}
	var kinds []string
	for k := range stress.NumViolations {
		if n := res.ByKind[k.String()]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %s", k, count(n)))
		}
	}
	if res.Violations == 0 {
		fmt.Fprintln(w, "violations: 0")
		return
	}
	fmt.Fprintf(w, "violations: %s (%s)\n", count(res.Violations), strings.Join(kinds, ", "))
	for _, e := range res.Examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// latencyString shows d with three significant digits: 850ns, 12.3µs, 4.56ms, 1.20s.
func latencyString(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}
