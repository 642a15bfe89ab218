package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/testtier"
)

// Model test: seeded sequences of operations against dualdb and a
// trivial model (a map, sorted when scanned), with random restarts,
// checkpoints and options. A divergence names the seed and the operation;
// DUALDB_MODEL_SEED=<seed> replays exactly that sequence.

// mrec is a record of the model: its index key, value and the version of
// the commit that last put it.
type mrec struct {
	index, value string
	ver          uint64
}

// model is the map+sort model of a dual-index store. version is the last
// committed version; writes stamp their records with version+1, and the
// caller counts the commit.
type model struct {
	byKey   map[string]mrec
	byIndex map[string]string
	version uint64
}

func newModel() *model { return &model{byKey: map[string]mrec{}, byIndex: map[string]string{}} }

func (m *model) clone() *model {
	c := newModel()
	c.version = m.version
	for k, r := range m.byKey {
		c.byKey[k] = r
	}
	for x, k := range m.byIndex {
		c.byIndex[x] = k
	}
	return c
}

func (m *model) put(k, x, v string) error {
	if k == "" {
		return db.ErrEmptyKey
	}
	if o, ok := m.byIndex[x]; ok && o != k {
		return db.ErrConflict
	}
	if old, ok := m.byKey[k]; ok && old.index != x {
		delete(m.byIndex, old.index)
	}
	m.byKey[k] = mrec{x, v, m.version + 1}
	m.byIndex[x] = k
	return nil
}

// insert is Insert: ErrExists if k is present, else put.
func (m *model) insert(k, x, v string) error {
	if k == "" {
		return db.ErrEmptyKey
	}
	if _, ok := m.byKey[k]; ok {
		return db.ErrExists
	}
	return m.put(k, x, v)
}

// putAll is PutAll: checked as a whole, then applied in one step.
func (m *model) putAll(recs []db.Record) error {
	in := map[string]bool{}
	for _, r := range recs {
		if len(r.Key) == 0 {
			return db.ErrEmptyKey
		}
	}
	for _, r := range recs {
		if in[string(r.Key)] {
			return db.ErrDuplicateKey
		}
		in[string(r.Key)] = true
	}
	taken := map[string]bool{}
	for _, r := range recs {
		if taken[string(r.Index)] {
			return db.ErrConflict
		}
		taken[string(r.Index)] = true
		if o, ok := m.byIndex[string(r.Index)]; ok && !in[o] {
			return db.ErrConflict
		}
	}
	for _, r := range recs {
		if old, ok := m.byKey[string(r.Key)]; ok {
			delete(m.byIndex, old.index)
		}
	}
	for _, r := range recs {
		m.byKey[string(r.Key)] = mrec{string(r.Index), string(r.Value), m.version + 1}
		m.byIndex[string(r.Index)] = string(r.Key)
	}
	return nil
}

func (m *model) del(k string) error {
	if k == "" {
		return db.ErrEmptyKey
	}
	old, ok := m.byKey[k]
	if !ok {
		return db.ErrNotFound
	}
	delete(m.byKey, k)
	delete(m.byIndex, old.index)
	return nil
}

// scan returns the records in the order and bounds of an iterator:
// byIndex picks the order, desc the direction; from is inclusive, to
// exclusive, in the direction of iteration; nil is open.
func (m *model) scan(byIndex, desc bool, from, to []byte) []db.Record {
	var out []db.Record
	for k, r := range m.byKey {
		out = append(out, db.Record{Key: []byte(k), Index: []byte(r.index), Value: []byte(r.value), Version: r.ver})
	}
	sortKey := func(r db.Record) []byte {
		if byIndex {
			return r.Index
		}
		return r.Key
	}
	slices.SortFunc(out, func(a, b db.Record) int { return bytes.Compare(sortKey(a), sortKey(b)) })
	if desc {
		slices.Reverse(out)
	}
	var res []db.Record
	for _, r := range out {
		c := sortKey(r)
		if desc {
			if from != nil && bytes.Compare(c, from) > 0 {
				continue
			}
			if to != nil && bytes.Compare(c, to) <= 0 {
				break
			}
		} else {
			if from != nil && bytes.Compare(c, from) < 0 {
				continue
			}
			if to != nil && bytes.Compare(c, to) >= 0 {
				break
			}
		}
		res = append(res, r)
	}
	return res
}

