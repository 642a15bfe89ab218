package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/wal"
)

// Finding is one defect Verify found.
type Finding struct {
	File    string // path of the file concerned
	Offset  int64  // byte offset in File, -1 if the position is a version or unknown
	Version uint64 // version concerned, 0 if none
	Check   string // short kind: "meta", "snapshot", "snapshot-store-id", "snapshot-index", "snapshot-missing", "snapshot-unlisted", "snapshot-dir", "wal", "wal-reach", "open", "invariant"
	Reason  string
}

// String formats the finding as "file: position: check: reason".
func (f Finding) String() string {
	pos := ""
	switch {
	case f.Offset >= 0 && f.Version != 0:
		pos = fmt.Sprintf("offset %d (version %d)", f.Offset, f.Version)
	case f.Offset >= 0:
		pos = fmt.Sprintf("offset %d", f.Offset)
	case f.Version != 0:
		pos = fmt.Sprintf("version %d", f.Version)
	default:
		pos = "-"
	}
	return fmt.Sprintf("%s: %s: %s: %s", f.File, pos, f.Check, f.Reason)
}

// VerifyOptions configure Verify. The zero value is valid.
type VerifyOptions struct {
	// Progress, if set, is called as records are checked with the number
	// done and the total expected (snapshot records plus WAL records).
	Progress func(done, total int64)
	// MaxFindings caps the findings reported; 0 means 1000.
	MaxFindings int
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Dir        string
	Loaded     bool   // the state could be rebuilt, as Open would; false means Open fails
	Version    uint64 // version of the rebuilt state, 0 if not Loaded
	Records    int    // records in the rebuilt state, 0 if not Loaded
	Snapshots  int    // snapshot files checked
	WALRecords int    // WAL records checked
	Findings   []Finding
}

// OK reports whether Verify found nothing wrong.
func (r *VerifyReport) OK() bool { return len(r.Findings) == 0 }

type verifier struct {
	rep   *VerifyReport
	opts  VerifyOptions
	done  int64
	total int64
}

// add records f, unless the same defect (file, position, reason) is
// already recorded: a WAL gap found by the WAL check stops the rebuild
// too, and is one defect, not two.
func (v *verifier) add(f Finding) {
	for _, g := range v.rep.Findings {
		if g.File == f.File && g.Offset == f.Offset && g.Version == f.Version && g.Reason == f.Reason {
			return
		}
	}
	if len(v.rep.Findings) < v.opts.MaxFindings {
		v.rep.Findings = append(v.rep.Findings, f)
	}
}

// addErr turns err into a finding, taking file and position from a
// *CorruptionError when there is one.
func (v *verifier) addErr(check, file string, err error) {
	var ce *CorruptionError
	if errors.As(err, &ce) {
		v.add(Finding{File: ce.File, Offset: ce.Offset, Version: ce.Version, Check: check, Reason: ce.Reason})
		return
	}
	v.add(Finding{File: file, Offset: -1, Check: check, Reason: err.Error()})
}

func (v *verifier) tick(n int64) {
	v.done += n
	if v.opts.Progress != nil && (v.done%4096 == 0 || v.done == v.total) {
		v.opts.Progress(v.done, v.total)
	}
}

// Verify checks the store in dir without writing anything: every snapshot
// file (checksums, order, count, store id, unique index keys), the WAL
// (CRC of every record, contiguous versions, reaching back to a kept
// snapshot), then rebuilds the state the way Open does and checks the
// store's invariants on it (order of both indexes, bijection, counts).
// Defects are returned as Findings naming file and position; the error is
// for what stops the check itself (a missing or locked store).
func Verify(dir string, opts *VerifyOptions) (rep *VerifyReport, err error) {
	v := newVerifier(dir, opts)
	d, meta, sv, err := openOffline(dir)
	if d != nil {
		defer func() {
			if cerr := d.log.Close(); cerr != nil && err == nil {
				rep, err = nil, cerr
			}
		}()
	}
	var ce *CorruptionError
	switch {
	case d == nil && errors.As(err, &ce):
		v.addErr("wal", filepath.Join(dir, WALFile), err)
		v.checkSnapDir(dir, sv)
		return v.rep, nil
	case d == nil && errors.Is(err, ErrNotStore):
		return nil, err
	case d == nil:
		return nil, err
	case err != nil && errors.Is(err, ErrCorrupt):
		v.addErr("meta", d.walPath(), err)
		v.checkSnapDir(dir, sv)
		return v.rep, nil
	case err != nil:
		return nil, err
	}
	if v.checkSnapDir(dir, sv) {
		return v.rep, nil
	}
	for _, rel := range strangers(meta, sv) {
		if sv.kinds[rel] == KindSnapshot {
			v.add(Finding{File: filepath.Join(dir, rel), Offset: -1, Check: "snapshot-unlisted",
				Reason: "named like a snapshot, but wal.db's meta does not list it: Open neither loads nor removes it (an operator's copy, another store's file, or a snapshot newer than this wal.db)"})
		}
	}
	first, last, n, err := d.log.Bounds()
	if err != nil {
		v.addErr("wal", d.walPath(), err)
	}
	v.total = int64(n)
	snaps := v.listSnapshots(d, meta)
	for _, s := range snaps {
		v.total += int64(s.count)
	}
	// The index built while checking the newest snapshot is the one the
	// rebuild below starts from; keep it rather than read the file twice.
	var newest *btreeidx.Index
	for i, s := range snaps {
		x := v.checkSnapshot(d, s.path, s.version)
		if i == len(snaps)-1 {
			newest = x
		}
	}
	v.checkWAL(d, meta, first, last)

	// Rebuild the state as Open does, then check the invariants on it.
	head, _, version, err := d.rebuild(meta, func(path string, ver uint64) (*btreeidx.Index, error) {
		if x := newest; x != nil && len(snaps) > 0 && ver == snaps[len(snaps)-1].version {
			newest = nil // handed over: the rebuild changes it
			return x, nil
		}
		return d.readSnapshot(path, ver, nil)
	})
	if err != nil {
		v.addErr("open", dir, err)
		return v.rep, nil
	}
	view := head.Freeze()
	v.rep.Loaded = true
	v.rep.Version, v.rep.Records = version, view.Len()
	for _, f := range view.Check(v.opts.MaxFindings) {
		v.add(Finding{File: dir, Offset: -1, Version: version, Check: "invariant", Reason: f})
	}
	return v.rep, nil
}

