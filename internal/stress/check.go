package stress

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualdb/dualdb/db"
)

// Violation is a kind of inconsistent observation.
type Violation int

// The kinds of violation.
const (
	ViolationIndex      Violation = iota // GetByIndex(x) returned a record whose index key is not x
	ViolationKey                         // Get(k) returned another record, or none
	ViolationTorn                        // part of a transaction seen: a temporary index key, or a value written for another index key
	ViolationOrder                       // a scan or a snapshot out of order
	ViolationSnapshot                    // a snapshot whose two indexes disagree
	ViolationOrderCheck                  // the store's own online order check failed
	NumViolations                        // the number of kinds
)

var violationNames = [NumViolations]string{"index", "key", "torn", "order", "snapshot", "ordercheck"}

// String returns the name the results and metrics use.
func (v Violation) String() string { return violationNames[v] }

// examplesPerKind caps the violations of one kind described in the
// results.
const examplesPerKind = 3

// violations counts inconsistent observations and keeps a few examples.
type violations struct {
	counts   [NumViolations]atomic.Uint64
	mu       sync.Mutex // guards examples
	examples []string
}

func (v *violations) add(kind Violation, format string, args ...any) {
	if v.counts[kind].Add(1) > examplesPerKind {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.examples = append(v.examples, kind.String()+": "+fmt.Sprintf(format, args...))
}

func (v *violations) total() uint64 {
	var n uint64
	for i := range v.counts {
		n += v.counts[i].Load()
	}
	return n
}

// Observer returns a db.Observer that passes every event to next (nil:
// none) and counts a failed online order check of the store as a
// ViolationOrderCheck of this run. Give it to db.Open of the store the run
// drives.
func (r *Run) Observer(next db.Observer) db.Observer {
	if next == nil {
		next = db.NopObserver{}
	}
	return observer{Observer: next, v: &r.v}
}

type observer struct {
	db.Observer
	v *violations
}

func (o observer) OrderCheck(ev db.OrderCheckEvent) {
	o.Observer.OrderCheck(ev)
	if len(ev.Findings) > 0 {
		o.v.add(ViolationOrderCheck, "version %d: %s", ev.Version, strings.Join(ev.Findings, "; "))
	}
}

// checkRecord counts what is wrong with a record read by the workload.
func (r *Run) checkRecord(what string, rec db.Record) {
	if bytes.HasPrefix(rec.Index, []byte(tmpPrefix)) {
		r.v.add(ViolationTorn, "%s near version %d: record %q carries the temporary index key %q of an unfinished update", what, r.store.Version(), rec.Key, rec.Index)
	} else if !valueMatches(rec) {
		r.v.add(ViolationTorn, "%s near version %d: record %q with index key %q carries a value written for another index key (%.40q)", what, r.store.Version(), rec.Key, rec.Index, rec.Value)
	}
}

func (r *Run) get(key []byte) error {
	rec, ok, err := r.store.Get(key)
	switch {
	case err != nil:
		return err
	case !ok:
		r.v.add(ViolationKey, "Get(%q) near version %d found nothing; no record is ever deleted", key, r.store.Version())
	case !bytes.Equal(rec.Key, key):
		r.v.add(ViolationKey, "Get(%q) near version %d returned record %q", key, r.store.Version(), rec.Key)
	default:
		r.checkRecord("Get", rec)
	}
	return nil
}

// getIndex looks a record up by the index key its key had a moment ago.
func (r *Run) getIndex(key []byte) error {
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
		r.v.add(ViolationIndex, "GetByIndex(%q) near version %d returned record %q, which carries index key %q", cur.Index, r.store.Version(), rec.Key, rec.Index)
	default:
		r.checkRecord("GetByIndex", rec)
	}
	return nil
}

// scan reads up to scanLimit records from from on and checks their order.
func (r *Run) scan(byIndex bool, from []byte) error {
	var prev []byte
	field, what := "key", "scan by key"
	if byIndex {
		field, what = "index key", "scan by index"
	}
	return r.store.Scan(byIndex, from, scanLimit, func(rec db.Record) bool {
		cur := rec.Key
		if byIndex {
			cur = rec.Index
		}
		switch {
		case bytes.Compare(cur, from) < 0:
			r.v.add(ViolationOrder, "%s from %q near version %d yielded %s %q, before the start", what, from, r.store.Version(), field, cur)
		case prev != nil && bytes.Compare(cur, prev) <= 0:
			r.v.add(ViolationOrder, "%s near version %d yielded %s %q after %q", what, r.store.Version(), field, cur, prev)
		}
		r.checkRecord(what, rec)
		prev = cur
		return true
	})
}

