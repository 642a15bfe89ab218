package db

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
)

// Names dualdb writes in a store directory besides WALFile and SnapDir.
// Part of the on-disk layout.
const (
	// DamagedWALPrefix starts the name under which Repair keeps a damaged
	// wal.db: DamagedWALPrefix + a UTC time such as 20261130T151000Z.
	// dualdb never deletes such a file.
	DamagedWALPrefix = WALFile + ".damaged-"
	// DemoMarkerFile marks a directory made by `dualdb demo`.
	DemoMarkerFile = ".dualdb-demo"
	// SocketFile is the Unix socket a process holding the store may serve
	// operator requests on.
	SocketFile = "dualdb.sock"
	// repairTempFile is the name Repair builds the new wal.db under before
	// renaming it into place; a leftover one is removed by Repair only.
	repairTempFile = WALFile + ".repair.tmp"
)

// FileKind says what a name in a store directory is to dualdb.
type FileKind int

// The kinds of name in a store directory. Only KindSnapshotTemp files,
// and KindSnapshot files that wal.db's meta lists as superseded or in
// progress, are ever deleted by dualdb; KindForeign names are never
// touched.
const (
	KindForeign         FileKind = iota // not a name dualdb writes: left alone, warned about
	KindWAL                             // wal.db
	KindSnapDir                         // snap/
	KindSnapshot                        // snap/<20-digit version>.dsnap
	KindSnapshotTemp                    // snap/<20-digit version>.dsnap.tmp: a snapshot being written
	KindRepairTemp                      // wal.db.repair.tmp: a wal.db being rebuilt by Repair
	KindDamagedWAL                      // wal.db.damaged-<time>: kept by Repair, never deleted
	KindDemoMarker                      // .dualdb-demo
	KindSocket                          // dualdb.sock
	KindDamagedSnapshot                 // snap/<20-digit version>.dsnap.damaged-<time>: set aside by Repair, never deleted
)

// damagedSuffix follows a file name Repair sets aside: name + damagedSuffix + time.
const damagedSuffix = ".damaged-"

var kindNames = [...]string{"foreign", "wal", "snap-dir", "snapshot", "snapshot-temp", "repair-temp", "damaged-wal", "demo-marker", "socket", "damaged-snapshot"}

// String returns a short name of the kind.
func (k FileKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("FileKind(%d)", int(k))
}

// ClassifyName says what the path rel, relative to a store directory and
// with forward or OS separators, is to dualdb. It is the one list of the
// names dualdb writes; everything else is KindForeign. It looks at the
// name only, not at the file.
func ClassifyName(rel string) FileKind {
	rel = filepath.ToSlash(filepath.Clean(rel))
	dir, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	switch dir {
	case "":
		switch {
		case name == WALFile:
			return KindWAL
		case name == SnapDir:
			return KindSnapDir
		case name == repairTempFile:
			return KindRepairTemp
		case strings.HasPrefix(name, DamagedWALPrefix) && len(name) > len(DamagedWALPrefix):
			return KindDamagedWAL
		case name == DemoMarkerFile:
			return KindDemoMarker
		case name == SocketFile:
			return KindSocket
		}
	case SnapDir:
		if _, ok := snapshot.ParseFileName(name); ok {
			return KindSnapshot
		}
		if base, ok := strings.CutSuffix(name, snapshot.TempSuffix); ok {
			if _, ok := snapshot.ParseFileName(base); ok {
				return KindSnapshotTemp
			}
		}
		if base, stamp, ok := strings.Cut(name, damagedSuffix); ok && stamp != "" {
			if _, ok := snapshot.ParseFileName(base); ok {
				return KindDamagedSnapshot
			}
		}
	}
	return KindForeign
}

// dirSurvey is what a store directory holds, read before wal.db is opened,
// so that Open decides from all of it, never from wal.db alone.
type dirSurvey struct {
	exists   bool        // the directory exists
	walInfo  fs.FileInfo // wal.db, nil if absent
	snapInfo fs.FileInfo // snap, nil if absent
	snapErr  error       // error listing snap/ (a file, unreadable), nil if fine or absent
	own      []string    // names dualdb writes (relative, slash-separated), sorted
	foreign  []string    // every other name, sorted
	kinds    map[string]FileKind
}

