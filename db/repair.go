package db

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/vfs"
	"github.com/dualdb/dualdb/wal"
)

// ErrNoRepair is returned by PlanRepair when the store does not need a
// repair (it opens), or has a defect Repair does not mend (a damaged
// snapshot Open already falls back from, a store of a newer format,
// snapshots of two stores). The wrapped message says which.
var ErrNoRepair = errors.New("dualdb: repair")

// RepairPlan is what Repair will do to a store whose wal.db is lost or
// damaged: rebuild wal.db from the newest snapshot that verifies. Make one
// with PlanRepair, show it (Steps, Lost), and pass it to Repair.
type RepairPlan struct {
	Dir     string
	Problem string // why the store does not open: the error Open returns

	// The snapshot wal.db is rebuilt from: the newest file in snap/ that
	// passes every check.
	Snapshot        string // path
	SnapshotVersion uint64
	Records         uint64
	StoreID         [16]byte // from the snapshot's header; the rebuilt store keeps it
	Listed          []uint64 // snapshots the rebuilt wal.db lists, oldest first: every one that verifies

	// Versions lost: every version after SnapshotVersion that the damaged
	// wal.db held. SeenLast is the last version Repair could read in it (0
	// if it could read none after the snapshot); versions after it, if
	// any, are lost too.
	SeenFirst, SeenLast uint64

	KeepWAL    string            // where the damaged wal.db is kept ("" if there is none)
	SetAside   map[string]string // snapshot files that fail their check -> the name they are kept under
	walPresent bool
	walSize    int64
}

// Lost says which versions the repair loses, for a human.
func (p *RepairPlan) Lost() string {
	if p.SeenLast > p.SnapshotVersion {
		return fmt.Sprintf("versions %d-%d, which the damaged %s holds, and any after %d, are lost", p.SeenFirst, p.SeenLast, WALFile, p.SeenLast)
	}
	return fmt.Sprintf("versions after %d, if any, are lost", p.SnapshotVersion)
}

// Steps lists what Repair will do, in order, for a human.
func (p *RepairPlan) Steps() []string {
	var out []string
	if p.KeepWAL != "" {
		out = append(out, fmt.Sprintf("rename %s to %s (kept, never deleted)", filepath.Join(p.Dir, WALFile), p.KeepWAL))
	}
	for _, from := range slices.Sorted(mapKeys(p.SetAside)) {
		out = append(out, fmt.Sprintf("rename %s, which fails its check, to %s (kept, never deleted)", from, p.SetAside[from]))
	}
	out = append(out, fmt.Sprintf("write a new %s for store id %s listing snapshot %s (%s); its WAL starts empty after version %d",
		filepath.Join(p.Dir, WALFile), hex.EncodeToString(p.StoreID[:]), p.listNames(), plural(p.Records, "record"), p.SnapshotVersion))
	return out
}

func (p *RepairPlan) listNames() string {
	var names []string
	for _, v := range p.Listed {
		names = append(names, snapshot.FileName(v))
	}
	return strings.Join(names, ", ")
}

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// PlanRepair looks at the store in dir, writing nothing, and returns what
// Repair would do. It returns ErrNoRepair (wrapped, saying why) for a
// store that opens or whose damage is not in wal.db, ErrLocked for a store
// another process holds, ErrNotStore for a directory that is not a store,
// and ErrCorrupt when no snapshot in snap/ verifies (nothing to rebuild
// from).
func PlanRepair(dir string) (*RepairPlan, error) {
	now := time.Now()
	return planRepair(dir, now)
}

