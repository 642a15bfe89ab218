package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
)

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
}

func newStressCmd() *cobra.Command {
	c := stressConfig{}
	cmd := &cobra.Command{
		Use:   "stress DIR",
		Short: "Run a concurrent workload against a new store and check it online",
		Long: `stress creates a store in DIR (which must be new or empty), loads --keys
records and runs --workers goroutines for --duration doing Puts, multi-record
Updates that swap index keys between two records, Gets, GetByIndex lookups
and short scans by key and by index. Meanwhile an online checker counts
every inconsistent observation:

  index       GetByIndex(x) returned a record whose index key is not x
  key         Get(k) returned another record, or none
  torn        a record carrying a transaction's temporary index key, or a
              value written for another index key: part of a transaction seen
  order       a scan or a snapshot out of order
  snapshot    a snapshot whose two indexes disagree
  ordercheck  the store's own online order check (--order-check) failed

At the end it prints ops/s and p50/p99/p99.9 latency per operation kind and
the violation count, and exits 1 if there was any violation (2 on an error).
The store is left in DIR: dualdb verify DIR checks it.

--naive runs the same workload and checker against two Go maps behind two
locks (no DIR needed), the design dualdb replaces: watch the violations.

--metrics ADDR serves Prometheus metrics on http://ADDR/metrics and --pprof
ADDR serves net/http/pprof on http://ADDR/debug/pprof/ while the workload
runs (port 0 picks a free port; the address is printed). Both listen on
loopback only unless --listen-any is given; a missing host means 127.0.0.1.
stress sets the mutex and block profile rates for the run.

Ctrl-C ends the run early and still prints the results.`,
		Example: `  dualdb stress /tmp/s1 --duration 10s --workers 50
  dualdb stress --naive --duration 5s
  dualdb stress /tmp/s2 --duration 60s --pprof 127.0.0.1:6060 --metrics 127.0.0.1:9464`,
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
	f.IntVar(&c.mutexFraction, "mutex-profile-fraction", 10, "runtime.SetMutexProfileFraction during the run (0: off)")
	f.IntVar(&c.blockRate, "block-profile-rate", 10000, "runtime.SetBlockProfileRate during the run, in ns (0: off)")
	f.Uint64Var(&c.seed, "seed", 0, "seed of the workers' random choices (0: from the clock)")
	f.BoolVar(&c.json, "json", false, "print the results as one JSON object")
	return cmd
}

// stressStore is what the workload and the checker drive: a dualdb store
// or the naive two-map design.
type stressStore interface {
	Name() string
	Version() uint64 // the newest version a reader sees, 0 if the store has none
	// Put stores one record; an index key owned by another record is an
	// error wrapping db.ErrConflict.
	Put(key, index, value []byte) error
	// Swap exchanges the index keys of records a and b in one update: b is
	// parked on tmp, a takes b's index key, b takes a's. val makes the
	// value stored with an index key.
	Swap(a, b, tmp []byte, val func(index []byte) []byte) error
	Get(key []byte) (db.Record, bool, error)
	GetByIndex(index []byte) (db.Record, bool, error)
	// Scan yields up to limit records from from on, by key or by index key.
	Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error
	// Snapshot returns one read view walked by key and by index key.
	Snapshot() (version uint64, byKey, byIndex []db.Record, err error)
	Close() error
}

// dualStore is a stressStore on a dualdb store.
type dualStore struct{ d *db.DB }

func (s dualStore) Name() string    { return "dualdb " + s.d.Dir() }
func (s dualStore) Version() uint64 { return s.d.Version() }
func (s dualStore) Close() error    { return s.d.Close() }

func (s dualStore) Put(key, index, value []byte) error { return s.d.Put(key, index, value) }

func (s dualStore) Swap(a, b, tmp []byte, val func([]byte) []byte) error {
	return s.d.Update(func(tx *db.Tx) error {
		ra, err := tx.Get(a)
		if err != nil {
			return err
		}
		rb, err := tx.Get(b)
		if err != nil {
			return err
		}
		if err := tx.Put(b, tmp, val(tmp)); err != nil {
			return err
		}
		if err := tx.Put(a, rb.Index, val(rb.Index)); err != nil {
			return err
		}
		return tx.Put(b, ra.Index, val(ra.Index))
	})
}

func (s dualStore) Get(key []byte) (db.Record, bool, error) {
	r, err := s.d.Get(key)
	return found(r, err)
}

func (s dualStore) GetByIndex(index []byte) (db.Record, bool, error) {
	r, err := s.d.GetByIndex(index)
	return found(r, err)
}

func found(r db.Record, err error) (db.Record, bool, error) {
	if errors.Is(err, db.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

func (s dualStore) Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error {
	snap := s.d.Snapshot()
	seq := snap.Ascend(from, nil)
	if byIndex {
		seq = snap.AscendIndex(from, nil)
	}
	n := 0
	for r := range seq {
		if n == limit || !fn(r) {
			break
		}
		n++
	}
	return nil
}

func (s dualStore) Snapshot() (uint64, []db.Record, []db.Record, error) {
	snap := s.d.Snapshot()
	byKey := make([]db.Record, 0, snap.Len())
	for r := range snap.Ascend(nil, nil) {
		byKey = append(byKey, r)
	}
	byIndex := make([]db.Record, 0, snap.Len())
	for r := range snap.AscendIndex(nil, nil) {
		byIndex = append(byIndex, r)
	}
	return snap.Version(), byKey, byIndex, nil
}

// Operation kinds, in the order of the results table.
type opKind int

const (
	opPut opKind = iota
	opUpdate
	opGet
	opGetIndex
	opScanKey
	opScanIndex
	opCheck // the checker's snapshot comparisons
	numOps
)

var opNames = [numOps]string{"put", "update", "get", "get-index", "scan-key", "scan-index", "check"}

// Kinds of violation: inconsistent observations.
type violationKind int

const (
	vIndex violationKind = iota
	vKey
	vTorn
	vOrder
	vSnapshot
	vOrderCheck
	numViolations
)

var violationNames = [numViolations]string{"index", "key", "torn", "order", "snapshot", "ordercheck"}

// examplesPerKind caps the violations of one kind described in the
// results.
const examplesPerKind = 3

// violations counts inconsistent observations and keeps a few examples.
type violations struct {
	counts   [numViolations]atomic.Uint64
	mu       sync.Mutex // guards examples
	examples []string
}

func (v *violations) add(kind violationKind, format string, args ...any) {
	if v.counts[kind].Add(1) > examplesPerKind {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.examples = append(v.examples, violationNames[kind]+": "+fmt.Sprintf(format, args...))
}

func (v *violations) total() uint64 {
	var n uint64
	for i := range v.counts {
		n += v.counts[i].Load()
	}
	return n
}

// stressObserver passes events to the metrics Collector and counts failed
// online order checks of the store as violations.
type stressObserver struct {
	*metrics.Collector
	v *violations
}

func (o stressObserver) OrderCheck(ev db.OrderCheckEvent) {
	o.Collector.OrderCheck(ev)
	if len(ev.Findings) > 0 {
		o.v.add(vOrderCheck, "version %d: %s", ev.Version, strings.Join(ev.Findings, "; "))
	}
}

// tally is one goroutine's counts and latencies. counts and errs are read
// by the progress line and /metrics while it runs; lat only afterwards.
type tally struct {
	counts [numOps]atomic.Uint64
	errs   atomic.Uint64
	lat    [numOps]latencies
}

// stressRun is one run's shared state.
type stressRun struct {
	cfg       stressConfig
	store     stressStore
	v         violations
	tallies   []*tally // one per worker, then the checker's
	conflicts atomic.Uint64
	stop      atomic.Bool
	errMu     sync.Mutex // guards firstErr
	firstErr  error
}

func (r *stressRun) fail(err error) {
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
	if errors.Is(err, db.ErrFailed) || errors.Is(err, db.ErrClosed) {
		r.stop.Store(true) // the store cannot go on
	}
}

func (r *stressRun) sum(op opKind) uint64 {
	var n uint64
	for _, t := range r.tallies {
		n += t.counts[op].Load()
	}
	return n
}

func (r *stressRun) errors() uint64 {
	var n uint64
	for _, t := range r.tallies {
		n += t.errs.Load()
	}
	return n
}

// Record layout: key "k/%08d"; index key "x/%08d" when loaded, then fresh
// "x/w%03d-%d" keys from workers and "tmp/w%03d-%d" while a swap parks a
// record; the value starts with "idx=<index key>;" so that a record
// carrying a value written for another index key is seen.
func stressKey(i int) []byte { return fmt.Appendf(nil, "k/%08d", i) }

const tmpPrefix = "tmp/"

func valueFor(index []byte, size int, tag string) []byte {
	v := make([]byte, 0, max(size, len(index)+len(tag)+6))
	v = append(v, "idx="...)
	v = append(v, index...)
	v = append(v, ';')
	v = append(v, tag...)
	for len(v) < size {
		v = append(v, '.')
	}
	return v
}

func valueMatches(r db.Record) bool {
	return len(r.Value) >= len(r.Index)+5 && string(r.Value[:4]) == "idx=" &&
		bytes.Equal(r.Value[4:4+len(r.Index)], r.Index) && r.Value[4+len(r.Index)] == ';'
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
	run := &stressRun{cfg: c}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The store.
	if c.naive {
		run.store = newNaiveStore()
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
			Observer:           stressObserver{Collector: m, v: &run.v},
			Logger:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}, true, stderr)
		if err != nil {
			return err
		}
		m.Attach(d)
		run.store = dualStore{d}
	}
	defer func() {
		if cerr := run.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	run.tallies = make([]*tally, c.workers+1)
	for i := range run.tallies {
		run.tallies[i] = new(tally)
	}
	run.registerMetrics(reg)

	// Profiling and metrics servers, up before the load so that a scraper
	// sees the whole run.
	prevMutex := runtime.SetMutexProfileFraction(c.mutexFraction)
	runtime.SetBlockProfileRate(c.blockRate)
	defer func() {
		runtime.SetMutexProfileFraction(prevMutex)
		runtime.SetBlockProfileRate(0)
	}()
	servers, err := serveStress(pprofAddr, metricsAddr, reg, stderr)
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	if err != nil {
		return err
	}

	if err := run.load(); err != nil {
		return fmt.Errorf("load %d records: %w", c.keys, err)
	}
	if !c.json {
		fmt.Fprintf(stderr, "stress: %s, %d records, %d workers for %s, seed %d\n",
			run.store.Name(), c.keys, c.workers, c.duration, c.seed)
	}

	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.worker(w)
		}()
	}
	checkDone := make(chan struct{})
	go func() {
		defer close(checkDone)
		run.checker()
	}()
	run.wait(ctx, start, stderr)
	run.stop.Store(true)
	wg.Wait()
	<-checkDone
	elapsed := time.Since(start)

	res := run.results(elapsed)
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		res.print(stdout)
	}
	switch {
	case res.Violations > 0:
		return errFindings
	case res.Errors > 0:
		return fmt.Errorf("%d operations failed; first: %w", res.Errors, run.firstErr)
	}
	return nil
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
		return userErr(err, "%s: %s", dir, errText(err))
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
			return servers, userErr(err, "listen on %s: %s", addr, errText(err))
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

// registerMetrics exports the workload's own counters.
func (r *stressRun) registerMetrics(reg *prometheus.Registry) {
	for op := range numOps {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "ops_total",
			Help:        "Operations done by dualdb stress, by kind.",
			ConstLabels: prometheus.Labels{"op": opNames[op]},
		}, func() float64 { return float64(r.sum(op)) }))
	}
	for k := range numViolations {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "violations_total",
			Help:        "Inconsistent observations counted by the dualdb stress checker, by kind.",
			ConstLabels: prometheus.Labels{"kind": violationNames[k]},
		}, func() float64 { return float64(r.v.counts[k].Load()) }))
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "dualdb", Subsystem: "stress", Name: "conflicts_total",
		Help: "Puts refused because another worker had taken the index key (expected).",
	}, func() float64 { return float64(r.conflicts.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "dualdb", Subsystem: "stress", Name: "errors_total",
		Help: "Operations of dualdb stress that failed with an error.",
	}, func() float64 { return float64(r.errors()) }))
}