// errClass reduces an error to what the model predicts.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, db.ErrConflict):
		return "conflict"
	case errors.Is(err, db.ErrNotFound):
		return "notfound"
	case errors.Is(err, db.ErrEmptyKey):
		return "emptykey"
	case errors.Is(err, db.ErrExists):
		return "exists"
	case errors.Is(err, db.ErrDuplicateKey):
		return "dup"
	case errors.Is(err, errModelAbort):
		return "aborted"
	}
	return "error: " + err.Error()
}

var errModelAbort = errors.New("model test: abort")

// modelRun is one seeded run.
type modelRun struct {
	t     *testing.T
	seed  uint64
	r     *rand.Rand
	dir   string
	d     *db.DB
	m     *model
	keys  []string
	idxs  []string
	trace []string // the last operations, for the failure message
	op    int
	stats struct{ restarts, checkpoints, scans, txs, snapshots int }
}

func (mr *modelRun) fail(format string, args ...any) {
	mr.t.Helper()
	mr.t.Fatalf("DIVERGENCE at operation %d of seed %d: %s\nlast operations:\n  %s\nreproduce: DUALDB_MODEL_SEED=%d go test ./reliability/ -run 'TestModel_Randomized' -v",
		mr.op, mr.seed, fmt.Sprintf(format, args...), strings.Join(mr.trace, "\n  "), mr.seed)
}

func (mr *modelRun) note(format string, args ...any) {
	mr.trace = append(mr.trace, fmt.Sprintf("%d: ", mr.op)+fmt.Sprintf(format, args...))
	if len(mr.trace) > 25 {
		mr.trace = mr.trace[1:]
	}
}

// pool returns n distinct short byte strings over an alphabet that
// includes 0x00 and 0xff, so byte order and prefixes get exercised.
func pool(r *rand.Rand, n int, prefix string) []string {
	const alpha = "\x00\x01abcz\x7f\xfe\xff"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		b := []byte(prefix)
		for range 1 + r.IntN(5) {
			b = append(b, alpha[r.IntN(len(alpha))])
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, string(b))
		}
	}
	return out
}

func (mr *modelRun) open() {
	o := &db.Options{
		NoSync:          mr.r.IntN(5) != 0,
		CheckpointEvery: []int{-1, 3, 17, 64, 250}[mr.r.IntN(5)],
		KeepSnapshots:   1 + mr.r.IntN(3),
	}
	d, err := db.Open(mr.dir, o)
	if err != nil {
		mr.fail("Open(%+v): %v", *o, err)
	}
	mr.d = d
	mr.note("open %+v", *o)
}

func (mr *modelRun) key() string {
	if mr.r.IntN(200) == 0 {
		return ""
	}
	return mr.keys[mr.r.IntN(len(mr.keys))]
}

func (mr *modelRun) idx() string { return mr.idxs[mr.r.IntN(len(mr.idxs))] }

func (mr *modelRun) value() string {
	return fmt.Sprintf("v%d.%d.%s", mr.seed%1000, mr.op, strings.Repeat("x", mr.r.IntN(40)))
}

// bound returns a random iterator bound: nil, a known key or a random one.
func (mr *modelRun) bound(byIndex bool) []byte {
	switch mr.r.IntN(4) {
	case 0:
		return nil
	case 1:
		if byIndex {
			return []byte(mr.idx())
		}
		return []byte(mr.keys[mr.r.IntN(len(mr.keys))])
	default:
		return []byte(pool(mr.r, 1, "")[0])
	}
}

func sameRecord(a db.Record, b db.Record) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Index, b.Index) && bytes.Equal(a.Value, b.Value) && a.Version == b.Version
}

// iterSource is what a *db.Snapshot and a *db.Tx both offer.
type iterSource interface {
	Ascend(from, to []byte) iter.Seq[db.Record]
	Descend(from, to []byte) iter.Seq[db.Record]
	AscendIndex(from, to []byte) iter.Seq[db.Record]
	DescendIndex(from, to []byte) iter.Seq[db.Record]
}

