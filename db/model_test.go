package db_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: $DUALDB_SEED, else the clock)")

// testSeed returns the seed of a randomized test: -seed, else
// $DUALDB_SEED, else the clock. It logs it; failures repeat it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		if s := os.Getenv("DUALDB_SEED"); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("DUALDB_SEED=%q: %v", s, err)
			}
			seed = v
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (reproduce with -seed %d or DUALDB_SEED=%d)", seed, seed, seed)
	return seed
}

// seededTB prefixes every failure message with the seed, also those of
// shared helpers such as reopenTest and the cleanup check.
type seededTB struct {
	testing.TB
	seed uint64
}

func (s seededTB) prefix() string { return fmt.Sprintf("seed %d: ", s.seed) }
func (s seededTB) Fatalf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Fatalf(s.prefix()+format, args...)
}
func (s seededTB) Errorf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Errorf(s.prefix()+format, args...)
}
func (s seededTB) Fatal(args ...any) {
	s.TB.Helper()
	s.TB.Fatal(append([]any{s.prefix()}, args...)...)
}
func (s seededTB) Error(args ...any) {
	s.TB.Helper()
	s.TB.Error(append([]any{s.prefix()}, args...)...)
}

// model is the trivial reference: two maps, no concurrency.
type model struct {
	version uint64
	byKey   map[string]db.Record
	byIdx   map[string]string // index key -> key
}

func newModel() *model {
	return &model{byKey: map[string]db.Record{}, byIdx: map[string]string{}}
}

func (m *model) clone() *model {
	c := &model{version: m.version, byKey: make(map[string]db.Record, len(m.byKey)), byIdx: make(map[string]string, len(m.byIdx))}
	for k, v := range m.byKey {
		c.byKey[k] = v
	}
	for k, v := range m.byIdx {
		c.byIdx[k] = v
	}
	return c
}

// put applies a Put, made by the commit of version m.version+1; it returns
// the owner of index on a conflict.
func (m *model) put(key, index, value []byte) (owner string, conflict bool) {
	if o, ok := m.byIdx[string(index)]; ok && o != string(key) {
		return o, true
	}
	if old, ok := m.byKey[string(key)]; ok {
		delete(m.byIdx, string(old.Index))
	}
	m.byKey[string(key)] = db.Record{Key: bytes.Clone(key), Index: bytes.Clone(index), Value: bytes.Clone(value), Version: m.version + 1}
	m.byIdx[string(index)] = string(key)
	return "", false
}

// insert applies an Insert: exists is true if key is present.
func (m *model) insert(key, index, value []byte) (owner string, conflict, exists bool) {
	if _, ok := m.byKey[string(key)]; ok {
		return "", false, true
	}
	owner, conflict = m.put(key, index, value)
	return owner, conflict, false
}

// putAll applies a PutAll as one step, checked as a whole. It returns
// what PutAll must answer: "" (done), "dup" (a key twice) or "conflict",
// with the key asking for a taken index key and its owner.
func (m *model) putAll(recs []db.Record) (kind, key, owner string) {
	pos := map[string]bool{}
	for _, r := range recs {
		if pos[string(r.Key)] {
			return "dup", string(r.Key), ""
		}
		pos[string(r.Key)] = true
	}
	taken := map[string]string{}
	for _, r := range recs {
		if o, ok := taken[string(r.Index)]; ok {
			return "conflict", string(r.Key), o
		}
		taken[string(r.Index)] = string(r.Key)
		if o, ok := m.byIdx[string(r.Index)]; ok && !pos[o] {
			return "conflict", string(r.Key), o
		}
	}
	for _, r := range recs {
		if old, ok := m.byKey[string(r.Key)]; ok {
			delete(m.byIdx, string(old.Index))
		}
	}
	for _, r := range recs {
		m.byKey[string(r.Key)] = db.Record{Key: bytes.Clone(r.Key), Index: bytes.Clone(r.Index), Value: bytes.Clone(r.Value), Version: m.version + 1}
		m.byIdx[string(r.Index)] = string(r.Key)
	}
	return "", "", ""
}