// surveyDir lists dir and snap/ in it. A missing dir is not an error.
func surveyDir(fsys interface {
	ReadDir(string) ([]fs.DirEntry, error)
	Stat(string) (fs.FileInfo, error)
}, dir string) (*dirSurvey, error) {
	s := &dirSurvey{kinds: map[string]FileKind{}}
	st, err := fsys.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, dberr.WrapFile("dualdb", "stat", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a file, not a directory", ErrNotStore, dir)
	}
	s.exists = true
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, dberr.WrapFile("dualdb", "list", dir, err)
	}
	add := func(rel string) {
		k := ClassifyName(rel)
		s.kinds[rel] = k
		if k == KindForeign {
			s.foreign = append(s.foreign, rel)
		} else {
			s.own = append(s.own, rel)
		}
	}
	for _, e := range entries {
		name := e.Name()
		add(name)
		switch name {
		case WALFile:
			if s.walInfo, err = e.Info(); err != nil {
				return nil, dberr.WrapFile("dualdb", "stat", filepath.Join(dir, name), err)
			}
		case SnapDir:
			if s.snapInfo, err = e.Info(); err != nil {
				return nil, dberr.WrapFile("dualdb", "stat", filepath.Join(dir, name), err)
			}
			if !s.snapInfo.IsDir() {
				s.snapErr = fmt.Errorf("%s is not a directory", filepath.Join(dir, name))
				continue
			}
			sub, err := fsys.ReadDir(filepath.Join(dir, name))
			if err != nil {
				s.snapErr = err
				continue
			}
			for _, e := range sub {
				add(SnapDir + "/" + e.Name())
			}
		}
	}
	slices.Sort(s.own)
	slices.Sort(s.foreign)
	return s, nil
}

// empty reports whether the directory holds nothing, or only names that
// carry no store data (the demo marker, a stale socket).
func (s *dirSurvey) empty() bool {
	if len(s.foreign) > 0 {
		return false
	}
	for _, n := range s.own {
		if k := s.kinds[n]; k != KindDemoMarker && k != KindSocket {
			return false
		}
	}
	return true
}

// snapshotFiles returns the versions of the files in snap/ named like
// snapshots, ascending.
func (s *dirSurvey) snapshotFiles() []uint64 {
	var out []uint64
	for _, n := range s.own {
		if s.kinds[n] == KindSnapshot {
			v, _ := snapshot.ParseFileName(strings.TrimPrefix(n, SnapDir+"/"))
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// walProblem returns a *CorruptionError naming wal.db when the survey
// shows wal.db cannot be a store's WAL (missing while the directory holds
// a store's other files; empty unless it is alone; not a regular file);
// and a plain ErrNotStore error when wal.db is missing and the directory
// holds foreign files only. It returns nil when wal.db is there to be
// opened, or when the directory may be made a new store (then create
// says so): empty, or holding nothing but an empty wal.db.
func (s *dirSurvey) walProblem(dir string) (create bool, err error) {
	walPath := filepath.Join(dir, WALFile)
	switch {
	case s.walInfo == nil && s.empty():
		return true, nil
	case s.walInfo == nil && s.hasStoreData():
		return false, &dberr.CorruptionError{File: walPath, Offset: -1,
			Reason: fmt.Sprintf("missing, but the directory holds a store's files (%s); run `dualdb repair %s` to rebuild it from the newest snapshot", listNames(s.own), dir)}
	case s.walInfo == nil:
		return false, fmt.Errorf("%w: %s has no %s and holds %s", ErrNotStore, dir, WALFile, listNames(s.foreign))
	case !s.walInfo.Mode().IsRegular():
		return false, &dberr.CorruptionError{File: walPath, Offset: -1,
			Reason: fmt.Sprintf("not a regular file (%s)", s.walInfo.Mode().Type())}
	case s.walInfo.Size() == 0 && !s.hasStoreData() && len(s.foreign) == 0:
		// wal.db is the only thing here, and empty: a first Open cut
		// short before bbolt wrote its pages. Nothing can be lost by
		// making the store again.
		return true, nil
	case s.walInfo.Size() == 0:
		return false, &dberr.CorruptionError{File: walPath, Offset: 0,
			Reason: "empty file (0 bytes): the store's WAL and meta data are lost; run `dualdb repair " + dir + "` to rebuild it from the newest snapshot"}
	}
	return false, nil
}

// notStoreYet is the error for a directory a read-write Open would make a
// new store in.
func (s *dirSurvey) notStoreYet(dir string) error {
	if s.walInfo != nil {
		return fmt.Errorf("%w: %s holds only an empty %s (a first Open cut short)", ErrNotStore, dir, WALFile)
	}
	return fmt.Errorf("%w: %s holds no %s", ErrNotStore, dir, WALFile)
}

// hasStoreData reports whether the directory holds files that only a
// store has: snap/ or a kept damaged wal.db.
func (s *dirSurvey) hasStoreData() bool {
	for _, n := range s.own {
		switch s.kinds[n] {
		case KindSnapDir, KindSnapshot, KindSnapshotTemp, KindDamagedWAL, KindRepairTemp, KindDamagedSnapshot:
			return true
		}
	}
	return false
}

// listNames returns up to four names, then how many more.
func listNames(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}
