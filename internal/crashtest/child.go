package crashtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dualdb/dualdb/db"
)

// ChildEnv is the environment variable that carries a child's Config, as
// JSON. A binary that finds it set runs RunChildFromEnv instead of its
// normal work.
const ChildEnv = "DUALDB_CRASHTEST_CHILD"

// Config describes the child's workload. Zero fields mean the defaults
// filled in by WithDefaults.
type Config struct {
	Dir                string        // store directory
	Cycle              int           // cycle number: makes operation numbers unique across cycles
	Seed               uint64        // seeds the writers' choices
	Writers            int           // concurrent writers, each on its own partition; default 4
	Keys               int           // keys per writer; default 24
	Indexes            int           // index keys per writer; default Keys*3/2
	MaxValue           int           // largest value of a writer's put, bytes; default 300
	Ballast            int           // records of the static ballast partition; default 10000 (-1: none)
	BallastBatch       int           // ballast records per Update; default 500
	BallastValue       int           // ballast value size; default 64
	CheckpointEvery    int           // db.Options.CheckpointEvery; default 64
	KeepSnapshots      int           // db.Options.KeepSnapshots; 0: the store's default
	CheckpointInterval time.Duration // between explicit Checkpoint calls; default 40ms, <0: none
	CheckInterval      time.Duration // between the child's own invariant checks; default 150ms, <0: none
	MaxRun             time.Duration // the child stops by itself after this; default 60s
	NoSync             bool          // db.Options.NoSync (only for tests of the harness itself)
	LieAck             bool          // acknowledge before calling the store: a broken child the harness must catch
	LieVersion         bool          // report every commit's version one too high: a broken child the harness must catch
	Check              string        // "ro" or "rw": instead of the workload, check the store and print a StoreState as JSON
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Writers, 4)
	def(&c.Keys, 24)
	def(&c.Indexes, c.Keys*3/2)
	def(&c.MaxValue, 300)
	def(&c.Ballast, 10000)
	def(&c.BallastBatch, 500)
	def(&c.BallastValue, 64)
	def(&c.CheckpointEvery, 64)
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 40 * time.Millisecond
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = 150 * time.Millisecond
	}
	if c.MaxRun == 0 {
		c.MaxRun = 60 * time.Second
	}
	if c.Indexes < c.Keys+2 {
		c.Indexes = c.Keys + 2
	}
	return c
}

// WriterName returns the name (and key prefix) of writer i.
func WriterName(i int) string { return fmt.Sprintf("w%d", i) }

// BallastWriter is the name of the ballast writer.
const BallastWriter = "b"

// RunChildFromEnv runs the child workload configured by ChildEnv on
// os.Stdout and exits the process. It returns only if ChildEnv is unset.
func RunChildFromEnv() {
	s := os.Getenv(ChildEnv)
	if s == "" {
		return
	}
	var cfg Config
	if err := json.Unmarshal([]byte(s), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest child: bad %s: %v\n", ChildEnv, err)
		os.Exit(3)
	}
	if cfg.Check != "" {
		// The checker runs in a process of its own: a store that makes
		// Open panic in a goroutine of bbolt's, which nothing can recover,
		// must not take the harness down.
		var st *StoreState
		if cfg.Check == "rw" {
			st = ReadStoreRW(cfg.Dir)
		} else {
			st = ReadStore(cfg.Dir)
		}
		if err := json.NewEncoder(os.Stdout).Encode(st); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	if err := RunChild(cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest child: %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// reporter writes protocol lines, each with one Write call.
type reporter struct {
	mu  sync.Mutex
	out io.Writer
}

func (r *reporter) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.WriteString(r.out, s); err != nil {
		// The parent is gone: nothing left to report to.
		os.Exit(4)
	}
}

var errAbort = errors.New("crashtest: deliberate abort")

// RunChild runs the workload of cfg against the store in cfg.Dir, reporting
// to out, until cfg.MaxRun has passed (or the process is killed).
func RunChild(cfg Config, out, logw io.Writer) error {
	cfg = cfg.WithDefaults()
	rep := &reporter{out: out}
	rep.line("S %d", os.Getpid())
	start := time.Now()
	d, err := db.Open(cfg.Dir, &db.Options{
		NoSync:          cfg.NoSync,
		CheckpointEvery: cfg.CheckpointEvery,
		KeepSnapshots:   cfg.KeepSnapshots,
		Logger:          slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		rep.line("X open: %s", oneLine(err))
		return err
	}
	rep.line("O %d %d", d.Version(), time.Since(start).Nanoseconds())

	stop := make(chan struct{})
	var wg sync.WaitGroup
	snap := d.Snapshot()
	for i := range cfg.Writers {
		w := &writer{
			cfg: cfg, d: d, rep: rep, name: WriterName(i),
			rng:  rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Cycle)<<16|uint64(i))),
			part: readPart(snap, WriterName(i)),
			seq:  uint64(cfg.Cycle) << 32,
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop) }()
	}
	if cfg.Ballast > 0 {
		have := readPart(snap, BallastWriter).Len()
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadBallast(cfg, d, rep, have, stop)
		}()
	}
	if cfg.CheckpointInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); checkpointLoop(cfg, d, rep, stop) }()
	}
	if cfg.CheckInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); checkLoop(cfg, d, rep, stop) }()
	}
	time.Sleep(cfg.MaxRun)
	close(stop)
	wg.Wait()
	if err := d.Close(); err != nil {
		rep.line("X close: %s", oneLine(err))
		return err
	}
	rep.line("Q")
	return nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " | ") }