func planRepair(dir string, now time.Time) (*RepairPlan, error) {
	p := &RepairPlan{Dir: dir, SetAside: map[string]string{}}
	d, _, sv, err := openOffline(dir)
	if sv != nil && sv.snapErr != nil {
		if d != nil {
			_ = d.log.Close()
		}
		return nil, fmt.Errorf("%w: repair rebuilds %s from the snapshots in %s, which cannot be read: %v", ErrNoRepair, WALFile, SnapDir, sv.snapErr)
	}
	if d != nil {
		// wal.db opens and has meta data: a store Open can load needs no
		// repair; one whose WAL records are damaged does.
		err = d.diagnose(err)
		if cerr := d.log.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err == nil {
			return nil, fmt.Errorf("%w: %s opens and needs no repair (run `dualdb verify %s` to check it)", ErrNoRepair, dir, dir)
		}
	}
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, ErrNotStore), errors.Is(err, ErrNoRepair):
		return nil, err
	case !errors.Is(err, ErrCorrupt):
		return nil, err
	}
	var ce *CorruptionError
	if errors.As(err, &ce) && ce.File != filepath.Join(dir, WALFile) {
		return nil, fmt.Errorf("%w: repair rebuilds %s only, and the damage is elsewhere: %s", ErrNoRepair, WALFile, dberr.Describe(ce))
	}
	p.Problem = err.Error()
	damage := p.Problem
	if ce != nil {
		damage = dberr.Describe(ce)
	}
	if sv.walInfo != nil {
		p.walPresent, p.walSize = true, sv.walInfo.Size()
		p.KeepWAL = unusedName(filepath.Join(dir, DamagedWALPrefix+now.UTC().Format("20060102T150405Z")))
		if future, err := walFormat(filepath.Join(dir, WALFile)); err == nil && future > storeFormat {
			return nil, fmt.Errorf("%w: %s is of store format %d, newer than this build's %d: use a newer dualdb", ErrNoRepair, WALFile, future, storeFormat)
		}
	}
	// The newest snapshot that passes every check; all snapshots that do
	// must be of one store.
	type good struct {
		v     uint64
		id    [16]byte
		count uint64
	}
	var ok []good
	var bad []uint64
	versions := sv.snapshotFiles()
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		path := filepath.Join(dir, SnapDir, snapshot.FileName(v))
		h, err := snapshot.ReadHeader(path, nil)
		if err == nil {
			sd := &DB{dir: dir, opts: (&Options{ReadOnly: true}).withDefaults(), storeID: h.StoreID}
			_, err = sd.readSnapshot(path, v, nil)
		}
		switch {
		case err == nil:
			ok = append(ok, good{v, h.StoreID, h.Count})
		case errors.Is(err, ErrCorrupt) && len(ok) == 0:
			bad = append(bad, v)
		case errors.Is(err, ErrCorrupt):
			// An older damaged file: not listed, left where it is.
		default:
			return nil, err // names the snapshot file
		}
	}
	if len(ok) == 0 {
		return nil, &CorruptionError{File: filepath.Join(dir, SnapDir), Offset: -1,
			Reason: fmt.Sprintf("no snapshot file verifies, so there is nothing to rebuild %s from; its damage: %s", WALFile, damage)}
	}
	p.SnapshotVersion, p.StoreID, p.Records = ok[0].v, ok[0].id, ok[0].count
	p.Snapshot = filepath.Join(dir, SnapDir, snapshot.FileName(ok[0].v))
	for _, g := range ok {
		if g.id != p.StoreID {
			return nil, fmt.Errorf("%w: snap/ holds snapshots of two stores (%s: %x; %s: %x): move the other store's files out, then retry",
				ErrNoRepair, snapshot.FileName(ok[0].v), p.StoreID, snapshot.FileName(g.v), g.id)
		}
		p.Listed = append(p.Listed, g.v)
	}
	slices.Sort(p.Listed)
	for _, v := range bad {
		from := filepath.Join(dir, SnapDir, snapshot.FileName(v))
		p.SetAside[from] = unusedName(from + damagedSuffix + now.UTC().Format("20060102T150405Z"))
	}
	p.SeenFirst, p.SeenLast = seenVersions(filepath.Join(dir, WALFile), p.SnapshotVersion)
	return p, nil
}

// unusedName returns path, or path-2, path-3... whichever does not exist:
// a kept file is never overwritten by a later repair.
func unusedName(path string) string {
	name := path
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); isNotExist(err) {
			return name
		}
		name = fmt.Sprintf("%s-%d", path, i)
	}
}

// diagnose returns nil if the store d (opened offline, with meta data if
// err is nil) loads as Open would, else why not.
func (d *DB) diagnose(err error) error {
	if err != nil {
		return err
	}
	meta, _, err := d.readMeta()
	if err != nil {
		return err
	}
	_, _, _, err = d.rebuild(meta, func(path string, v uint64) (*btreeidx.Index, error) {
		return d.readSnapshot(path, v, nil)
	})
	return err
}