// prefixScan is what AscendPrefix (byIndex false) or AscendIndexPrefix
// must yield for prefix.
func (m *model) prefixScan(byIndex bool, prefix []byte) []db.Record {
	it := "Ascend"
	if byIndex {
		it = "AscendIndex"
	}
	var out []db.Record
	for _, r := range m.scan(it, nil, nil) {
		f := r.Key
		if byIndex {
			f = r.Index
		}
		if bytes.HasPrefix(f, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (m *model) del(key []byte) bool {
	old, ok := m.byKey[string(key)]
	if !ok {
		return false
	}
	delete(m.byKey, string(key))
	delete(m.byIdx, string(old.Index))
	return true
}

func (m *model) get(key []byte) (db.Record, bool) {
	r, ok := m.byKey[string(key)]
	return r, ok
}

func (m *model) getByIndex(index []byte) (db.Record, bool) {
	k, ok := m.byIdx[string(index)]
	if !ok {
		return db.Record{}, false
	}
	return m.byKey[k], true
}

// scan is what the named iterator must yield for [from, to).
func (m *model) scan(it string, from, to []byte) []db.Record {
	byIndex := it == "AscendIndex" || it == "DescendIndex"
	desc := it == "Descend" || it == "DescendIndex"
	field := func(r db.Record) []byte { return r.Key }
	if byIndex {
		field = func(r db.Record) []byte { return r.Index }
	}
	var out []db.Record
	for _, r := range m.byKey {
		k := field(r)
		var in bool
		if desc {
			in = (from == nil || bytes.Compare(k, from) <= 0) && (to == nil || bytes.Compare(k, to) > 0)
		} else {
			in = (from == nil || bytes.Compare(k, from) >= 0) && (to == nil || bytes.Compare(k, to) < 0)
		}
		if in {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b db.Record) int { return bytes.Compare(field(a), field(b)) })
	if desc {
		slices.Reverse(out)
	}
	return out
}

func txIterOf(tx *db.Tx, it string) func(from, to []byte) iter.Seq[db.Record] {
	switch it {
	case "Ascend":
		return tx.Ascend
	case "Descend":
		return tx.Descend
	case "AscendIndex":
		return tx.AscendIndex
	default:
		return tx.DescendIndex
	}
}

// txWrite makes one Put or Delete in tx and tm; wrote says whether it
// changed something.
func (w *workload) txWrite(tx *db.Tx, tm *model) (wrote bool, diff string) {
	if w.r.IntN(3) == 0 {
		k := w.key()
		err := tx.Delete(k)
		if tm.del(k) {
			if err != nil {
				return false, fmt.Sprintf("tx.Delete(%q) = %v, model: ok", k, err)
			}
			return true, ""
		}
		if !errors.Is(err, db.ErrNotFound) {
			return false, fmt.Sprintf("tx.Delete(%q) = %v, model: not found", k, err)
		}
		return false, ""
	}
	k, ix, v := w.key(), w.index(), w.value()
	err := tx.Put(k, ix, v)
	if owner, conflict := tm.put(k, ix, v); conflict {
		var ce *db.ConflictError
		if !errors.As(err, &ce) || string(ce.Owner) != owner {
			return false, fmt.Sprintf("tx.Put(%q, %q) = %v, model: conflict with owner %q", k, ix, err, owner)
		}
		return false, ""
	}
	if err != nil {
		return false, fmt.Sprintf("tx.Put(%q, %q) = %v, model: ok", k, ix, err)
	}
	return true, ""
}

func iterOf(s *db.Snapshot, it string) func(from, to []byte) iter.Seq[db.Record] {
	switch it {
	case "Ascend":
		return s.Ascend
	case "Descend":
		return s.Descend
	case "AscendIndex":
		return s.AscendIndex
	default:
		return s.DescendIndex
	}
}

var iterNames = []string{"Ascend", "Descend", "AscendIndex", "DescendIndex"}

// compareAll describes the first difference between m and s, or is empty:
// version, Len, both full orders, every point read by both keys, Check.
func (m *model) compareAll(s *db.Snapshot) string {
	if s.Version() != m.version {
		return fmt.Sprintf("version %d, model %d", s.Version(), m.version)
	}
	if s.Len() != len(m.byKey) {
		return fmt.Sprintf("Len %d, model %d", s.Len(), len(m.byKey))
	}
	for _, it := range iterNames {
		if d := compareScan(it, nil, nil, iterOf(s, it)(nil, nil), m.scan(it, nil, nil)); d != "" {
			return d
		}
	}
	for _, r := range m.byKey {
		if got, err := s.Get(r.Key); err != nil || !sameRecord(got, r) {
			return fmt.Sprintf("Get(%q) = %s, %v; model %s", r.Key, fmtRec(got), err, fmtRec(r))
		}
		if got, err := s.GetByIndex(r.Index); err != nil || !sameRecord(got, r) {
			return fmt.Sprintf("GetByIndex(%q) = %s, %v; model %s", r.Index, fmtRec(got), err, fmtRec(r))
		}
	}
	if f := s.Check(0); len(f) != 0 {
		return fmt.Sprintf("Check: %d findings, first %s", len(f), f[0])
	}
	return ""
}

func compareScan(it string, from, to []byte, seq iter.Seq[db.Record], want []db.Record) string {
	var got []db.Record
	for r := range seq {
		got = append(got, r)
	}
	if slices.EqualFunc(got, want, sameRecord) {
		return ""
	}
	byIndex := it == "AscendIndex" || it == "DescendIndex"
	return fmt.Sprintf("%s(%q, %q) = [%s], model [%s]", it, from, to,
		keysOf(slices.Values(got), byIndex), keysOf(slices.Values(want), byIndex))
}

// workload draws keys, index keys and values from small spaces so that
// replacements, conflicts and misses are frequent. Keys are unpadded
// ("k1" < "k10" < "k2") so prefixes meet in the orders.
type workload struct {
	r       *rand.Rand
	keys    int // key space
	indexes int // index key space
}

func (w *workload) key() []byte { return fmt.Appendf(nil, "k%d", w.r.IntN(w.keys)) }

func (w *workload) index() []byte {
	if w.r.IntN(200) == 0 {
		return []byte{} // the empty index key is a key like any other
	}
	return fmt.Appendf(nil, "i%d", w.r.IntN(w.indexes))
}

func (w *workload) value() []byte {
	v := make([]byte, w.r.IntN(24))
	for i := range v {
		v[i] = byte('a' + w.r.IntN(26))
	}
	return v
}

// batch draws 1-4 records for PutAll. Often they trade the index keys
// they hold now among themselves (a rotation), sometimes one takes an
// index key another record of the batch holds, and rarely a key repeats.
func (w *workload) batch(m *model) []db.Record {
	n := 1 + w.r.IntN(4)
	recs := make([]db.Record, 0, n)
	for range n {
		recs = append(recs, db.Record{Key: w.key(), Index: w.index(), Value: w.value()})
	}
	var held [][]byte
	for _, r := range recs {
		if cur, ok := m.get(r.Key); ok {
			held = append(held, cur.Index)
		}
	}
	switch {
	case len(held) > 0 && w.r.IntN(2) == 0: // rotate what the batch holds
		for i := range min(len(held), len(recs)) {
			recs[i].Index = held[(i+1)%len(held)]
		}
	case len(held) > 0 && w.r.IntN(2) == 0:
		recs[w.r.IntN(len(recs))].Index = held[w.r.IntN(len(held))]
	}
	return recs
}

// checkPutAll compares the answer err of a PutAll with the model's.
func checkPutAll(what string, recs []db.Record, err error, kind, key, owner string) string {
	switch kind {
	case "dup":
		if !errors.Is(err, db.ErrDuplicateKey) {
			return fmt.Sprintf("%s(%s) = %v, model: key %q twice", what, fmtRecs(recs), err, key)
		}
	case "conflict":
		var ce *db.ConflictError
		if !errors.As(err, &ce) || string(ce.Key) != key || string(ce.Owner) != owner {
			return fmt.Sprintf("%s(%s) = %v, model: conflict of %q with %q", what, fmtRecs(recs), err, key, owner)
		}
	default:
		if err != nil {
			return fmt.Sprintf("%s(%s) = %v, model: ok", what, fmtRecs(recs), err)
		}
	}
	return ""
}

// checkInsert compares the answer err of an Insert with the model's.
func checkInsert(what string, k, ix []byte, err error, owner string, conflict, exists bool) string {
	var ce *db.ConflictError
	switch {
	case exists:
		if !errors.Is(err, db.ErrExists) || !strings.Contains(err.Error(), fmt.Sprintf("%q", k)) {
			return fmt.Sprintf("%s(%q, %q) = %v, model: exists", what, k, ix, err)
		}
	case conflict:
		if !errors.As(err, &ce) || string(ce.Owner) != owner {
			return fmt.Sprintf("%s(%q, %q) = %v, model: conflict with owner %q", what, k, ix, err, owner)
		}
	case err != nil:
		return fmt.Sprintf("%s(%q, %q) = %v, model: ok", what, k, ix, err)
	}
	return ""
}

func fmtRecs(recs []db.Record) string {
	var b strings.Builder
	for i, r := range recs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(fmtRec(r))
	}
	return b.String()
}

// bound is a scan bound: open, a stored-looking key, or a probe between.
func (w *workload) bound(byIndex bool) []byte {
	switch w.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return fmt.Appendf(nil, "%c", "aijkz"[w.r.IntN(5)])
	}
	if byIndex {
		return w.index()
	}
	return w.key()
}

// step runs one randomized step against d and the model m (which it
// updates) and reports the first difference, or "".
func (w *workload) step(d *db.DB, m *model) string { return w.do(w.r.IntN(100), d, m) }

// writeStep is one Put or Delete step.
func (w *workload) writeStep(d *db.DB, m *model) string { return w.do(w.r.IntN(40), d, m) }

// do runs step number p of 100: Put, PutAll, Insert, Delete, Update,
// reads, scans, compare.
func (w *workload) do(p int, d *db.DB, m *model) string {
	switch {
	case p < 24: // Put
		k, ix, v := w.key(), w.index(), w.value()
		err := d.Put(k, ix, v)
		owner, conflict := m.put(k, ix, v)
		if conflict {
			var ce *db.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, db.ErrConflict) || string(ce.Owner) != owner {
				return fmt.Sprintf("Put(%q, %q) = %v, model: conflict with owner %q", k, ix, err, owner)
			}
			return ""
		}
		if err != nil {
			return fmt.Sprintf("Put(%q, %q) = %v, model: ok", k, ix, err)
		}
		m.version++
	case p < 30: // PutAll
		recs := w.batch(m)
		err := d.PutAll(recs...)
		kind, key, owner := m.putAll(recs)
		if diff := checkPutAll("PutAll", recs, err, kind, key, owner); diff != "" {
			return diff
		}
		if kind == "" {
			m.version++
		}
	case p < 34: // Insert
		k, ix, v := w.key(), w.index(), w.value()
		if cur, ok := m.get(k); ok && w.r.IntN(2) == 0 {
			ix = cur.Index // the key exists: refused, whatever the index key
		}
		err := d.Insert(k, ix, v)
		owner, conflict, exists := m.insert(k, ix, v)
		if diff := checkInsert("Insert", k, ix, err, owner, conflict, exists); diff != "" {
			return diff
		}
		if !conflict && !exists {
			m.version++
		}
	case p < 40: // Delete
		k := w.key()
		err := d.Delete(k)
		if m.del(k) {
			if err != nil {
				return fmt.Sprintf("Delete(%q) = %v, model: ok", k, err)
			}
			m.version++
		} else if !errors.Is(err, db.ErrNotFound) {
			return fmt.Sprintf("Delete(%q) = %v, model: not found", k, err)
		}
	case p < 60: // multi-op Update
		return w.update(d, m)
	case p < 72: // point reads, by both keys, from d and from a snapshot
		k, ix := w.key(), w.index()
		s := d.Snapshot()
		for _, src := range []struct {
			name          string
			get, getByIdx func([]byte) (db.Record, error)
		}{{"d", d.Get, d.GetByIndex}, {"snapshot", s.Get, s.GetByIndex}} {
			got, err := src.get(k)
			want, ok := m.get(k)
			if diff := comparePoint(src.name+".Get", k, got, err, want, ok); diff != "" {
				return diff
			}
			got, err = src.getByIdx(ix)
			want, ok = m.getByIndex(ix)
			if diff := comparePoint(src.name+".GetByIndex", ix, got, err, want, ok); diff != "" {
				return diff
			}
		}
	case p < 76: // prefix scan
		byIndex := w.r.IntN(2) == 0
		prefix := w.bound(byIndex)
		if len(prefix) > 0 {
			prefix = prefix[:w.r.IntN(len(prefix)+1)]
		}
		s := d.Snapshot()
		seq, name := s.AscendPrefix(prefix), "AscendPrefix"
		if byIndex {
			seq, name = s.AscendIndexPrefix(prefix), "AscendIndexPrefix"
		}
		return compareScan(name, prefix, nil, seq, m.prefixScan(byIndex, prefix))
	case p < 98: // range scan
		it := iterNames[w.r.IntN(4)]
		byIndex := it == "AscendIndex" || it == "DescendIndex"
		from, to := w.bound(byIndex), w.bound(byIndex)
		if w.r.IntN(2) == 0 {
			from, to = to, from
		}
		s := d.Snapshot()
		if s.Version() != m.version {
			return fmt.Sprintf("snapshot version %d, model %d", s.Version(), m.version)
		}
		seq := iterOf(s, it)(from, to)
		want := m.scan(it, from, to)
		if n := w.r.IntN(4); n == 0 && len(want) > 0 { // stop early
			want = want[:w.r.IntN(len(want))]
			full := seq
			seq = func(yield func(db.Record) bool) {
				i := 0
				for r := range full {
					if i == len(want) {
						return
					}
					i++
					if !yield(r) {
						return
					}
				}
			}
		}
		return compareScan(it, from, to, seq, want)
	default: // full comparison
		return m.compareAll(d.Snapshot())
	}
	if v := d.Version(); v != m.version {
		return fmt.Sprintf("Version %d, model %d", v, m.version)
	}
	return ""
}