// readPart reads writer w's partition from s.
func readPart(s *db.Snapshot, w string) *Part {
	p := NewPart()
	for r := range s.Ascend([]byte(w+"/"), []byte(w+"0")) { // '0' follows '/'
		p.ByKey[string(r.Key)] = Rec{Index: string(r.Index), Value: string(r.Value)}
		p.ByIndex[string(r.Index)] = string(r.Key)
	}
	return p
}

// classify maps an operation's error to its result class.
func classify(err error) string {
	switch {
	case err == nil:
		return ResOK
	case errors.Is(err, errAbort):
		return ResAborted
	case errors.Is(err, db.ErrConflict):
		return ResConflict
	case errors.Is(err, db.ErrNotFound):
		return ResNotFound
	default:
		return ResUnknown
	}
}

// execute runs in against d as its kind says.
func execute(d *db.DB, in *Intent) error {
	val := func(j int) []byte { return []byte(Value(in.Writer, in.Seq, j, in.Steps[j].VSize)) }
	switch in.Kind {
	case KindPut:
		s := in.Steps[0]
		return d.Put([]byte(s.Key), []byte(s.Index), val(0))
	case KindDel:
		return d.Delete([]byte(in.Steps[0].Key))
	}
	return d.Update(func(tx *db.Tx) error {
		for j, s := range in.Steps {
			var err error
			if s.Del {
				err = tx.Delete([]byte(s.Key))
			} else {
				err = tx.Put([]byte(s.Key), []byte(s.Index), val(j))
			}
			if err != nil && !errors.Is(err, db.ErrConflict) && !errors.Is(err, db.ErrNotFound) {
				return err
			}
		}
		if in.Kind == KindAbort {
			return errAbort
		}
		return nil
	})
}

// commitVersion returns the version of the commit of in, which just
// returned nil, read from a record it left (Record.Version), or 0 if it
// left none (all its puts were skipped or deleted again). No other writer
// touches in's keys, so the record read is the one in wrote.
func commitVersion(d *db.DB, in *Intent) uint64 {
	for j := len(in.Steps) - 1; j >= 0; j-- {
		s := in.Steps[j]
		if s.Del {
			continue
		}
		r, err := d.Get([]byte(s.Key))
		if err == nil && string(r.Value) == Value(in.Writer, in.Seq, j, s.VSize) {
			return r.Version
		}
	}
	return 0
}

// ack reports that in returned nil, with its commit's version if known.
func ack(d *db.DB, rep *reporter, in *Intent, lie bool) {
	v := commitVersion(d, in)
	switch {
	case v == 0:
		rep.line("A %s %d", in.Writer, in.Seq)
	case lie:
		rep.line("A %s %d v%d", in.Writer, in.Seq, v+1)
	default:
		rep.line("A %s %d v%d", in.Writer, in.Seq, v)
	}
}

// report runs in and reports it: the intent before, the result after.
func report(d *db.DB, rep *reporter, in *Intent, ranges [][3]int, lieVersion bool) string {
	rep.line("%s", FormatIntent(in, ranges))
	err := execute(d, in)
	res := classify(err)
	if res == ResOK {
		ack(d, rep, in, lieVersion)
	} else {
		rep.line("F %s %d %s %s", in.Writer, in.Seq, res, oneLine(err))
	}
	return res
}

