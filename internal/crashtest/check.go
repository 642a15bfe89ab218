package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
)

// CheckSnapshot checks the store's invariants on s with its own scans
// (not trusting the index's Check): both orders strictly ascending, both
// directions agreeing, the same records by key and by index, the index a
// bijection, Get and GetByIndex agreeing with the scans, Len matching; and
// then runs s.Check. It returns at most limit findings (<= 0: all).
func CheckSnapshot(s *db.Snapshot, limit int) []string {
	var out []string
	add := func(format string, args ...any) {
		if limit <= 0 || len(out) < limit {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	byKey := map[string]db.Record{}
	var prev []byte
	n := 0
	for r := range s.Ascend(nil, nil) {
		if n > 0 && bytes.Compare(prev, r.Key) >= 0 {
			add("order: key %q after %q", r.Key, prev)
		}
		prev, n = r.Key, n+1
		byKey[string(r.Key)] = r
	}
	if n != s.Len() {
		add("count: Ascend yields %d records, Len says %d", n, s.Len())
	}
	m := 0
	prev = nil
	for r := range s.Descend(nil, nil) {
		if m > 0 && bytes.Compare(prev, r.Key) <= 0 {
			add("order: Descend yields key %q after %q", r.Key, prev)
		}
		prev, m = r.Key, m+1
	}
	if m != n {
		add("count: Descend yields %d records, Ascend %d", m, n)
	}
	seen := 0
	prev = nil
	for r := range s.AscendIndex(nil, nil) {
		if seen > 0 && bytes.Compare(prev, r.Index) >= 0 {
			add("order: index key %q after %q", r.Index, prev)
		}
		prev, seen = r.Index, seen+1
		p, ok := byKey[string(r.Key)]
		switch {
		case !ok:
			add("bijection: index %q leads to key %q, which the primary order lacks", r.Index, r.Key)
		case !bytes.Equal(p.Index, r.Index) || !bytes.Equal(p.Value, r.Value):
			add("bijection: index %q leads to a record of key %q that differs from the primary one (index %q)", r.Index, r.Key, p.Index)
		}
		if g, err := s.GetByIndex(r.Index); err != nil || !bytes.Equal(g.Key, r.Key) {
			add("lookup: GetByIndex(%q) = %q, %v; the index scan says key %q", r.Index, g.Key, err, r.Key)
		}
	}
	if seen != n {
		add("count: AscendIndex yields %d records, Ascend %d", seen, n)
	}
	m = 0
	prev = nil
	for r := range s.DescendIndex(nil, nil) {
		if m > 0 && bytes.Compare(prev, r.Index) <= 0 {
			add("order: DescendIndex yields index %q after %q", r.Index, prev)
		}
		prev, m = r.Index, m+1
	}
	if m != n {
		add("count: DescendIndex yields %d records, Ascend %d", m, n)
	}
	for k, r := range byKey {
		if g, err := s.Get([]byte(k)); err != nil || !bytes.Equal(g.Value, r.Value) || !bytes.Equal(g.Index, r.Index) {
			add("lookup: Get(%q) = %v; the scan says index %q", k, err, r.Index)
		}
	}
	for _, f := range s.Check(limit) {
		add("Snapshot.Check: %s", f)
	}
	return out
}

// StoreState is what ReadStore found in a store on disk.
type StoreState struct {
	Exists   bool   // the store could be opened
	OpenErr  string // why not
	Version  uint64
	Records  map[string]Rec
	Versions map[string]uint64 // key -> Record.Version
	Findings []string          // invariant and Verify findings
	Panicked bool              // Open, a read or Verify panicked (or the checker process died)
}

// ReadStore opens the store in dir read-only (as a crashed process left
// it: nothing is written), reads every record, checks the invariants and
// the change feed (CheckFeed), and runs db.Verify. A store that does not open is reported in OpenErr.
func ReadStore(dir string) (st *StoreState) {
	st = &StoreState{Records: map[string]Rec{}, Versions: map[string]uint64{}}
	defer func() {
		// A panic on a damaged file breaks invariant 5 (a corrupt file is
		// reported, never loaded): report it as what it is.
		if p := recover(); p != nil {
			st.Panicked = true
			st.Findings = append(st.Findings, fmt.Sprintf("PANIC while reading the store: %v", p))
			if !st.Exists {
				st.OpenErr = fmt.Sprintf("panic in Open: %v", p)
			}
		}
	}()
	d, err := OpenNoPanic(dir, &db.Options{ReadOnly: true, CheckpointEvery: -1})
	if err != nil {
		st.Panicked = errors.Is(err, ErrPanic)
		st.OpenErr = err.Error()
		return st
	}
	st.Exists = true
	s := d.Snapshot()
	st.Version = s.Version()
	for r := range s.Ascend(nil, nil) {
		st.Records[string(r.Key)] = Rec{Index: string(r.Index), Value: string(r.Value)}
		st.Versions[string(r.Key)] = r.Version
	}
	st.Findings = append(st.Findings, CheckSnapshot(s, 20)...)
	st.Findings = append(st.Findings, CheckFeed(d, dir, 20)...)
	if err := d.Close(); err != nil {
		st.Findings = append(st.Findings, fmt.Sprintf("close after a read-only open: %v", err))
	}
	rep, err := verifyNoPanic(dir)
	switch {
	case err != nil:
		st.Panicked = st.Panicked || errors.Is(err, ErrPanic)
		st.Findings = append(st.Findings, fmt.Sprintf("db.Verify: %v", err))
	default:
		for _, f := range rep.Findings {
			st.Findings = append(st.Findings, "db.Verify: "+f.String())
		}
		if rep.Version != st.Version || rep.Records != len(st.Records) {
			st.Findings = append(st.Findings, fmt.Sprintf("db.Verify rebuilt version %d with %d records; Open loaded version %d with %d",
				rep.Version, rep.Records, st.Version, len(st.Records)))
		}
	}
	return st
}

// ReadStoreRW opens the store in dir read-write, as a restarted program
// does (recovery removes what a crash left), reads every record, checks
// the invariants and that no temporary file is left, and closes it.
func ReadStoreRW(dir string) (st *StoreState) {
	st = &StoreState{Records: map[string]Rec{}, Versions: map[string]uint64{}}
	d, err := OpenNoPanic(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		st.Panicked = errors.Is(err, ErrPanic)
		st.OpenErr = err.Error()
		return st
	}
	st.Exists = true
	s := d.Snapshot()
	st.Version = s.Version()
	for r := range s.Ascend(nil, nil) {
		st.Records[string(r.Key)] = Rec{Index: string(r.Index), Value: string(r.Value)}
		st.Versions[string(r.Key)] = r.Version
	}
	st.Findings = append(st.Findings, CheckSnapshot(s, 20)...)
	left, err := Leftovers(dir)
	if err != nil {
		st.Findings = append(st.Findings, fmt.Sprintf("list leftovers: %v", err))
	}
	if len(left) > 0 {
		st.Findings = append(st.Findings, "temporary files left after Open: "+strings.Join(left, ", "))
	}
	if err := d.Close(); err != nil {
		st.Findings = append(st.Findings, fmt.Sprintf("close after a read-write open: %v", err))
	}
	return st
}

// Leftovers lists the temporary files in dir's snapshot directory, which
// an Open must have removed.
func Leftovers(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, db.SnapDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), snapshot.TempSuffix) {
			out = append(out, filepath.Join(db.SnapDir, e.Name()))
		}
	}
	return out, nil
}

// ErrPanic is wrapped by the errors of OpenNoPanic and verifyNoPanic when
// the call panicked.
var ErrPanic = errors.New("crashtest: panic")

// OpenNoPanic is db.Open with a panic turned into an error wrapping
// ErrPanic: a store must never panic on a damaged file, and a harness
// must survive to report it.
func OpenNoPanic(dir string, opts *db.Options) (d *db.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w in db.Open(%s): %v", ErrPanic, dir, p)
		}
	}()
	return db.Open(dir, opts)
}

func verifyNoPanic(dir string) (rep *db.VerifyReport, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, err = nil, fmt.Errorf("%w in db.Verify(%s): %v", ErrPanic, dir, p)
		}
	}()
	return db.Verify(dir, nil)
}
