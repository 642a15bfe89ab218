package stress

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/cputime"
)

// Config sets up a Run.
type Config struct {
	Workers    int           // concurrent worker goroutines; at least 1
	Keys       int           // records loaded before the run, among which the workers pick; at least 2
	ValueSize  int           // bytes per value, at least what the checker writes into it; >= 0
	CheckEvery time.Duration // interval of the checker's full snapshot comparison; > 0
	Seed       uint64        // seed of the workers' random choices
	Mix        Mix           // share of each kind of operation; the zero Mix means DefaultMix
}

// Mix is the share, in percent, of each kind of worker operation
// (indexed by Op; OpCheck is the checker's and must be 0). The shares add
// up to 100.
type Mix [OpCheck]int

// DefaultMix is the workload of `dualdb stress` unless --mix says
// otherwise: 35% writes (puts and two-record swaps), 50% point reads,
// 15% scans.
var DefaultMix = Mix{OpPut: 20, OpUpdate: 15, OpGet: 25, OpGetIndex: 25, OpScanKey: 8, OpScanIndex: 7}

// ParseMix reads a mix written as comma-separated op=percent pairs, such
// as "put=20,update=15,get=25,get-index=25,scan-key=8,scan-index=7"; a
// kind left out gets 0. The shares must add up to 100.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := [OpCheck]bool{}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix %q: %q is not op=percent", s, part)
		}
		op := slices.Index(opNames[:OpCheck], name)
		if op < 0 {
			return Mix{}, fmt.Errorf("mix %q: unknown operation %q (want one of %s)", s, name, strings.Join(opNames[:OpCheck], ", "))
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("mix %q: %s given twice", s, name)
		}
		seen[op] = true
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > 100 {
			return Mix{}, fmt.Errorf("mix %q: %s=%s is not a percentage from 0 to 100", s, name, val)
		}
		m[op] = n
	}
	if err := m.check(); err != nil {
		return Mix{}, fmt.Errorf("mix %q: %w", s, err)
	}
	return m, nil
}

// String writes m the way ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, 0, len(m))
	for op, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", Op(op), n))
	}
	return strings.Join(parts, ",")
}

func (m Mix) check() error {
	sum := 0
	for op, n := range m {
		if n < 0 {
			return fmt.Errorf("negative share %d for %s", n, Op(op))
		}
		sum += n
	}
	if sum != 100 {
		return fmt.Errorf("shares add up to %d, not 100", sum)
	}
	return nil
}

// Op is a kind of operation of the workload, in the order of the results.
type Op int

// The operation kinds.
const (
	OpPut       Op = iota // a Put, under a fresh index key or the record's own
	OpUpdate              // an update swapping the index keys of two records
	OpGet                 // a Get
	OpGetIndex            // a GetByIndex
	OpScanKey             // a scan of up to 50 records by key
	OpScanIndex           // a scan of up to 50 records by index key
	OpCheck               // the checker's snapshot comparisons
	NumOps                // the number of operation kinds
)

var opNames = [NumOps]string{"put", "update", "get", "get-index", "scan-key", "scan-index", "check"}

// String returns the name the results and metrics use.
func (o Op) String() string { return opNames[o] }

// scanLimit is the number of records a scan reads.
const scanLimit = 50

// loadBatch is the number of records loaded per commit.
const loadBatch = 1000

// tally is one goroutine's counts and latencies. counts and errs are read
// by Progress and the metrics while the run goes on; lat only afterwards.
type tally struct {
	counts [NumOps]atomic.Uint64
	errs   atomic.Uint64
	lat    [NumOps]Histogram
}

// Run is one run of the workload and the checker. Its methods are safe
// for concurrent use; Start and Stop are called once each, in that order.
type Run struct {
	cfg       Config
	store     Store
	v         violations
	tallies   []*tally // one per worker, then the checker's
	conflicts atomic.Uint64
	stop      atomic.Bool    // set by Stop, or when the store failed
	failed    atomic.Bool    // the store failed or was closed
	wg        sync.WaitGroup // workers and checker
	start     time.Time      // when the workers started
	// commitsAtStart are the store's commit counts when the workers
	// started, if it has any (commitCounter).
	commitsAtStart CommitStats
	cpuAtStart     time.Duration // the process's CPU time when the workers started
	errMu          sync.Mutex    // guards firstErr
	firstErr       error
}