func comparePoint(what string, arg []byte, got db.Record, err error, want db.Record, ok bool) string {
	if !ok {
		if !errors.Is(err, db.ErrNotFound) {
			return fmt.Sprintf("%s(%q) = %s, %v; model: not found", what, arg, fmtRec(got), err)
		}
		return ""
	}
	if err != nil || !sameRecord(got, want) {
		return fmt.Sprintf("%s(%q) = %s, %v; model %s", what, arg, fmtRec(got), err, fmtRec(want))
	}
	return ""
}

// update runs one Update of 1-8 ops with reads in between; a quarter of
// them return an error and a few panic, and must leave nothing behind.
func (w *workload) update(d *db.DB, m *model) string {
	tm := m.clone()
	ops := 0
	var diff string
	ending := w.r.IntN(20) // 0-3: error, 4: panic, else commit
	n := 1 + w.r.IntN(8)
	var panicked any
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				panicked = p
			}
		}()
		return d.Update(func(tx *db.Tx) error {
			for range n {
				switch w.r.IntN(9) {
				case 0, 1:
					k, ix, v := w.key(), w.index(), w.value()
					err := tx.Put(k, ix, v)
					owner, conflict := tm.put(k, ix, v)
					if conflict {
						var ce *db.ConflictError
						if !errors.As(err, &ce) || string(ce.Owner) != owner {
							diff = fmt.Sprintf("tx.Put(%q, %q) = %v, model: conflict with owner %q", k, ix, err, owner)
							return nil
						}
					} else if err != nil {
						diff = fmt.Sprintf("tx.Put(%q, %q) = %v, model: ok", k, ix, err)
						return nil
					} else {
						ops++
					}
				case 2:
					k := w.key()
					err := tx.Delete(k)
					if tm.del(k) {
						if err != nil {
							diff = fmt.Sprintf("tx.Delete(%q) = %v, model: ok", k, err)
							return nil
						}
						ops++
					} else if !errors.Is(err, db.ErrNotFound) {
						diff = fmt.Sprintf("tx.Delete(%q) = %v, model: not found", k, err)
						return nil
					}
				case 4: // PutAll: a refusal leaves the transaction as it was
					recs := w.batch(tm)
					err := tx.PutAll(recs...)
					kind, key, owner := tm.putAll(recs)
					if diff = checkPutAll("tx.PutAll", recs, err, kind, key, owner); diff != "" {
						return nil
					}
					if kind == "" {
						ops++
					}
				case 5:
					k, ix, v := w.key(), w.index(), w.value()
					err := tx.Insert(k, ix, v)
					owner, conflict, exists := tm.insert(k, ix, v)
					if diff = checkInsert("tx.Insert", k, ix, err, owner, conflict, exists); diff != "" {
						return nil
					}
					if !conflict && !exists {
						ops++
					}
				case 6: // a range scan of the transaction's own state
					it := iterNames[w.r.IntN(4)]
					byIndex := it == "AscendIndex" || it == "DescendIndex"
					from, to := w.bound(byIndex), w.bound(byIndex)
					if diff = compareScan("tx."+it, from, to, txIterOf(tx, it)(from, to), tm.scan(it, from, to)); diff != "" {
						return nil
					}
				case 7: // write while iterating: the iteration sees the state
					// of its start; the write is seen afterwards
					it := iterNames[w.r.IntN(4)]
					want := tm.scan(it, nil, nil)
					at := w.r.IntN(len(want) + 1)
					var got []db.Record
					for r := range txIterOf(tx, it)(nil, nil) {
						if len(got) == at {
							if wrote, d := w.txWrite(tx, tm); d != "" {
								diff = "while iterating: " + d
								return nil
							} else if wrote {
								ops++
							}
						}
						got = append(got, r)
					}
					if !slices.EqualFunc(got, want, sameRecord) {
						diff = fmt.Sprintf("tx.%s while writing = [%s], state at its start [%s]", it,
							keysOf(slices.Values(got), false), keysOf(slices.Values(want), false))
						return nil
					}
					if diff = compareScan("tx."+it+" after writing", nil, nil, txIterOf(tx, it)(nil, nil), tm.scan(it, nil, nil)); diff != "" {
						return nil
					}
				default:
					k, ix := w.key(), w.index()
					got, err := tx.Get(k)
					want, ok := tm.get(k)
					if diff = comparePoint("tx.Get", k, got, err, want, ok); diff != "" {
						return nil
					}
					got, err = tx.GetByIndex(ix)
					want, ok = tm.getByIndex(ix)
					if diff = comparePoint("tx.GetByIndex", ix, got, err, want, ok); diff != "" {
						return nil
					}
				}
			}
			switch {
			case ending < 4:
				return errAbort
			case ending == 4:
				panic("test: panic in Update")
			}
			return nil
		})
	}()
	if diff != "" {
		return "in Update: " + diff
	}
	switch {
	case ending < 4:
		if !errors.Is(err, errAbort) || panicked != nil {
			return fmt.Sprintf("aborted Update = %v (panic %v), want errAbort", err, panicked)
		}
	case ending == 4:
		if panicked == nil {
			return fmt.Sprintf("panicking Update returned %v instead of re-raising", err)
		}
	default:
		if err != nil || panicked != nil {
			return fmt.Sprintf("Update = %v (panic %v), want nil", err, panicked)
		}
		if ops > 0 {
			tm.version++
		}
		*m = *tm
	}
	if v := d.Version(); v != m.version {
		return fmt.Sprintf("after Update (%d ops, ending %d): Version %d, model %d", ops, ending, v, m.version)
	}
	return ""
}