// load stores keys records, in batches for dualdb.
func (r *stressRun) load() error {
	const batch = 1000
	for lo := 0; lo < r.cfg.keys; lo += batch {
		hi := min(lo+batch, r.cfg.keys)
		if s, ok := r.store.(dualStore); ok {
			err := s.d.Update(func(tx *db.Tx) error {
				for i := lo; i < hi; i++ {
					x := fmt.Appendf(nil, "x/%08d", i)
					if err := tx.Put(stressKey(i), x, valueFor(x, r.cfg.valueSize, "load")); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			continue
		}
		for i := lo; i < hi; i++ {
			x := fmt.Appendf(nil, "x/%08d", i)
			if err := r.store.Put(stressKey(i), x, valueFor(x, r.cfg.valueSize, "load")); err != nil {
				return err
			}
		}
	}
	return nil
}

// wait shows a progress line until the duration is over or ctx is done.
func (r *stressRun) wait(ctx context.Context, start time.Time, stderr io.Writer) {
	term := isTerminal(stderr)
	every := 5 * time.Second
	if term {
		every = 500 * time.Millisecond
	}
	if r.cfg.json {
		every = time.Duration(math.MaxInt64)
	}
	tick := time.NewTicker(min(every, time.Hour))
	defer tick.Stop()
	end := time.NewTimer(r.cfg.duration)
	defer end.Stop()
	var lastOps uint64
	last := start
	line := func(now time.Time) {
		var ops uint64
		for op := range opCheck {
			ops += r.sum(op)
		}
		rate := float64(ops-lastOps) / now.Sub(last).Seconds()
		lastOps, last = ops, now
		msg := fmt.Sprintf("%6.1fs/%s  %s ops  %s ops/s  conflicts %s  errors %s  violations %s",
			now.Sub(start).Seconds(), r.cfg.duration, count(ops), count(int64(rate)),
			count(r.conflicts.Load()), count(r.errors()), count(r.v.total()))
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
			if r.stop.Load() {
				break loop // the store failed: no point going on
			}
			if !r.cfg.json {
				line(now)
			}
		}
	}
	if term && !r.cfg.json {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
}

// worker runs random operations until the run stops.
func (r *stressRun) worker(id int) {
	t := r.tallies[id]
	rng := rand.New(rand.NewPCG(r.cfg.seed, uint64(id)))
	seq := 0
	tag := func() string {
		seq++
		return fmt.Sprintf("w%03d-%d", id, seq)
	}
	val := func(index []byte) []byte { return valueFor(index, r.cfg.valueSize, "w") }
	randKey := func() []byte { return stressKey(rng.IntN(r.cfg.keys)) }
	for !r.stop.Load() {
		p := rng.IntN(100)
		start := time.Now()
		var op opKind
		var err error
		switch {
		case p < 20:
			op = opPut
			err = r.put(rng, randKey(), tag, val)
		case p < 35:
			op = opUpdate
			a, b := rng.IntN(r.cfg.keys), rng.IntN(r.cfg.keys-1)
			if b >= a {
				b++
			}
			err = r.store.Swap(stressKey(a), stressKey(b), []byte(tmpPrefix+tag()), val)
		case p < 60:
			op = opGet
			err = r.get(randKey())
		case p < 85:
			op = opGetIndex
			err = r.getIndex(randKey())
		case p < 93:
			op = opScanKey
			err = r.scan(false, randKey())
		default:
			op = opScanIndex
			err = r.scan(true, fmt.Appendf(nil, "x/%08d", rng.IntN(r.cfg.keys)))
		}
		t.lat[op].add(time.Since(start))
		t.counts[op].Add(1)
		switch {
		case err == nil:
		case errors.Is(err, db.ErrConflict):
			r.conflicts.Add(1)
		default:
			t.errs.Add(1)
			r.fail(fmt.Errorf("%s: %w", opNames[op], err))
		}
	}
}

// put replaces a record's value, half the time under a fresh index key and
// half the time under the index key it has (which another worker may have
// moved meanwhile: a conflict).
func (r *stressRun) put(rng *rand.Rand, key []byte, tag func() string, val func([]byte) []byte) error {
	var index []byte
	if rng.IntN(2) == 0 {
		index = []byte("x/" + tag())
	} else {
		cur, ok, err := r.store.Get(key)
		if err != nil || !ok {
			return err
		}
		if bytes.HasPrefix(cur.Index, []byte(tmpPrefix)) {
			return nil // seen and counted by get
		}
		index = cur.Index
	}
	return r.store.Put(key, index, val(index))
}

// checkRecord counts what is wrong with a record read by the workload.
func (r *stressRun) checkRecord(what string, rec db.Record) {
	if bytes.HasPrefix(rec.Index, []byte(tmpPrefix)) {
		r.v.add(vTorn, "%s near version %d: record %q carries the temporary index key %q of an unfinished update", what, r.store.Version(), rec.Key, rec.Index)
	} else if !valueMatches(rec) {
		r.v.add(vTorn, "%s near version %d: record %q with index key %q carries a value written for another index key (%.40q)", what, r.store.Version(), rec.Key, rec.Index, rec.Value)
	}
}

func (r *stressRun) get(key []byte) error {
	rec, ok, err := r.store.Get(key)
	switch {
	case err != nil:
		return err
	case !ok:
		r.v.add(vKey, "Get(%q) near version %d found nothing; no record is ever deleted", key, r.store.Version())
	case !bytes.Equal(rec.Key, key):
		r.v.add(vKey, "Get(%q) near version %d returned record %q", key, r.store.Version(), rec.Key)
	default:
		r.checkRecord("Get", rec)
	}
	return nil
}

// getIndex looks a record up by the index key its key had a moment ago.
func (r *stressRun) getIndex(key []byte) error {
	cur, ok, err := r.store.Get(key)
	if err != nil || !ok || bytes.HasPrefix(cur.Index, []byte(tmpPrefix)) {
		return err // counted by get
	}
	rec, ok, err := r.store.GetByIndex(cur.Index)
	switch {
	case err != nil:
		return err
	case !ok:
		// The index key moved on since: not an inconsistency.
	case !bytes.Equal(rec.Index, cur.Index):
		r.v.add(vIndex, "GetByIndex(%q) near version %d returned record %q, which carries index key %q", cur.Index, r.store.Version(), rec.Key, rec.Index)
	default:
		r.checkRecord("GetByIndex", rec)
	}
	return nil
}

// scan reads up to 50 records from from on and checks their order.
func (r *stressRun) scan(byIndex bool, from []byte) error {
	var prev []byte
	field, what := "key", "scan by key"
	if byIndex {
		field, what = "index key", "scan by index"
	}
	return r.store.Scan(byIndex, from, 50, func(rec db.Record) bool {
		cur := rec.Key
		if byIndex {
			cur = rec.Index
		}
		switch {
		case bytes.Compare(cur, from) < 0:
			r.v.add(vOrder, "%s from %q near version %d yielded %s %q, before the start", what, from, r.store.Version(), field, cur)
		case prev != nil && bytes.Compare(cur, prev) <= 0:
			r.v.add(vOrder, "%s near version %d yielded %s %q after %q", what, r.store.Version(), field, cur, prev)
		}
		r.checkRecord(what, rec)
		prev = cur
		return true
	})
}

// checker compares a whole read view, by key and by index key, every
// --check-every until the run stops.
func (r *stressRun) checker() {
	t := r.tallies[len(r.tallies)-1]
	tick := time.NewTicker(r.cfg.checkEvery)
	defer tick.Stop()
	for !r.stop.Load() {
		start := time.Now()
		if err := r.checkSnapshot(); err != nil {
			t.errs.Add(1)
			r.fail(fmt.Errorf("check: %w", err))
		}
		t.lat[opCheck].add(time.Since(start))
		t.counts[opCheck].Add(1)
		<-tick.C
	}
}

// checkSnapshot counts one snapshot violation for a view whose two indexes
// disagree, describing the first disagreement, plus order violations.
func (r *stressRun) checkSnapshot() error {
	version, byKey, byIndex, err := r.store.Snapshot()
	if err != nil {
		return err
	}
	for i := 1; i < len(byKey); i++ {
		if bytes.Compare(byKey[i-1].Key, byKey[i].Key) >= 0 {
			r.v.add(vOrder, "snapshot at version %d: key %q after %q", version, byKey[i].Key, byKey[i-1].Key)
		}
	}
	for i := 1; i < len(byIndex); i++ {
		if bytes.Compare(byIndex[i-1].Index, byIndex[i].Index) >= 0 {
			r.v.add(vOrder, "snapshot at version %d: index key %q after %q", version, byIndex[i].Index, byIndex[i-1].Index)
		}
	}
	var problem string
	indexOf := make(map[string]string, len(byKey))
	for _, rec := range byKey {
		indexOf[string(rec.Key)] = string(rec.Index)
		if bytes.HasPrefix(rec.Index, []byte(tmpPrefix)) {
			r.v.add(vTorn, "snapshot at version %d: record %q carries the temporary index key %q of an unfinished update", version, rec.Key, rec.Index)
		}
	}
	switch {
	case len(byKey) != r.cfg.keys:
		problem = fmt.Sprintf("%d records by key, %d loaded and none deleted", len(byKey), r.cfg.keys)
	case len(byKey) != len(byIndex):
		problem = fmt.Sprintf("%d records by key, %d by index key", len(byKey), len(byIndex))
	}
	for _, rec := range byIndex {
		if problem != "" {
			break
		}
		x, ok := indexOf[string(rec.Key)]
		switch {
		case !ok:
			problem = fmt.Sprintf("index key %q leads to key %q, which has no record", rec.Index, rec.Key)
		case x != string(rec.Index):
			problem = fmt.Sprintf("index key %q leads to record %q, which carries index key %q", rec.Index, rec.Key, x)
		}
	}
	if problem != "" {
		r.v.add(vSnapshot, "snapshot at version %d: %s", version, problem)
	}
	return nil
}

// stressResults are what a run prints, and its --json output.
type stressResults struct {
	Store      string            `json:"store"`
	Workers    int               `json:"workers"`
	Records    int               `json:"records"`
	Seed       uint64            `json:"seed"`
	Seconds    float64           `json:"seconds"`
	Ops        []opResult        `json:"ops"`
	Conflicts  uint64            `json:"conflicts"`
	Errors     uint64            `json:"errors"`
	FirstError string            `json:"first_error,omitempty"`
	Violations uint64            `json:"violations"`
	ByKind     map[string]uint64 `json:"violations_by_kind"`
	Examples   []string          `json:"examples,omitempty"`
}

type opResult struct {
	Op        string  `json:"op"`
	Count     uint64  `json:"count"`
	PerSecond float64 `json:"ops_per_second"`
	P50       float64 `json:"p50_seconds"`
	P99       float64 `json:"p99_seconds"`
	P999      float64 `json:"p999_seconds"`
}

func (r *stressRun) results(elapsed time.Duration) stressResults {
	res := stressResults{
		Store: r.store.Name(), Workers: r.cfg.workers, Records: r.cfg.keys, Seed: r.cfg.seed,
		Seconds: elapsed.Seconds(), Conflicts: r.conflicts.Load(), Errors: r.errors(),
		Violations: r.v.total(), ByKind: map[string]uint64{},
	}
	if r.firstErr != nil {
		res.FirstError = r.firstErr.Error()
	}
	for k := range numViolations {
		res.ByKind[violationNames[k]] = r.v.counts[k].Load()
	}
	r.v.mu.Lock()
	res.Examples = append(res.Examples, r.v.examples...)
	r.v.mu.Unlock()
	for op := range numOps {
		var l latencies
		for _, t := range r.tallies {
			l.merge(&t.lat[op])
		}
		res.Ops = append(res.Ops, opResult{
			Op: opNames[op], Count: l.n, PerSecond: float64(l.n) / elapsed.Seconds(),
			P50: l.quantile(0.5).Seconds(), P99: l.quantile(0.99).Seconds(), P999: l.quantile(0.999).Seconds(),
		})
	}
	return res
}

func (res stressResults) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d workers, %s records, %.1fs, seed %d\n\n", res.Store, res.Workers, count(res.Records), res.Seconds, res.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tops/s\tp50\tp99\tp99.9\t")
	secs := func(s float64) string { return latencyString(time.Duration(s * float64(time.Second))) }
	var total uint64
	for _, o := range res.Ops {
		if o.Op != opNames[opCheck] {
			total += o.Count
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", o.Op, count(o.Count), count(int64(o.PerSecond)), secs(o.P50), secs(o.P99), secs(o.P999))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t\t\t\t\n", count(total), count(int64(float64(total)/res.Seconds)))
	tw.Flush()
	fmt.Fprintf(w, "\nconflicts: %s (a worker's index key taken by another worker first: expected)\n", count(res.Conflicts))
	if res.Errors > 0 {
		fmt.Fprintf(w, "errors: %s; first: %s\n", count(res.Errors), res.FirstError)
	}
	var kinds []string
	for k := range numViolations {
		if n := res.ByKind[violationNames[k]]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %s", violationNames[k], count(n)))
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

// latencies is a log-linear histogram of durations: 32 buckets per power
// of two, so a quantile is within about 3% of the truth, at no allocation
// per sample. One goroutine writes it; merge after it is done.
type latencies struct {
	counts [latBuckets]uint64
	n      uint64
	max    uint64 // nanoseconds
}

const (
	latSubBits = 5
	latSub     = 1 << latSubBits
	latBuckets = (64 - latSubBits - 1 + 2) * latSub
)

// latBucket returns the bucket of v nanoseconds: values below 2*latSub
// have their own bucket, larger ones share a bucket with the values that
// agree in their top latSubBits+1 bits.
func latBucket(v uint64) int {
	if v < 2*latSub {
		return int(v)
	}
	e := bits.Len64(v) - latSubBits - 1
	return e*latSub + int(v>>e)
}

// latRange returns the smallest value of bucket i and the bucket's width.
func latRange(i int) (low, width uint64) {
	if i < 2*latSub {
		return uint64(i), 1
	}
	e := i/latSub - 1
	return uint64(i-e*latSub) << e, 1 << e
}

func (l *latencies) add(d time.Duration) {
	v := uint64(max(d, 0))
	l.counts[latBucket(v)]++
	l.n++
	l.max = max(l.max, v)
}

func (l *latencies) merge(o *latencies) {
	for i, c := range o.counts {
		l.counts[i] += c
	}
	l.n += o.n
	l.max = max(l.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding it, capped at the largest sample.
func (l *latencies) quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(l.n)))
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			low, width := latRange(i)
			return time.Duration(min(low+width/2, l.max))
		}
	}
	return time.Duration(l.max)
}