// New returns a Run with cfg, not started.
func New(cfg Config) (*Run, error) {
	if cfg.Workers < 1 || cfg.Keys < 2 || cfg.ValueSize < 0 || cfg.CheckEvery <= 0 {
		return nil, fmt.Errorf("stress: bad config %+v: want Workers >= 1, Keys >= 2, ValueSize >= 0, CheckEvery > 0", cfg)
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix
	}
	if err := cfg.Mix.check(); err != nil {
		return nil, fmt.Errorf("stress: bad mix %v: %w", cfg.Mix, err)
	}
	r := &Run{cfg: cfg, tallies: make([]*tally, cfg.Workers+1)}
	for i := range r.tallies {
		r.tallies[i] = new(tally)
	}
	return r, nil
}

// Start loads Config.Keys records into s, then starts the workers and the
// checker on it. Stop ends them; the caller closes s after Stop.
func (r *Run) Start(s Store) error {
	r.store = s
	if err := r.load(); err != nil {
		return fmt.Errorf("load %d records: %w", r.cfg.Keys, err)
	}
	if cc, ok := s.(commitCounter); ok {
		r.commitsAtStart = cc.commitCounts()
	}
	r.cpuAtStart, _ = cputime.Process()
	r.start = time.Now()
	for w := range r.cfg.Workers {
		r.wg.Go(func() { r.worker(w) })
	}
	r.wg.Go(r.checker)
	return nil
}

// Stop ends the workers and the checker, waits for them and returns the
// results.
func (r *Run) Stop() Results {
	r.stop.Store(true)
	r.wg.Wait()
	elapsed := time.Since(r.start)
	var cpu time.Duration
	if end, ok := cputime.Process(); ok {
		cpu = end - r.cpuAtStart
	}
	return r.results(elapsed, cpu)
}

// Failed reports whether the store failed (or was closed) under the run,
// which then stopped its workers: nothing more can be learned from going
// on. Stop must still be called.
func (r *Run) Failed() bool { return r.failed.Load() }

// Err returns the first error an operation returned, nil if none did.
// Conflicts (db.ErrConflict) are expected and not errors.
func (r *Run) Err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.firstErr
}

// Progress is a running total of a Run.
type Progress struct {
	Ops        uint64 // operations of the workers, all kinds
	Conflicts  uint64 // Puts and updates refused by db.ErrConflict (expected)
	Errors     uint64 // operations that failed
	Violations uint64 // inconsistent observations
}

// Progress returns the totals so far.
func (r *Run) Progress() Progress {
	var ops uint64
	for op := range OpCheck {
		ops += r.sum(op)
	}
	return Progress{Ops: ops, Conflicts: r.conflicts.Load(), Errors: r.errors(), Violations: r.v.total()}
}

func (r *Run) fail(err error) {
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
	if errors.Is(err, db.ErrFailed) || errors.Is(err, db.ErrClosed) {
		r.failed.Store(true)
		r.stop.Store(true) // the store cannot go on
	}
}

func (r *Run) sum(op Op) uint64 {
	var n uint64
	for _, t := range r.tallies {
		n += t.counts[op].Load()
	}
	return n
}

func (r *Run) errors() uint64 {
	var n uint64
	for _, t := range r.tallies {
		n += t.errs.Load()
	}
	return n
}

// Record layout: see the package doc.
// They are built with strconv rather than fmt: the workers make one or two
// per operation, and the tool should spend its time in the store.
func recordKey(i int) []byte   { return appendPadded(make([]byte, 0, 10), "k/", i, 8) }
func loadedIndex(i int) []byte { return appendPadded(make([]byte, 0, 10), "x/", i, 8) }

// appendWorkerKey appends prefix followed by "w%03d-%d" of worker id and
// seq, a fresh index key of that worker, to b.
func appendWorkerKey(b []byte, prefix string, id, seq int) []byte {
	b = appendPadded(b, prefix+"w", id, 3)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(seq), 10)
}

