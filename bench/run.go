package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Config is one run's settings; results.json records it.
type Config struct {
	N         int           `json:"n"`        // records loaded for W3-W8
	Duration  time.Duration `json:"duration"` // each timed workload
	Engines   []string      `json:"engines"`
	Workloads []string      `json:"workloads"`
	Dir       string        `json:"dir"` // parent of the stores' temp directories
	Out       string        `json:"out"` // where results.json and ratios.svg go; "" = nowhere
	Seed      uint64        `json:"seed"`
	Batch     int           `json:"batch"`   // W3 records per commit
	Writers   int           `json:"writers"` // W2 goroutines
	Readers   int           `json:"readers"` // W4, W5, W8 reader goroutines
	Count     int           `json:"count"`   // rounds; each cell reports the median
	Quick     bool          `json:"quick"`
}

func defaultConfig() Config {
	return Config{
		N:         1_000_000,
		Duration:  5 * time.Second,
		Workloads: slices.Clone(allWorkloads),
		Seed:      1,
		Batch:     1000,
		Writers:   64,
		Readers:   2,
		Count:     1,
	}
}

// quickConfig is the CI setting: a few seconds per engine.
func quickConfig() Config {
	c := defaultConfig()
	c.N = 20_000
	c.Duration = 300 * time.Millisecond
	c.Quick = true
	return c
}

func (c *Config) has(workload string) bool { return slices.Contains(c.Workloads, workload) }

// run measures every selected engine and returns the results. Progress goes
// to log. Failures of one engine are recorded in its cells; run returns an
// error only when it cannot run at all.
func run(cfg Config, log io.Writer) (*Results, error) {
	start := time.Now()
	for _, w := range cfg.Workloads {
		if !slices.Contains(allWorkloads, w) {
			return nil, fmt.Errorf("unknown workload %q (have %s)", w, strings.Join(allWorkloads, ","))
		}
	}
	var sel []Engine
	if len(cfg.Engines) == 0 {
		sel = allEngines()
	} else {
		for _, name := range cfg.Engines {
			e, ok := findEngine(name)
			if !ok {
				var have []string
				for _, e := range allEngines() {
					have = append(have, e.Name)
				}
				return nil, fmt.Errorf("unknown engine %q (have %s)", name, strings.Join(have, ","))
			}
			sel = append(sel, e)
		}
	}
	base := cfg.Dir
	if base == "" {
		base = os.TempDir()
		if fsType(base) == "tmpfs" {
			base = "."
		}
	}
	dataDir, err := os.MkdirTemp(base, "dualdb-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)

	res := &Results{
		Started:    start,
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Config:     cfg,
		DataDir:    dataDir,
		FSType:     fsType(dataDir),
		Limits:     map[string]*Limit{},
	}
	if res.FSType == "tmpfs" {
		res.Warnings = append(res.Warnings, "data directory is on tmpfs: fsync does nothing, durable rows are not durable")
	}
	for _, e := range sel {
		res.Engines = append(res.Engines, EngineInfo{
			Name: e.Name, Version: moduleVersion(e.Module), Persistent: e.Persistent,
			Durable: e.Durable, Ordered: e.Ordered, OffHeap: e.OffHeap, Note: e.Note,
		})
	}
	rows := func() []*Row {
		var out []*Row
		for _, m := range metrics {
			if cfg.has(m.Workload) {
				out = append(out, &Row{Metric: m, Cells: map[string]*Cell{}})
			}
		}
		return out
	}
	res.Rows = rows()
	fmt.Fprintf(log, "bench: N=%d duration=%v count=%d data=%s (%s) GOMAXPROCS=%d\n",
		cfg.N, cfg.Duration, cfg.Count, dataDir, res.FSType, res.GOMAXPROCS)

	var rounds []*Results
	for round := range max(cfg.Count, 1) {
		rd := &Results{Engines: res.Engines, Rows: rows(), Limits: map[string]*Limit{}}
		measureLimits(cfg, dataDir, rd, log)
		for _, e := range sel {
			dir := filepath.Join(dataDir, e.Name)
			t := time.Now()
			rd.LoadAvg = append(rd.LoadAvg, loadAvg())
			runEngine(cfg, e, dir, rd, log)
			if err := os.RemoveAll(dir); err != nil {
				rd.Warnings = append(rd.Warnings, fmt.Sprintf("%s: remove %s: %v", e.Name, dir, err))
			}
			fmt.Fprintf(log, "bench: %s round %d done in %.1fs\n", e.Name, round+1, time.Since(t).Seconds())
		}
		rounds = append(rounds, rd)
	}
	res.merge(rounds)
	if m := slices.Max(append(res.LoadAvg, 0)); m > float64(res.NumCPU) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"load average reached %.1f on %d CPUs: other processes competed for CPU (and likely the disk); figures are noisy, use -count", m, res.NumCPU))
	}
	res.finish()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// measureLimits measures the physical limits on the same disk: 4 KiB write