// TestModel runs 12,000 random steps against a map+sort model, reopening
// the DB at random points (one stretch in 8 durable, the others NoSync,
// always by a clean Close) and comparing everything.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	tb := seededTB{t, seed}
	r := rand.New(rand.NewPCG(seed, 0x6d6f64656c))
	w := &workload{r: r, keys: 300, indexes: 200}
	steps := 12_000
	if testing.Short() {
		steps = 3_000
	}
	// Stretches with frequent automatic checkpoints make reopens load
	// snapshots, not only the WAL.
	opts := func() *db.Options {
		return &db.Options{NoSync: r.IntN(8) != 0, CheckpointEvery: []int{0, 7, 60}[r.IntN(3)]}
	}
	d := openTest(tb, opts())
	m := newModel()
	reopens := 0
	for i := range steps {
		if diff := w.step(d, m); diff != "" {
			tb.Fatalf("step %d: %s", i, diff)
		}
		if r.IntN(400) == 0 {
			d = reopenTest(tb, d, opts())
			reopens++
			if diff := m.compareAll(d.Snapshot()); diff != "" {
				tb.Fatalf("step %d, after reopen %d: %s", i, reopens, diff)
			}
		}
	}
	if diff := m.compareAll(d.Snapshot()); diff != "" {
		tb.Fatalf("end: %s", diff)
	}
	t.Logf("%d steps, %d reopens, version %d, %d records", steps, reopens, m.version, len(m.byKey))
}