type writer struct {
	cfg  Config
	d    *db.DB
	rep  *reporter
	name string
	rng  *rand.Rand
	part *Part // the partition as this writer believes it is
	seq  uint64
}

func (w *writer) key(i int) string   { return fmt.Sprintf("%s/k%03d", w.name, i) }
func (w *writer) index(i int) string { return fmt.Sprintf("%s/x%03d", w.name, i) }

func (w *writer) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.seq++
		in := w.next()
		want := w.part.Clone()
		predicted, _ := want.Apply(in)
		var res string
		if w.cfg.LieAck {
			w.rep.line("%s", FormatIntent(in, nil))
			w.rep.line("A %s %d", in.Writer, in.Seq)
			if res = classify(execute(w.d, in)); res != predicted {
				<-stop // the lie is out; stop before it shows up as a wrong result
				return
			}
		} else {
			res = report(w.d, w.rep, in, nil, w.cfg.LieVersion)
		}
		switch {
		case res == ResUnknown:
			// The store failed closed: this writer is done.
			<-stop
			return
		case res == predicted:
			w.part = want
		default:
			// The store disagrees with the model: the parent reports it;
			// go on from what the store holds.
			w.part = readPart(w.d.Snapshot(), w.name)
		}
	}
}

// freeIndex returns an index key no record of p holds, or "" if none.
func (w *writer) freeIndex(p *Part) string {
	for range 8 {
		if x := w.index(w.rng.IntN(w.cfg.Indexes)); p.ByIndex[x] == "" {
			return x
		}
	}
	for i := range w.cfg.Indexes {
		if x := w.index(i); p.ByIndex[x] == "" {
			return x
		}
	}
	return ""
}

// takenIndex returns an index key held by a record other than key, or "".
func (w *writer) takenIndex(p *Part, key string) string {
	for range 8 {
		x := w.index(w.rng.IntN(w.cfg.Indexes))
		if o := p.ByIndex[x]; o != "" && o != key {
			return x
		}
	}
	return ""
}

// existing returns a random key of p, or "" if p is empty.
func (w *writer) existing(p *Part) string {
	if p.Len() == 0 {
		return ""
	}
	keys := p.Keys()
	return keys[w.rng.IntN(len(keys))]
}

func (w *writer) vsize() int {
	if w.rng.IntN(20) == 0 {
		return 1000 + w.rng.IntN(3000)
	}
	return 16 + w.rng.IntN(w.cfg.MaxValue)
}

// next chooses the next operation from the writer's view of its partition.
func (w *writer) next() *Intent {
	in := &Intent{Writer: w.name, Seq: w.seq}
	p := w.part
	r := w.rng.IntN(100)
	switch {
	case r < 30: // one put: keep the index, take a free one, or (sometimes) a taken one
		in.Kind = KindPut
		k := w.key(w.rng.IntN(w.cfg.Keys))
		x := ""
		if old, ok := p.ByKey[k]; ok && w.rng.IntN(2) == 0 {
			x = old.Index
		} else if w.rng.IntN(7) == 0 {
			x = w.takenIndex(p, k)
		}
		if x == "" {
			x = w.freeIndex(p)
		}
		if x == "" {
			x = w.index(0)
		}
		in.Steps = []Step{{Key: k, Index: x, VSize: w.vsize()}}
	case r < 42: // one delete, of a missing key now and then
		in.Kind = KindDel
		k := w.existing(p)
		if k == "" || w.rng.IntN(6) == 0 {
			k = w.key(w.rng.IntN(w.cfg.Keys))
		}
		in.Steps = []Step{{Del: true, Key: k}}
	case r < 88: // a multi-record transaction
		in.Kind = KindTx
		in.Steps = w.txSteps(2+w.rng.IntN(4), p.Clone())
	default: // a transaction that aborts after its steps
		in.Kind = KindAbort
		in.Steps = w.txSteps(1+w.rng.IntN(3), p.Clone())
	}
	return in
}