// + fdatasync per second, and a scan of the same records in a sorted slice.
func measureLimits(cfg Config, dataDir string, res *Results, log io.Writer) {
	if cfg.has("W1") {
		n, d, err := fsyncRate(dataDir, cfg.Duration)
		if err != nil {
			res.Warnings = append(res.Warnings, "fsync limit: "+err.Error())
		} else {
			res.Limits["fsync4k"] = &Limit{Value: float64(n) / d.Seconds(), Unit: "syncs/s",
				What: "4 KiB pwrite + fdatasync in a preallocated file, same file system"}
			fmt.Fprintf(log, "bench: limit fsync4k %.0f/s\n", res.Limits["fsync4k"].Value)
		}
	}
	if cfg.has("W3") {
		res.Limits["raw.fixed"] = &Limit{Value: float64(len(genKey(0)) + len(genIndex(cfg.Seed, 0)) + valueSize),
			Unit: "B/rec", What: "key + index + value bytes, fixed profile"}
	}
	if cfg.has("W6") {
		recs := make([]Record, cfg.N)
		for id := range recs {
			recs[id] = genRecord(cfg.Seed, uint64(id), profileFixed)
		}
		n, d, err := repeatFor(cfg.Duration, func() (int, error) { return sliceScan(recs) })
		if err != nil {
			res.Warnings = append(res.Warnings, "slice scan limit: "+err.Error())
		} else {
			res.Limits["slicescan"] = &Limit{Value: float64(n) / d.Seconds(), Unit: "items/s",
				What: "the same records in a sorted []Record, same per-item check"}
			fmt.Fprintf(log, "bench: limit slicescan %.0f items/s\n", res.Limits["slicescan"].Value)
		}
	}
}

// fsyncRate writes 4 KiB blocks round-robin into a preallocated 1 MiB file
// and fdatasyncs after each, for d.
func fsyncRate(dir string, d time.Duration) (int64, time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := bytes.Repeat([]byte{0xA5}, 4096)
	const blocks = 256
	for i := range blocks {
		if _, err := f.WriteAt(block, int64(i)*4096); err != nil {
			return 0, 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	i := 0
	return runFor(d, 1, func(int, *rand.Rand) error {
		block[0] = byte(i)
		if _, err := f.WriteAt(block, int64(i%blocks)*4096); err != nil {
			return err
		}
		i++
		return fdatasync(f)
	})
}

// memSample is a heap and RSS reading after a full GC.
type memSample struct{ heap, rss int64 }

func sampleMem() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: int64(ms.HeapAlloc), rss: rssBytes()}
}

// engineRun carries one engine's state through the workloads.
type engineRun struct {
	cfg Config
	e   Engine
	res *Results
	log io.Writer
}

func (r *engineRun) set(id string, c Cell) {
	for _, row := range r.res.Rows {
		if row.ID == id {
			*r.res.cell(id, r.e.Name) = c
			return
		}
	}
}

// tag is the guarantee tag of a row run in the given durability mode.
func (r *engineRun) tag(durable bool) string {
	d := "M"
	switch {
	case r.e.Persistent && durable && r.e.Durable:
		d = "D"
	case r.e.Persistent:
		d = "N"
	}
	o := "S"
	if r.e.Ordered {
		o = "O"
	}
	return d + "/" + o
}

func (r *engineRun) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: %-7s "+format+"\n", append([]any{r.e.Name}, args...)...)
}

// failRows marks every row of the given workloads that has no value yet as
// failed with err.
func (r *engineRun) failRows(err error, workloads ...string) {
	for _, row := range r.res.Rows {
		if slices.Contains(workloads, row.Workload) {
			if c := r.res.cell(row.ID, r.e.Name); c.Value == 0 && c.NA == "" && c.Err == "" {
				c.Err = err.Error()
			}
		}
	}
}