// walFormat returns the store format recorded in the wal.db at path.
func walFormat(path string) (uint32, error) {
	l, err := wal.Open(path, &wal.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	b, err := l.GetMeta(metaFormat)
	if err != nil || len(b) != 4 {
		return 0, fmt.Errorf("no format")
	}
	return binary.BigEndian.Uint32(b), nil
}

// seenVersions returns the first and last version after after that the
// damaged wal.db at path still shows, or zeros if it shows none.
func seenVersions(path string, after uint64) (first, last uint64) {
	l, err := wal.Open(path, &wal.Options{ReadOnly: true})
	if err != nil {
		return 0, 0
	}
	defer l.Close()
	f, la, n, err := l.Bounds()
	if err != nil || n == 0 || la <= after {
		return 0, 0
	}
	return max(f, after+1), la
}

// Repair carries out plan, made by PlanRepair for the same directory: it
// builds a new wal.db (store id from the snapshot, every verifying
// snapshot listed, an empty WAL after the newest), keeps the damaged
// wal.db and any snapshot that fails its check under the names the plan
// gives, and moves the new wal.db into place. It re-plans first and
// refuses if the store changed since plan was made. Nothing is deleted. A
// crash part way leaves a store that PlanRepair plans again.
//
// Repair is never automatic: Open never calls it. Versions after the
// snapshot that only the damaged wal.db held are lost (plan.Lost).
func Repair(plan *RepairPlan) error {
	if plan == nil {
		return errors.New("dualdb: repair: no plan")
	}
	dir := plan.Dir
	now, err := planRepair(dir, time.Now())
	if err != nil {
		return err
	}
	if now.SnapshotVersion != plan.SnapshotVersion || now.StoreID != plan.StoreID || now.walPresent != plan.walPresent ||
		now.walSize != plan.walSize || !slices.Equal(now.Listed, plan.Listed) || len(now.SetAside) != len(plan.SetAside) {
		return fmt.Errorf("dualdb: repair %s: the store changed since the plan was made; plan again", dir)
	}
	tmp := filepath.Join(dir, repairTempFile)
	if err := os.Remove(tmp); err != nil && !isNotExist(err) {
		return dberr.WrapFile("dualdb", "repair: remove leftover", tmp, err)
	}
	if err := writeRepairedWAL(tmp, plan); err != nil {
		_ = os.Remove(tmp) // our own half-built file
		return err
	}
	if plan.KeepWAL != "" {
		if err := os.Rename(filepath.Join(dir, WALFile), plan.KeepWAL); err != nil {
			return dberr.WrapFile("dualdb", "repair: keep damaged", filepath.Join(dir, WALFile), err)
		}
	}
	for _, from := range slices.Sorted(mapKeys(plan.SetAside)) {
		if err := os.Rename(from, plan.SetAside[from]); err != nil {
			return dberr.WrapFile("dualdb", "repair: set aside", from, err)
		}
	}
	if len(plan.SetAside) > 0 {
		if err := syncDir("repair", filepath.Join(dir, SnapDir)); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(dir, WALFile)); err != nil {
		return dberr.WrapFile("dualdb", "repair: move into place", tmp, err)
	}
	return syncDir("repair", dir)
}

// writeRepairedWAL writes the new wal.db of plan at path, durably.
func writeRepairedWAL(path string, plan *RepairPlan) error {
	l, err := wal.Open(path, &wal.Options{})
	if err != nil {
		return err // names the file
	}
	co, _ := json.Marshal(createdOptions{})
	list, _ := json.Marshal(plan.Listed)
	err = l.PutMeta(map[string][]byte{
		metaFormat:    binary.BigEndian.AppendUint32(nil, storeFormat),
		metaStoreID:   plan.StoreID[:],
		metaCreated:   co,
		metaSnapshots: list,
		metaUnlisted:  []byte("[]"),
	})
	if cerr := l.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err // names the file
	}
	return nil
}

// syncDir fsyncs dir so that the renames and new files in it are durable;
// op names the operation in the error ("repair", "restore").
func syncDir(op, dir string) error {
	if err := vfs.OS.SyncDir(dir); err != nil {
		return dberr.WrapFile("dualdb", op+": sync", dir, err)
	}
	return nil
}
