package db

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/snapshot"
)

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
		s, _ := d.snapshotInfo(ver)
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
		s, err := d.snapshotInfo(ver)
		if err == nil {
			if h, herr := snapshot.ReadHeader(s.File, d.snapOptions()); herr == nil {
				info.StoreID = hex.EncodeToString(h.StoreID[:])
				info.Version = max(info.Version, ver)
			}
		}
		info.Snapshots = append(info.Snapshots, s)
	}
	var err error
	info.Files, err = listFiles(dir)
	return info, err
}

// snapshotInfo verifies the snapshot file of version ver and describes
// it; a defect is both in the SnapshotInfo's Err and returned.
func (d *DB) snapshotInfo(ver uint64) (SnapshotInfo, error) {
	path := filepath.Join(d.snapPath(), snapshot.FileName(ver))
	si, err := snapshot.Verify(path, d.snapOptions())
	s := SnapshotInfo{File: path, Version: ver, Bytes: si.FileSize, Records: si.Count, RawBytes: si.RawBytes}
	if si.RawBytes > 0 {
		s.Ratio = float64(si.FileSize) / float64(si.RawBytes)
	}
	if err != nil {
		s.Err = err.Error()
	}
	return s, err
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
