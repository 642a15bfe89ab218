package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
)

// CheckFeed checks the change feed of the open store d in dir against its
// state: starting from the state the WAL continues (nothing, when the WAL
// starts at version 1; else the snapshot at the version before its first
// record), the changes Changes yields up to d's version, applied in order,
// must give exactly d's records with their Record.Version, each change
// being the next version, its puts carrying it and its deletes naming the
// record they removed. After a crash this shows that the feed yields, for
// every version the store recovered (and so for every acknowledged one),
// the changes that made it. It returns at most limit findings (<= 0: all).
func CheckFeed(d *db.DB, dir string, limit int) []string {
	var out []string
	add := func(format string, args ...any) bool {
		if limit <= 0 || len(out) < limit {
			out = append(out, fmt.Sprintf(format, args...))
		}
		return limit <= 0 || len(out) < limit
	}
	s := d.Snapshot()
	st := d.Stats()
	if st.WALFirst == 0 || st.Version == 0 {
		return nil // no WAL record: the state is a snapshot's, nothing to follow
	}
	// The base: nothing when the WAL starts at 1, else the oldest snapshot
	// file the WAL continues (a crash between removing a superseded
	// snapshot and truncating the WAL leaves the WAL starting earlier).
	base, state := uint64(0), map[string]db.Record{}
	if st.WALFirst > 1 {
		found := false
		for _, v := range snapshotVersions(dir) {
			if v+1 < st.WALFirst || v > st.Version {
				continue
			}
			recs := map[string]db.Record{}
			path := filepath.Join(dir, db.SnapDir, snapshot.FileName(v))
			if _, err := snapshot.Read(path, nil, func(r snapshot.Record) error {
				recs[string(r.Key)] = db.Record{Key: r.Key, Index: r.Index, Value: r.Value, Version: r.Version}
				return nil
			}); err != nil {
				continue // a damaged snapshot: Open skipped it too
			}
			base, state, found = v, recs, true
			break
		}
		if !found {
			add("feed: the WAL starts at version %d and no snapshot file it continues reads", st.WALFirst)
			return out
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next := base + 1
	if next <= st.Version {
		for c, err := range d.Changes(ctx, base) {
			if err != nil {
				add("feed: Changes(%d) failed at version %d: %v", base, next, err)
				return out
			}
			if c.Version != next {
				add("feed: version %d where %d was due", c.Version, next)
				return out
			}
			for i, op := range c.Ops {
				k := string(op.Record.Key)
				switch op.Kind {
				case db.OpPut:
					if op.Record.Version != c.Version && !add("feed: version %d op %d puts key %q with version %d", c.Version, i, k, op.Record.Version) {
						return out
					}
					state[k] = op.Record
				case db.OpDelete:
					old, ok := state[k]
					if !ok || !sameRecord(old, op.Record) {
						if !add("feed: version %d op %d deletes key %q (index %q, version %d), the state holds it: %v (index %q, version %d)",
							c.Version, i, k, op.Record.Index, op.Record.Version, ok, old.Index, old.Version) {
							return out
						}
					}
					delete(state, k)
				default:
					add("feed: version %d op %d has kind %v", c.Version, i, op.Kind)
					return out
				}
			}
			if next == st.Version {
				break
			}
			next++
		}
	}
	if len(state) != s.Len() {
		add("feed: replayed from version %d the feed gives %d records, the store holds %d", base, len(state), s.Len())
	}
	for r := range s.Ascend(nil, nil) {
		got, ok := state[string(r.Key)]
		if !ok || !sameRecord(got, r) {
			if !add("feed: replayed from version %d the feed gives key %q as %v (index %q, version %d), the store holds index %q, version %d",
				base, r.Key, ok, got.Index, got.Version, r.Index, r.Version) {
				break
			}
		}
	}
	return out
}

// snapshotVersions returns the versions of the snapshot files in dir, in
// ascending order.
func snapshotVersions(dir string) []uint64 {
	ents, _ := os.ReadDir(filepath.Join(dir, db.SnapDir))
	var vs []uint64
	for _, e := range ents {
		var v uint64
		if n, err := fmt.Sscanf(e.Name(), "%d.dsnap", &v); n == 1 && err == nil && e.Name() == snapshot.FileName(v) {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs
}

func sameRecord(a, b db.Record) bool {
	return a.Version == b.Version && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Index, b.Index) && bytes.Equal(a.Value, b.Value)
}