// txSteps builds n groups of steps, simulating them on sim so that later
// steps see earlier ones: index keys swapped or moved between records,
// fresh puts, deletes, and now and then a step the store must skip.
func (w *writer) txSteps(n int, sim *Part) []Step {
	var steps []Step
	add := func(s Step) {
		if s.Del {
			sim.Delete(s.Key)
		} else {
			sim.Put(s.Key, s.Index, "")
		}
		steps = append(steps, s)
	}
	for range n {
		switch r := w.rng.IntN(10); {
		case r < 3 && sim.Len() >= 2: // swap the index keys of two records
			a, b := w.existing(sim), w.existing(sim)
			free := w.freeIndex(sim)
			if a == b || free == "" {
				continue
			}
			ia, ib := sim.ByKey[a].Index, sim.ByKey[b].Index
			add(Step{Key: a, Index: free, VSize: w.vsize()})
			add(Step{Key: b, Index: ia, VSize: w.vsize()})
			add(Step{Key: a, Index: ib, VSize: w.vsize()})
		case r < 5 && sim.Len() >= 1: // move an index key to another key
			a := w.existing(sim)
			c := w.key(w.rng.IntN(w.cfg.Keys))
			if a == c {
				continue
			}
			ia := sim.ByKey[a].Index
			if w.rng.IntN(2) == 0 {
				add(Step{Del: true, Key: a})
			} else if free := w.freeIndex(sim); free != "" {
				add(Step{Key: a, Index: free, VSize: w.vsize()})
			} else {
				continue
			}
			add(Step{Key: c, Index: ia, VSize: w.vsize()})
		case r < 8: // a put with a free index, or a taken one (skipped)
			k := w.key(w.rng.IntN(w.cfg.Keys))
			x := ""
			if w.rng.IntN(8) == 0 {
				x = w.takenIndex(sim, k)
			}
			if x == "" {
				if old, ok := sim.ByKey[k]; ok && w.rng.IntN(2) == 0 {
					x = old.Index
				} else {
					x = w.freeIndex(sim)
				}
			}
			if x == "" {
				continue
			}
			add(Step{Key: k, Index: x, VSize: w.vsize()})
		default: // a delete, of a missing key now and then (skipped)
			k := w.existing(sim)
			if k == "" || w.rng.IntN(5) == 0 {
				k = w.key(w.rng.IntN(w.cfg.Keys))
			}
			add(Step{Del: true, Key: k})
		}
	}
	if len(steps) == 0 {
		steps = append(steps, Step{Key: w.key(0), Index: w.index(0), VSize: 16})
	}
	return steps
}

// loadBallast puts the ballast records [have, cfg.Ballast) in batches.
func loadBallast(cfg Config, d *db.DB, rep *reporter, have int, stop <-chan struct{}) {
	seq := uint64(cfg.Cycle) << 32
	for have < cfg.Ballast {
		select {
		case <-stop:
			return
		default:
		}
		seq++
		to := min(have+cfg.BallastBatch, cfg.Ballast)
		in := &Intent{Writer: BallastWriter, Seq: seq, Kind: KindTx}
		for i := have; i < to; i++ {
			in.Steps = append(in.Steps, Step{Key: BallastKey(BallastWriter, i), Index: BallastIndex(BallastWriter, i), VSize: cfg.BallastValue})
		}
		// The intent line carries the range; execute uses the steps.
		line := &Intent{Writer: in.Writer, Seq: in.Seq, Kind: in.Kind}
		rep.line("%s", FormatIntent(line, [][3]int{{have, to, cfg.BallastValue}}))
		err := execute(d, in)
		if res := classify(err); res != ResOK {
			rep.line("F %s %d %s %s", in.Writer, in.Seq, res, oneLine(err))
			return
		}
		ack(d, rep, in, cfg.LieVersion)
		have = to
	}
}

func checkpointLoop(cfg Config, d *db.DB, rep *reporter, stop <-chan struct{}) {
	t := time.NewTicker(cfg.CheckpointInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		rep.line("C b %d", n)
		start := time.Now()
		v, err := d.Checkpoint()
		msg := ""
		if err != nil {
			msg = oneLine(err)
		}
		rep.line("C e %d %d %d %s", n, v, time.Since(start).Nanoseconds(), msg)
		if errors.Is(err, db.ErrFailed) {
			return
		}
	}
}

// checkLoop checks the invariants on snapshots while the writers run.
func checkLoop(cfg Config, d *db.DB, rep *reporter, stop <-chan struct{}) {
	t := time.NewTicker(cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, f := range CheckSnapshot(d.Snapshot(), 5) {
			rep.line("V %s", strings.ReplaceAll(f, "\n", " "))
		}
	}
}