// checker compares a whole read view, by key and by index key, every
// CheckEvery until the run stops. It reuses the buffers of its views from
// one check to the next, so that checking costs the workload little.
func (r *Run) checker() {
	t := r.tallies[len(r.tallies)-1]
	tick := time.NewTicker(r.cfg.CheckEvery)
	defer tick.Stop()
	var c snapshotCheck
	for !r.stop.Load() {
		start := time.Now()
		if err := r.checkSnapshot(&c); err != nil {
			t.errs.Add(1)
			r.fail(fmt.Errorf("check: %w", err))
		}
		t.lat[OpCheck].Add(time.Since(start))
		t.counts[OpCheck].Add(1)
		<-tick.C
	}
}

// snapshotCheck holds the buffers of the checker's views between checks.
type snapshotCheck struct {
	byKey, byIndex []db.Record
}

// keyNumber returns i of a key recordKey(i) (any number of digits after
// "k/"), and whether key has that form.
func keyNumber(key []byte) (int, bool) {
	digits, ok := bytes.CutPrefix(key, []byte("k/"))
	if !ok || len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// checkSnapshot counts one snapshot violation for a view whose two indexes
// disagree, describing the first disagreement, plus order violations.
func (r *Run) checkSnapshot(c *snapshotCheck) error {
	version, byKey, byIndex, err := r.store.Snapshot(c.byKey[:0], c.byIndex[:0])
	if err != nil {
		return err
	}
	c.byKey, c.byIndex = byKey, byIndex
	// dense: byKey holds exactly the loaded keys, in order, so that the
	// record of key recordKey(i) is byKey[i]. Anything else is either a
	// violation (counted below) or a broken store under test.
	dense := len(byKey) == r.cfg.Keys
	scratch := make([]byte, 0, 16)
	for i := range byKey {
		if dense {
			scratch = appendPadded(scratch[:0], "k/", i, 8)
			dense = bytes.Equal(byKey[i].Key, scratch)
		}
		// Dense so far means in order so far: record keys ascend.
		if !dense && i > 0 && bytes.Compare(byKey[i-1].Key, byKey[i].Key) >= 0 {
			r.v.add(ViolationOrder, "snapshot at version %d: key %q after %q", version, byKey[i].Key, byKey[i-1].Key)
		}
		if bytes.HasPrefix(byKey[i].Index, []byte(tmpPrefix)) {
			r.v.add(ViolationTorn, "snapshot at version %d: record %q carries the temporary index key %q of an unfinished update", version, byKey[i].Key, byKey[i].Index)
		}
	}
	for i := 1; i < len(byIndex); i++ {
		if bytes.Compare(byIndex[i-1].Index, byIndex[i].Index) >= 0 {
			r.v.add(ViolationOrder, "snapshot at version %d: index key %q after %q", version, byIndex[i].Index, byIndex[i-1].Index)
		}
	}
	// indexOf finds the index key of the record with key: by the number in
	// the key when byKey is dense (no allocation, no search: the checker
	// should cost the workload little), else in a map.
	indexOf := func(key []byte) ([]byte, bool) {
		i, ok := keyNumber(key)
		if !ok || i >= len(byKey) || len(key) != len(byKey[i].Key) {
			return nil, false // not recordKey(i), the key of byKey[i]
		}
		return byKey[i].Index, true
	}
	if !dense {
		m := make(map[string][]byte, len(byKey))
		for _, rec := range byKey {
			m[string(rec.Key)] = rec.Index
		}
		indexOf = func(key []byte) ([]byte, bool) {
			x, ok := m[string(key)]
			return x, ok
		}
	}
	var problem string
	switch {
	case len(byKey) != r.cfg.Keys:
		problem = fmt.Sprintf("%d records by key, %d loaded and none deleted", len(byKey), r.cfg.Keys)
	case len(byKey) != len(byIndex):
		problem = fmt.Sprintf("%d records by key, %d by index key", len(byKey), len(byIndex))
	}
	for _, rec := range byIndex {
		if problem != "" {
			break
		}
		x, ok := indexOf(rec.Key)
		switch {
		case !ok:
			problem = fmt.Sprintf("index key %q leads to key %q, which has no record", rec.Index, rec.Key)
		case !bytes.Equal(x, rec.Index):
			problem = fmt.Sprintf("index key %q leads to record %q, which carries index key %q", rec.Index, rec.Key, x)
		}
	}
	if problem != "" {
		r.v.add(ViolationSnapshot, "snapshot at version %d: %s", version, problem)
	}
	return nil
}