func runEngine(cfg Config, e Engine, dir string, res *Results, log io.Writer) {
	r := &engineRun{cfg: cfg, e: e, res: res, log: log}
	defer func() {
		if p := recover(); p != nil {
			r.failRows(fmt.Errorf("panic: %v", p), allWorkloads...)
		}
	}()
	if cfg.has("W1") || cfg.has("W2") {
		if err := r.commits(filepath.Join(dir, "commits")); err != nil {
			r.failRows(err, "W1", "W2")
		}
	}
	if slices.ContainsFunc([]string{"W3", "W4", "W5", "W6", "W7", "W8"}, cfg.has) {
		if err := r.loaded(filepath.Join(dir, "loaded")); err != nil {
			r.failRows(err, "W3", "W4", "W5", "W6", "W7", "W8")
		}
	}
	if cfg.has("W3J") {
		if err := r.jsonLoad(filepath.Join(dir, "json")); err != nil {
			r.failRows(err, "W3J")
		}
	}
}

// commits runs W1 and W2 on a fresh store in durable mode.
func (r *engineRun) commits(dir string) error {
	if !r.e.Durable {
		na := Cell{NA: "no durable mode (memory only)", Tag: r.tag(true)}
		r.set("w1.commits", na)
		r.set("w2.commits", na)
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s, err := r.e.Open(dir, true)
	if err != nil {
		return err
	}
	var next, acked int64
	newRec := func() []Record {
		id := 1<<40 + uint64(next) // disjoint from the loaded ids
		next++
		return []Record{genRecord(r.cfg.Seed, id, profileFixed)}
	}
	if r.cfg.has("W1") {
		// The disk is shared: the fsync rate right before W1 tells what it
		// allowed at the time.
		probeN, probeD, err := fsyncRate(filepath.Dir(dir), min(r.cfg.Duration, 500*time.Millisecond))
		if err != nil {
			s.Close()
			return fmt.Errorf("fsync probe: %w", err)
		}
		n, d, err := runFor(r.cfg.Duration, 1, func(int, *rand.Rand) error { return s.Put(newRec()) })
		acked += n
		if err != nil {
			s.Close()
			return fmt.Errorf("W1: %w", err)
		}
		r.set("w1.commits", Cell{Value: float64(n) / d.Seconds(), Tag: r.tag(true),
			Extra: map[string]float64{"commits": float64(n), "seconds": d.Seconds(),
				"fsync4k_just_before": float64(probeN) / probeD.Seconds()}})
		r.logf("W1 %.0f commits/s (fsync4k just before: %.0f/s)", float64(n)/d.Seconds(), float64(probeN)/probeD.Seconds())
	}
	if r.cfg.has("W2") {
		put := s.Put
		if cp, ok := s.(ConcurrentPutter); ok {
			put = cp.PutConcurrent
		}
		base := next
		var ctr atomicCounter
		n, d, err := runFor(r.cfg.Duration, r.cfg.Writers, func(int, *rand.Rand) error {
			id := 1<<40 + uint64(base+ctr.next())
			return put([]Record{genRecord(r.cfg.Seed, id, profileFixed)})
		})
		acked += n
		if err != nil {
			s.Close()
			return fmt.Errorf("W2: %w", err)
		}
		r.set("w2.commits", Cell{Value: float64(n) / d.Seconds(), Tag: r.tag(true),
			Extra: map[string]float64{"commits": float64(n), "seconds": d.Seconds(), "writers": float64(r.cfg.Writers)}})
		r.logf("W2 %.0f commits/s", float64(n)/d.Seconds())
	}
	// Every acknowledged commit must be there, once, in order.
	if _, err := scanCheck(s, false, int(acked)); err != nil {
		s.Close()
		return fmt.Errorf("after W1/W2: %w", err)
	}
	return s.Close()
}

// loaded runs W3 (load), W4-W6 (reads), W7 (reopen) and W8 (mixed) on one
// store of N records, durable where the engine can be.
func (r *engineRun) loaded(dir string) error {
	cfg := r.cfg
	durable := r.e.Durable
	tag := r.tag(durable)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	order := insertOrder(cfg.Seed, cfg.N)
	before := sampleMem()
	s, err := r.e.Open(dir, durable)
	if err != nil {
		return err
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	inPut, _, err := loadStore(s, cfg.Seed, order, cfg.Batch, profileFixed)
	if err != nil {
		return fmt.Errorf("W3: %w", err)
	}
	after := sampleMem()
	r.set("w3.load", Cell{Value: float64(cfg.N) / inPut.Seconds(), Tag: tag,
		Extra: map[string]float64{"seconds_in_put": inPut.Seconds(), "batch": float64(cfg.Batch)}})
	r.set("w3.heap", Cell{Value: float64(after.heap-before.heap) / float64(cfg.N), Tag: tag})
	r.set("w3.rss", Cell{Value: float64(after.rss-before.rss) / float64(cfg.N), Tag: tag})
	r.logf("W3 load %.0f rec/s, heap %.0f B/rec", float64(cfg.N)/inPut.Seconds(), float64(after.heap-before.heap)/float64(cfg.N))

	lt := newLookupTable(cfg.Seed, cfg.N)
	for _, w := range []struct {
		workload, id string
		byIndex      bool
	}{{"W4", "w4.get", false}, {"W5", "w5.getidx", true}} {
		if !cfg.has(w.workload) {
			continue
		}
		n, d, err := runFor(cfg.Duration, cfg.Readers, func(_ int, rng *rand.Rand) error {
			return lt.getOne(s, rng.IntN(cfg.N), w.byIndex)
		})
		if err != nil {
			r.set(w.id, Cell{Err: err.Error(), Tag: tag})
			continue
		}
		ns := float64(d.Nanoseconds()) / float64(n)
		r.set(w.id, Cell{Value: ns, Tag: tag, Extra: map[string]float64{
			"ops": float64(n), "goroutines": float64(cfg.Readers), "ns_per_op_per_goroutine": ns * float64(cfg.Readers)}})
		r.logf("%s %.0f ns/op", w.workload, ns)
	}
	if cfg.has("W6") {
		for _, w := range []struct {
			id      string
			byIndex bool
		}{{"w6.scankey", false}, {"w6.scanidx", true}} {
			n, d, err := repeatFor(cfg.Duration, func() (int, error) { return scanCheck(s, w.byIndex, cfg.N) })
			if err != nil {
				r.set(w.id, Cell{Err: err.Error(), Tag: tag})
				continue
			}
			r.set(w.id, Cell{Value: float64(n) / d.Seconds(), Tag: tag, Extra: map[string]float64{"scans": float64(n) / float64(cfg.N)}})
			r.logf("%s %.0f items/s", w.id, float64(n)/d.Seconds())
		}
	}

	// W7: close, measure the files, reopen, answer one read.
	probe := rand.New(rand.NewPCG(cfg.Seed, 7)).IntN(cfg.N)
	if r.e.Persistent {
		t := time.Now()
		err := s.Close()
		s = nil
		closeTime := time.Since(t)
		if err != nil {
			return fmt.Errorf("W7 close: %w", err)
		}
		alloc, apparent, err := diskUsage(dir)
		if err != nil {
			return fmt.Errorf("W3 disk: %w", err)
		}
		r.set("w3.disk", Cell{Value: float64(alloc) / float64(cfg.N), Tag: tag,
			Extra: map[string]float64{"allocated_bytes": float64(alloc), "apparent_bytes": float64(apparent)}})
		t = time.Now()
		s, err = r.e.Open(dir, durable)
		if err != nil {
			return fmt.Errorf("W7 reopen: %w", err)
		}
		openTime := time.Since(t)
		if err := lt.getOne(s, probe, false); err != nil {
			return fmt.Errorf("W7 first read: %w", err)
		}
		total := closeTime + time.Since(t)
		r.set("w7.reopen", Cell{Value: total.Seconds(), Tag: tag, Extra: map[string]float64{
			"close_s": closeTime.Seconds(), "open_s": openTime.Seconds()}})
		r.logf("W7 reopen %.3fs (close %.3fs), disk %.0f B/rec", total.Seconds(), closeTime.Seconds(), float64(alloc)/float64(cfg.N))
	} else {
		na := Cell{NA: "memory only", Tag: tag}
		r.set("w3.disk", na)
		r.set("w7.reopen", na)
	}

	if cfg.has("W8") {
		if err := r.mixed(s, lt, tag); err != nil {
			r.set("w8.reads", Cell{Err: err.Error(), Tag: tag})
			r.set("w8.writes", Cell{Err: err.Error(), Tag: tag})
		}
	}
	// Whatever ran, the store must still be a bijection of N records.
	if _, err := scanCheck(s, false, cfg.N); err != nil {
		return fmt.Errorf("final check: %w", err)
	}
	if _, err := scanCheck(s, true, cfg.N); err != nil {
		return fmt.Errorf("final check: %w", err)
	}
	err = s.Close()
	s = nil
	return err
}

// mixed is W8: readers look records up by key and then by the index key the
// record carries, while one writer moves random records to new index keys.
func (r *engineRun) mixed(s Store, lt *lookupTable, tag string) error {
	cfg := r.cfg
	value := genRecord(cfg.Seed, 0, profileFixed).Value
	var moves atomicCounter
	var reads, writes int64
	n, d, err := runFor(cfg.Duration, cfg.Readers+1, func(w int, rng *rand.Rand) error {
		id := rng.IntN(cfg.N)
		key := lt.keys[id]
		if w == cfg.Readers { // the writer
			m := moves.next()
			return s.Put([]Record{{Key: key, Index: movedIndex(uint64(id), uint64(m)), Value: value}})
		}
		rec, err := s.Get(key)
		if err != nil {
			return fmt.Errorf("W8 get %q: %w", key, err)
		}
		if !bytes.Equal(rec.Key, key) {
			return fmt.Errorf("W8 get %q: got key %q", key, rec.Key)
		}
		rec2, err := s.GetByIndex(rec.Index)
		switch {
		case errors.Is(err, ErrNotFound): // moved since: fine
		case err != nil:
			return fmt.Errorf("W8 get by index %q: %w", rec.Index, err)
		case !bytes.Equal(rec2.Key, key) || !bytes.Equal(rec2.Index, rec.Index):
			return fmt.Errorf("W8 index %q of %q resolves to %q/%q", rec.Index, key, rec2.Key, rec2.Index)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writes = moves.load()
	reads = 2 * (n - writes)
	r.set("w8.reads", Cell{Value: float64(reads) / d.Seconds(), Tag: tag,
		Extra: map[string]float64{"readers": float64(cfg.Readers), "reads": float64(reads)}})
	r.set("w8.writes", Cell{Value: float64(writes) / d.Seconds(), Tag: tag,
		Extra: map[string]float64{"writes": float64(writes)}})
	r.logf("W8 %.0f reads/s, %.0f writes/s", float64(reads)/d.Seconds(), float64(writes)/d.Seconds())
	return nil
}

// jsonLoad is W3J: N JSON-profile records loaded without fsync, for the
// on-disk size.
func (r *engineRun) jsonLoad(dir string) error {
	cfg := r.cfg
	tag := r.tag(false)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s, err := r.e.Open(dir, false)
	if err != nil {
		return err
	}
	inPut, raw, err := loadStore(s, cfg.Seed, insertOrder(cfg.Seed, cfg.N), cfg.Batch, profileJSON)
	if err != nil {
		s.Close()
		return err
	}
	if _, err := scanCheck(s, true, cfg.N); err != nil {
		s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	r.res.Limits["raw.json"] = &Limit{Value: float64(raw) / float64(cfg.N), Unit: "B/rec",
		What: "key + index + value bytes, JSON profile"}
	r.set("w3j.load", Cell{Value: float64(cfg.N) / inPut.Seconds(), Tag: tag})
	if !r.e.Persistent {
		r.set("w3j.disk", Cell{NA: "memory only", Tag: tag})
		return nil
	}
	alloc, apparent, err := diskUsage(dir)
	if err != nil {
		return err
	}
	r.set("w3j.disk", Cell{Value: float64(alloc) / float64(cfg.N), Tag: tag,
		Extra: map[string]float64{"allocated_bytes": float64(alloc), "apparent_bytes": float64(apparent)}})
	r.logf("W3J %.0f rec/s, disk %.0f B/rec", float64(cfg.N)/inPut.Seconds(), float64(alloc)/float64(cfg.N))
	return nil
}

// loadAvg returns the 1-minute load average, 0 if unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	fmt.Sscan(string(b), &v)
	return v
}

// moduleVersion returns the version of module path that this binary was
// built with.
func moduleVersion(path string) string {
	if path == "" {
		return "-"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "?"
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return "local " + m.Replace.Path
			}
			return m.Version
		}
	}
	return "?"
}