// appendPadded appends prefix and n >= 0 in decimal, zero-padded to width
// digits, to b: what fmt's "%0*d" prints.
func appendPadded(b []byte, prefix string, n, width int) []byte {
	b = append(b, prefix...)
	digits := 1
	for p := 10; p <= n; p *= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

const tmpPrefix = "tmp/"

// valueFor returns a value of at least size bytes written for index.
func valueFor(index []byte, size int, tag string) []byte {
	return appendValue(make([]byte, 0, max(size, len(index)+len(tag)+6)), index, size, tag)
}

// appendValue appends valueFor(index, size, tag) to v.
func appendValue(v, index []byte, size int, tag string) []byte {
	start := len(v)
	v = append(v, "idx="...)
	v = append(v, index...)
	v = append(v, ';')
	v = append(v, tag...)
	for len(v)-start < size {
		v = append(v, '.')
	}
	return v
}

// valueMatches reports whether r's value was written for r's index key.
func valueMatches(r db.Record) bool {
	return len(r.Value) >= len(r.Index)+5 && string(r.Value[:4]) == "idx=" &&
		bytes.Equal(r.Value[4:4+len(r.Index)], r.Index) && r.Value[4+len(r.Index)] == ';'
}

// load stores Keys records in batches.
func (r *Run) load() error {
	for lo := 0; lo < r.cfg.Keys; lo += loadBatch {
		hi := min(lo+loadBatch, r.cfg.Keys)
		recs := make([]db.Record, 0, hi-lo)
		for i := lo; i < hi; i++ {
			x := loadedIndex(i)
			recs = append(recs, db.Record{Key: recordKey(i), Index: x, Value: valueFor(x, r.cfg.ValueSize, "load")})
		}
		if err := r.store.PutBatch(recs); err != nil {
			return err
		}
	}
	return nil
}

// worker runs random operations until the run stops. What an operation
// works on (its kind, keys, a fresh index key) is chosen and built before
// its clock starts, in buffers of the worker's own: the latency measured is
// the store's. The stores copy what they are given, so the buffers are
// reused from one operation to the next.
func (r *Run) worker(id int) {
	t := r.tallies[id]
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(id)))
	seq := 0
	var ka, kb, x, vbuf []byte
	val := func(index []byte) []byte {
		vbuf = appendValue(vbuf[:0], index, r.cfg.ValueSize, "w")
		return vbuf
	}
	// pick maps a percentile to the kind of operation the mix gives it.
	var pick [100]Op
	p := 0
	for op, n := range r.cfg.Mix {
		for range n {
			pick[p] = Op(op)
			p++
		}
	}
	for !r.stop.Load() {
		op := pick[rng.IntN(100)]
		a := rng.IntN(r.cfg.Keys)
		ka = appendPadded(ka[:0], "k/", a, 8)
		switch op {
		case OpPut:
			// Half the time under a fresh index key, half under its own.
			x = x[:0]
			if rng.IntN(2) == 0 {
				seq++
				x = appendWorkerKey(x, "x/", id, seq)
			}
		case OpUpdate:
			b := rng.IntN(r.cfg.Keys - 1)
			if b >= a {
				b++
			}
			kb = appendPadded(kb[:0], "k/", b, 8)
			seq++
			x = appendWorkerKey(x[:0], tmpPrefix, id, seq)
		case OpScanIndex:
			x = appendPadded(x[:0], "x/", a, 8)
		}

		start := time.Now()
		var err error
		switch op {
		case OpPut:
			err = r.put(ka, x, val)
		case OpUpdate:
			err = r.store.Swap(ka, kb, x, val)
		case OpGet:
			err = r.get(ka)
		case OpGetIndex:
			err = r.getIndex(ka)
		case OpScanKey:
			err = r.scan(false, ka)
		case OpScanIndex:
			err = r.scan(true, x)
		}
		t.lat[op].Add(time.Since(start))
		t.counts[op].Add(1)
		switch {
		case err == nil:
		case errors.Is(err, db.ErrConflict):
			r.conflicts.Add(1)
		default:
			t.errs.Add(1)
			r.fail(fmt.Errorf("%s: %w", op, err))
		}
	}
}

// put replaces a record's value, under the index key fresh if it is not
// empty, else under the index key the record has (which another worker may
// have moved meanwhile: a conflict).
func (r *Run) put(key, fresh []byte, val func([]byte) []byte) error {
	index := fresh
	if len(index) == 0 {
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