// batch draws 1-4 records for PutAll; often they rotate the index keys
// they hold now.
func (mr *modelRun) batch(m *model) []db.Record {
	var recs []db.Record
	var held []string
	for range 1 + mr.r.IntN(4) {
		k := mr.key()
		recs = append(recs, db.Record{Key: []byte(k), Index: []byte(mr.idx()), Value: []byte(mr.value())})
		if r, ok := m.byKey[k]; ok {
			held = append(held, r.index)
		}
	}
	if len(held) > 0 && mr.r.IntN(2) == 0 {
		for i := range min(len(held), len(recs)) {
			recs[i].Index = []byte(held[(i+1)%len(held)])
		}
	}
	return recs
}

func keysOf(recs []db.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%q", r.Key))
	}
	return out
}

// compareScan compares one iterator, stopped after limit records (<0: all).
func (mr *modelRun) compareScan(s iterSource, m *model, byIndex, desc bool, from, to []byte, limit int) {
	var seq func(yield func(db.Record) bool)
	switch {
	case !byIndex && !desc:
		seq = s.Ascend(from, to)
	case !byIndex && desc:
		seq = s.Descend(from, to)
	case byIndex && !desc:
		seq = s.AscendIndex(from, to)
	default:
		seq = s.DescendIndex(from, to)
	}
	var got []db.Record
	for r := range seq {
		if limit >= 0 && len(got) == limit {
			break
		}
		got = append(got, r)
	}
	want := m.scan(byIndex, desc, from, to)
	if limit >= 0 && len(want) > limit {
		want = want[:limit]
	}
	name := map[[2]bool]string{{false, false}: "Ascend", {false, true}: "Descend", {true, false}: "AscendIndex", {true, true}: "DescendIndex"}[[2]bool{byIndex, desc}]
	if len(got) != len(want) {
		mr.fail("%s(%q, %q) limit %d: %d records, model %d", name, from, to, limit, len(got), len(want))
	}
	for i := range got {
		if !sameRecord(got[i], want[i]) {
			mr.fail("%s(%q, %q): record %d is %q/%q v%d, model %q/%q v%d", name, from, to, i, got[i].Key, got[i].Index, got[i].Version, want[i].Key, want[i].Index, want[i].Version)
		}
	}
}

// compareAll compares the whole store with m in all four orders.
func (mr *modelRun) compareAll(s *db.Snapshot, m *model) {
	if s.Len() != len(m.byKey) {
		mr.fail("Len %d, model %d", s.Len(), len(m.byKey))
	}
	if s.Version() != m.version {
		mr.fail("version %d, model %d", s.Version(), m.version)
	}
	for _, bi := range []bool{false, true} {
		for _, desc := range []bool{false, true} {
			mr.compareScan(s, m, bi, desc, nil, nil, -1)
		}
	}
	if f := s.Check(5); len(f) > 0 {
		mr.fail("Snapshot.Check: %v", f)
	}
}