// checkSnapDir reports snap/ that is not a directory or cannot be
// listed, and returns whether it did.
func (v *verifier) checkSnapDir(dir string, sv *dirSurvey) bool {
	if sv == nil || sv.snapErr == nil {
		return false
	}
	v.add(Finding{File: filepath.Join(dir, SnapDir), Offset: -1, Check: "snapshot-dir", Reason: sv.snapErr.Error()})
	return true
}

func newVerifier(dir string, opts *VerifyOptions) *verifier {
	v := &verifier{rep: &VerifyReport{Dir: dir}}
	if opts != nil {
		v.opts = *opts
	}
	if v.opts.MaxFindings <= 0 {
		v.opts.MaxFindings = 1000
	}
	return v
}

type snapFile struct {
	path    string
	version uint64
	count   uint64
}

// listSnapshots returns the snapshot files meta lists, reporting listed
// files that are missing.
func (v *verifier) listSnapshots(d *DB, m storeMeta) []snapFile {
	var out []snapFile
	for _, ver := range m.Snapshots {
		path := filepath.Join(d.snapPath(), snapshot.FileName(ver))
		h, err := snapshot.ReadHeader(path, d.snapOptions())
		if errors.Is(err, os.ErrNotExist) {
			v.add(Finding{File: path, Offset: -1, Version: ver, Check: "snapshot-missing", Reason: "listed in wal.db meta but the file does not exist"})
			continue
		}
		if err != nil {
			h = snapshot.Header{}
		}
		out = append(out, snapFile{path: path, version: ver, count: h.Count})
	}
	return out
}

// checkSnapshot reads one file as Open would (checksums, order, count,
// store id, version) and rebuilds its two trees, which finds a duplicated
// index key the file format alone cannot see. It returns the Index, or nil
// after recording the defect.
func (v *verifier) checkSnapshot(d *DB, path string, version uint64) *btreeidx.Index {
	v.rep.Snapshots++
	x, err := d.readSnapshot(path, version, func() { v.tick(1) })
	if err != nil {
		check := "snapshot"
		var sd *snapDefect
		if errors.As(err, &sd) {
			check = sd.check
		}
		v.addErr(check, path, err)
		return nil
	}
	return x
}

// checkWAL replays every WAL record (CRC, decoding, contiguity) and checks
// that the WAL continues the oldest kept snapshot.
func (v *verifier) checkWAL(d *DB, m storeMeta, first, last uint64) {
	path := d.walPath()
	if last != 0 {
		n := 0
		_, err := d.log.Replay(first, func(uint64, []wal.Op) error {
			n++
			v.tick(1)
			return nil
		})
		v.rep.WALRecords = n
		if err != nil {
			v.addErr("wal", path, err)
		}
	}
	oldest := uint64(0)
	if len(m.Snapshots) > 0 {
		oldest = slices.Min(m.Snapshots)
	}
	switch {
	case last == 0 && len(m.Snapshots) == 0:
		// A new, empty store.
	case last == 0:
		// Truncated up to the newest snapshot: nothing to continue.
	case first > oldest+1:
		v.add(Finding{File: path, Offset: -1, Version: oldest + 1, Check: "wal-reach",
			Reason: fmt.Sprintf("WAL starts at version %d but the oldest kept snapshot is %d: versions %d-%d are missing", first, oldest, oldest+1, first-1)})
	}
}

// VerifySnapshot checks one snapshot file on its own: header, checksums,
// order and count, and that no index key appears twice. It needs no store.
func VerifySnapshot(path string, opts *VerifyOptions) (*VerifyReport, error) {
	v := newVerifier(filepath.Dir(path), opts)
	if _, err := os.Stat(path); err != nil {
		return nil, dberr.WrapFile("dualdb", "stat", path, err)
	}
	h, err := snapshot.ReadHeader(path, nil)
	if err == nil {
		v.total = int64(h.Count)
	}
	d := &DB{opts: (&Options{}).withDefaults()}
	d.storeID = h.StoreID // a lone file is checked against itself
	ver, ok := snapshot.ParseFileName(filepath.Base(path))
	if !ok {
		ver = h.Version // a renamed copy: trust the header
	}
	v.checkSnapshot(d, path, ver)
	v.rep.Loaded = v.rep.OK()
	v.rep.Version = h.Version
	v.rep.Records = int(h.Count)
	return v.rep, nil
}
