package db

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dualdb/dualdb/btreeidx"
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
// snapshot), then rebuilds the state the way Open does and checks every
// invariant of DESIGN.md on it (order of both indexes, bijection, counts).
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
		return nil, fmt.Errorf("dualdb: verify %s: %w", dir, err)
	case err != nil && errors.Is(err, ErrCorrupt):
		v.addErr("meta", d.walPath(), err)
		v.checkSnapDir(dir, sv)
		return v.rep, nil
	case err != nil:
		return nil, fmt.Errorf("dualdb: verify %s: %w", dir, err)
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
	v.add(Finding{File: filepath.Join(dir, SnapDir), Offset: -1, Check: "snapshot-dir", Reason: errText(sv.snapErr)})
	return true
}

// errText is err's message without the package prefix.
func errText(err error) string { return strings.ReplaceAll(err.Error(), "dualdb: ", "") }

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
func (v *verifier) listSnapshots(d *DB, m Meta) []snapFile {
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
func (v *verifier) checkWAL(d *DB, m Meta, first, last uint64) {
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
		return nil, fmt.Errorf("dualdb: verify %s: %w", path, err)
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

// Info describes a store on disk, as Inspect reads it.
type Info struct {
	Dir          string
	StoreID      string // hex; from the newest snapshot that verifies when wal.db is damaged, empty if none
	Format       uint32 // 0 when wal.db's meta data cannot be read
	MaxKeySize   int    // fixed at creation
	MaxValueSize int    // fixed at creation
	Version      uint64 // last version: of the loaded state, or on disk (WAL or newest snapshot) if it does not load
	Records      int    // records at Version; -1 if the store does not load
	LoadError    string // why the store does not load (as Open would fail), empty if it loads
	WAL          WALInfo
	Snapshots    []SnapshotInfo
	Files        []FileInfo
	Strangers    []string // files dualdb did not write or cannot prove it wrote, relative to Dir: left alone
}

// WALInfo describes wal.db.
type WALInfo struct {
	File        string
	First, Last uint64 // versions, 0 if empty
	Records     int
	Bytes       int64
}

// SnapshotInfo describes one snapshot file.
type SnapshotInfo struct {
	File     string
	Version  uint64
	Bytes    int64
	Records  uint64
	RawBytes int64   // uncompressed record bytes
	Ratio    float64 // Bytes / RawBytes
	Err      string  // non-empty if the file fails its check
}

// FileInfo is one file of the store directory and its size.
type FileInfo struct {
	Name  string // relative to the store directory
	Bytes int64
}

// Inspect describes the store in dir without writing anything: what
// wal.db's meta data says, the WAL's extent, every snapshot file (checked)
// and the files with their sizes. It also rebuilds the state, as a
// read-only Open does, to count the records; a store that does not load
// is still described, with the reason in LoadError. A store whose wal.db
// is missing or damaged is described from what is left (its snapshot
// files), with the reason in LoadError. It fails with ErrLocked while a
// writer holds the store, with ErrNotStore when dir is not a store, and on
// I/O errors.
func Inspect(dir string) (info *Info, err error) {
	d, meta, sv, err := openOffline(dir)
	if d != nil {
		defer func() {
			if cerr := d.log.Close(); cerr != nil && err == nil {
				info, err = nil, cerr
			}
		}()
	}
	if err != nil && sv != nil && errors.Is(err, ErrCorrupt) {
		return inspectDamaged(dir, sv, err)
	}
	if err != nil {
		return nil, err
	}
	if sv.snapErr != nil {
		return inspectDamaged(dir, sv, sv.snapErr)
	}
	info = &Info{
		Dir: dir, StoreID: hex.EncodeToString(meta.StoreID[:]), Format: meta.Format,
		MaxKeySize: meta.MaxKeySize, MaxValueSize: meta.MaxValueSize,
	}
	head, _, version, err := d.rebuild(meta, func(path string, v uint64) (*btreeidx.Index, error) {
		return d.readSnapshot(path, v, nil)
	})
	if err == nil {
		info.Version, info.Records = version, head.Len()
	} else {
		info.Records = -1
		info.LoadError = err.Error()
	}
	first, last, n, err := d.log.Bounds()
	if err != nil {
		return nil, err
	}
	info.WAL = WALInfo{File: d.walPath(), First: first, Last: last, Records: n}
	if info.LoadError != "" {
		info.Version = last
		if k := len(meta.Snapshots); k > 0 {
			info.Version = max(last, meta.Snapshots[k-1])
		}
	}
	if st, err := os.Stat(d.walPath()); err == nil {
		info.WAL.Bytes = st.Size()
	}
	for _, ver := range meta.Snapshots {
		path := filepath.Join(d.snapPath(), snapshot.FileName(ver))
		si, err := snapshot.Verify(path, d.snapOptions())
		s := SnapshotInfo{File: path, Version: ver, Bytes: si.FileSize, Records: si.Count, RawBytes: si.RawBytes}
		if si.RawBytes > 0 {
			s.Ratio = float64(si.FileSize) / float64(si.RawBytes)
		}
		if err != nil {
			s.Err = err.Error()
		}
		info.Snapshots = append(info.Snapshots, s)
	}
	info.Strangers = strangers(meta, sv)
	info.Files, err = listFiles(dir)
	return info, err
}

// inspectDamaged describes a store whose wal.db (or snap/) cannot be
// read: the snapshot files found in snap/, checked, and every file.
func inspectDamaged(dir string, sv *dirSurvey, cause error) (*Info, error) {
	info := &Info{Dir: dir, Records: -1, LoadError: cause.Error(), Strangers: slices.Clone(sv.foreign)}
	info.WAL.File = filepath.Join(dir, WALFile)
	if sv.walInfo != nil && sv.walInfo.Mode().IsRegular() {
		info.WAL.Bytes = sv.walInfo.Size()
	}
	d := &DB{dir: dir, opts: (&Options{ReadOnly: true}).withDefaults()}
	for _, ver := range sv.snapshotFiles() {
		path := filepath.Join(d.snapPath(), snapshot.FileName(ver))
		si, err := snapshot.Verify(path, d.snapOptions())
		s := SnapshotInfo{File: path, Version: ver, Bytes: si.FileSize, Records: si.Count, RawBytes: si.RawBytes}
		if si.RawBytes > 0 {
			s.Ratio = float64(si.FileSize) / float64(si.RawBytes)
		}
		if err != nil {
			s.Err = err.Error()
		} else if h, herr := snapshot.ReadHeader(path, d.snapOptions()); herr == nil {
			info.StoreID = hex.EncodeToString(h.StoreID[:])
			info.Version = max(info.Version, ver)
		}
		info.Snapshots = append(info.Snapshots, s)
	}
	var err error
	info.Files, err = listFiles(dir)
	return info, err
}

// listFiles returns every file under dir with its size, sorted by name.
func listFiles(dir string) ([]FileInfo, error) {
	var files []FileInfo
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, FileInfo{Name: rel, Bytes: st.Size()})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, err
}