func (mr *modelRun) step() {
	d, m := mr.d, mr.m
	switch p := mr.r.IntN(1000); {
	case p < 230: // put
		k, x, v := mr.key(), mr.idx(), mr.value()
		got, want := errClass(d.Put([]byte(k), []byte(x), []byte(v))), errClass(m.put(k, x, v))
		mr.note("put(%q, %q) -> %s", k, x, got)
		if got != want {
			mr.fail("Put(%q, %q): %s, model %s", k, x, got, want)
		}
		if got == "ok" {
			m.version++
		}
	case p < 300: // PutAll, often a rotation of index keys
		recs := mr.batch(m)
		got, want := errClass(d.PutAll(recs...)), errClass(m.putAll(recs))
		mr.note("putAll(%s) -> %s", strings.Join(keysOf(recs), ","), got)
		if got != want {
			mr.fail("PutAll(%s): %s, model %s", strings.Join(keysOf(recs), ","), got, want)
		}
		if got == "ok" && len(recs) > 0 {
			m.version++
		}
	case p < 340: // insert
		k, x, v := mr.key(), mr.idx(), mr.value()
		got, want := errClass(d.Insert([]byte(k), []byte(x), []byte(v))), errClass(m.insert(k, x, v))
		mr.note("insert(%q, %q) -> %s", k, x, got)
		if got != want {
			mr.fail("Insert(%q, %q): %s, model %s", k, x, got, want)
		}
		if got == "ok" {
			m.version++
		}
	case p < 400: // delete
		k := mr.key()
		if mr.r.IntN(2) == 0 && len(m.byKey) > 0 {
			for kk := range m.byKey {
				k = kk
				break
			}
		}
		got, want := errClass(d.Delete([]byte(k))), errClass(m.del(k))
		mr.note("delete(%q) -> %s", k, got)
		if got != want {
			mr.fail("Delete(%q): %s, model %s", k, got, want)
		}
		if got == "ok" {
			m.version++
		}
	case p < 550: // transaction with reads, skipped steps, maybe an abort
		mr.stats.txs++
		mm := m.clone()
		abort := mr.r.IntN(6) == 0
		n := 1 + mr.r.IntN(6)
		var desc []string
		changed := false
		err := d.Update(func(tx *db.Tx) error {
			for range n {
				switch mr.r.IntN(7) {
				case 0, 1:
					k, x, v := mr.key(), mr.idx(), mr.value()
					got, want := errClass(tx.Put([]byte(k), []byte(x), []byte(v))), errClass(mm.put(k, x, v))
					desc = append(desc, fmt.Sprintf("put(%q,%q)=%s", k, x, got))
					if got != want {
						mr.fail("Tx.Put(%q, %q): %s, model %s", k, x, got, want)
					}
					changed = changed || got == "ok"
				case 2:
					k := mr.key()
					got, want := errClass(tx.Delete([]byte(k))), errClass(mm.del(k))
					desc = append(desc, fmt.Sprintf("del(%q)=%s", k, got))
					if got != want {
						mr.fail("Tx.Delete(%q): %s, model %s", k, got, want)
					}
					changed = changed || got == "ok"
				case 4: // PutAll or Insert inside the transaction
					if mr.r.IntN(2) == 0 {
						recs := mr.batch(mm)
						got, want := errClass(tx.PutAll(recs...)), errClass(mm.putAll(recs))
						desc = append(desc, fmt.Sprintf("putAll(%s)=%s", strings.Join(keysOf(recs), ","), got))
						if got != want {
							mr.fail("Tx.PutAll(%s): %s, model %s", strings.Join(keysOf(recs), ","), got, want)
						}
						changed = changed || got == "ok"
					} else {
						k, x, v := mr.key(), mr.idx(), mr.value()
						got, want := errClass(tx.Insert([]byte(k), []byte(x), []byte(v))), errClass(mm.insert(k, x, v))
						desc = append(desc, fmt.Sprintf("insert(%q,%q)=%s", k, x, got))
						if got != want {
							mr.fail("Tx.Insert(%q, %q): %s, model %s", k, x, got, want)
						}
						changed = changed || got == "ok"
					}
				case 5: // the transaction's own iterators
					bi, dsc := mr.r.IntN(2) == 0, mr.r.IntN(2) == 0
					mr.compareScan(tx, mm, bi, dsc, mr.bound(bi), mr.bound(bi), -1)
					desc = append(desc, "scan")
				default: // read your own writes
					k := mr.key()
					r, err := tx.Get([]byte(k))
					want, ok := mm.byKey[k]
					if (err == nil) != ok || (ok && (string(r.Index) != want.index || string(r.Value) != want.value)) {
						mr.fail("Tx.Get(%q) = %q/%q, %v; model %+v, %v", k, r.Index, r.Value, err, want, ok)
					}
					x := mr.idx()
					r, err = tx.GetByIndex([]byte(x))
					wk, ok := mm.byIndex[x]
					if (err == nil) != ok || (ok && string(r.Key) != wk) {
						mr.fail("Tx.GetByIndex(%q) = %q, %v; model %q, %v", x, r.Key, err, wk, ok)
					}
				}
			}
			if abort {
				return errModelAbort
			}
			return nil
		})
		mr.note("update[%s] abort=%v -> %s", strings.Join(desc, " "), abort, errClass(err))
		if abort {
			if !errors.Is(err, errModelAbort) {
				mr.fail("aborted Update returned %v", err)
			}
		} else {
			if err != nil {
				mr.fail("Update: %v", err)
			}
			if changed {
				mm.version++
			}
			mr.m = mm
		}
	case p < 750: // point reads
		k := mr.key()
		r, err := d.Get([]byte(k))
		want, ok := m.byKey[k]
		if (err == nil) != ok || (ok && (string(r.Index) != want.index || string(r.Value) != want.value)) {
			mr.fail("Get(%q) = %q/%q, %v; model %+v, %v", k, r.Index, r.Value, err, want, ok)
		}
		x := mr.idx()
		r, err = d.GetByIndex([]byte(x))
		wk, ok := m.byIndex[x]
		if (err == nil) != ok || (ok && (string(r.Key) != wk || string(r.Index) != x)) {
			mr.fail("GetByIndex(%q) = %q, %v; model %q, %v", x, r.Key, err, wk, ok)
		}
	case p < 900: // a bounded scan
		mr.stats.scans++
		bi, desc := mr.r.IntN(2) == 0, mr.r.IntN(2) == 0
		limit := -1
		if mr.r.IntN(3) == 0 {
			limit = mr.r.IntN(10)
		}
		mr.compareScan(d.Snapshot(), m, bi, desc, mr.bound(bi), mr.bound(bi), limit)
	case p < 960: // a snapshot stays unchanged while writes go on
		mr.stats.snapshots++
		s, before := d.Snapshot(), m.clone()
		for range 1 + mr.r.IntN(5) {
			k, x, v := mr.key(), mr.idx(), mr.value()
			got, want := errClass(d.Put([]byte(k), []byte(x), []byte(v))), errClass(m.put(k, x, v))
			if got != want {
				mr.fail("Put(%q, %q): %s, model %s", k, x, got, want)
			}
			if got == "ok" {
				m.version++
			}
		}
		mr.note("snapshot isolation check at version %d", s.Version())
		mr.compareAll(s, before)
	case p < 995: // checkpoint
		mr.stats.checkpoints++
		v, err := d.Checkpoint()
		mr.note("checkpoint -> %d, %v", v, err)
		if err != nil {
			mr.fail("Checkpoint: %v", err)
		}
	default: // restart
		mr.stats.restarts++
		before := d.Version()
		if err := d.Close(); err != nil {
			mr.fail("Close: %v", err)
		}
		mr.note("close at version %d", before)
		mr.open()
		if v := mr.d.Version(); v != before {
			mr.fail("reopened at version %d, closed at %d", v, before)
		}
		mr.compareAll(mr.d.Snapshot(), mr.m)
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	mr := &modelRun{t: t, seed: seed, r: rand.New(rand.NewPCG(seed, 0x6d6f64656c)), dir: filepath.Join(t.TempDir(), "store"), m: newModel()}
	mr.keys = pool(mr.r, 300, "")
	mr.idxs = append(pool(mr.r, 360, ""), "") // the empty index key is a key like any other
	mr.open()
	for mr.op = 0; mr.op < ops; mr.op++ {
		mr.step()
		if mr.op%1000 == 999 {
			mr.compareAll(mr.d.Snapshot(), mr.m)
		}
	}
	mr.compareAll(mr.d.Snapshot(), mr.m)
	if err := mr.d.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Verify(mr.dir, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("seed %d: Verify after the run: %v %v", seed, err, rep)
	}
	t.Logf("seed %d: %d operations, %d records at the end, %d restarts, %d checkpoints, %d transactions, %d scans, %d snapshot checks",
		seed, ops, len(mr.m.byKey), mr.stats.restarts, mr.stats.checkpoints, mr.stats.txs, mr.stats.scans, mr.stats.snapshots)
}

// TestModel_Randomized runs seeded sequences of operations: 1 seed of
// 3,000 in the fast tier, 2 seeds of 10,000 in the long tier.
// DUALDB_MODEL_SEED runs one given seed; DUALDB_MODEL_SEEDS and
// DUALDB_MODEL_OPS set the number of seeds and their length.
func TestModel_Randomized(t *testing.T) {
	ops := envInt("DUALDB_MODEL_OPS", testtier.Pick(3_000, 10_000))
	seeds := envInt("DUALDB_MODEL_SEEDS", testtier.Pick(1, 2))
	if s := envSeed("DUALDB_MODEL_SEED"); s != 0 {
		runModel(t, s, ops)
		return
	}
	base := uint64(time.Now().UnixNano())
	for i := range seeds {
		seed := base + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runModel(t, seed, ops) })
	}
}

// envSeed returns the uint64 in the environment variable, or 0.
func envSeed(name string) uint64 {
	s, _ := strconv.ParseUint(strings.TrimSpace(os.Getenv(name)), 10, 64)
	return s
}
