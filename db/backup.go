package db

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/wal"
)

// Backup writes a snapshot file of the last durable version to w and
// returns that version. The file has the format of the store's own
// snapshot files (snap/*.dsnap, with this store's id): VerifySnapshot and
// `dualdb verify --snapshot` check it, and Restore makes a new store of it.
//
// Backup streams the records from a Snapshot: it takes no lock, never
// blocks writers, and does not copy the store in memory (its own memory is
// a few buffers and a zstd encoder). While it runs, writers copy the
// B-tree nodes they change instead of sharing them with the version being
// written, as they do for any Snapshot held that long. Backup paces
// itself to leave the CPU to writers: it rests three times as long as it
// works, so a backup of 1M records with 100-byte values takes about 4 s on
// two cores, during which writers keep their commit rate (0.95x, where an
// unpaced backup cut it to 0.48x). Backup neither syncs nor closes w. On error w holds an incomplete file that every check
// rejects.
func (d *DB) Backup(w io.Writer) (version uint64, err error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	s := d.current()
	return s.version, d.backup(context.Background(), w, s)
}

// backupCheckEvery is how many records backup writes between looks at its
// context, and between its rests.
const backupCheckEvery = 4096

// backupRest paces a backup: after each backupCheckEvery records it rests
// backupRest times as long as writing them took, so that it works at most
// a quarter of the time and leaves the CPU to the writers it must not
// slow. BenchmarkBackup_WriterThroughput measures the effect.
const backupRest = 3

// backup writes the snapshot file of s to w, stopping with ctx's error if
// ctx ends first.
func (d *DB) backup(ctx context.Context, w io.Writer, s *state) error {
	h := snapshot.Header{Format: snapshot.FormatVersion, StoreID: d.storeID, Version: s.version, Count: uint64(s.view.Len())}
	enc, err := snapshot.NewEncoder(w, h, d.snapOptions())
	if err != nil {
		return fmt.Errorf("dualdb: backup at version %d: %w", s.version, err)
	}
	n := 0
	chunk := time.Now()
	for r := range s.view.Ascend(nil, nil) {
		if n%backupCheckEvery == 0 {
			if n > 0 {
				time.Sleep(backupRest * time.Since(chunk))
				chunk = time.Now()
			}
			if err := ctx.Err(); err != nil {
				_ = enc.Close() // releases the encoder; the file stays incomplete anyway
				return fmt.Errorf("dualdb: backup at version %d stopped after %d records: %w", s.version, n, err)
			}
		}
		if err := enc.Add(snapshot.Record(r)); err != nil {
			_ = enc.Close()
			return fmt.Errorf("dualdb: backup at version %d, record %d: %w", s.version, n, err)
		}
		n++
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("dualdb: backup at version %d: %w", s.version, err)
	}
	return nil
}

// Limits on the fields of a backup that Restore reads. A backup carries no
// record of the limits its store had, so Restore accepts anything a store
// may reasonably have been configured for, and caps what a damaged length
// prefix can make it allocate.
const (
	restoreMaxKeySize   = 16 << 20  // bytes, for keys and index keys
	restoreMaxValueSize = 256 << 20 // bytes
)

// restoreTemp is the name, inside the new store's snap directory, of the
// backup being received. It ends in the snapshot package's temp suffix, so
// an Open after a crash in Restore removes it like any temp file.
const restoreTemp = "restore.dsnap" + snapshot.TempSuffix

// Restore creates a new store in dir from a backup written by Backup (or
// any snapshot file of a store) read from r. dir must not exist or be an
// empty directory; Restore refuses anything else, so that it never
// replaces or mixes into a store.
//
// The stream is written to a temporary file in the new store and checked
// in full (header, checksums, order, count, unique index keys) before the
// store is created: a damaged or truncated backup is refused with
// ErrCorrupt and leaves nothing. The new store opens at the backup's
// version, with its records, and has no WAL records; it keeps the backup's
// store id, because it holds that store's data and its snapshot file is
// that store's own (only one of the two is meant to live on as a writer).
// The size limits fixed at its creation are the defaults, raised to the
// largest key and value of the backup.
//
// On any error Restore removes exactly what it created.
func Restore(dir string, r io.Reader) (err error) {
	var created []string // paths Restore created, removed in reverse on error
	defer func() {
		if err == nil {
			return
		}
		for i := len(created) - 1; i >= 0; i-- {
			if rerr := os.Remove(created[i]); rerr != nil && !isNotExist(rerr) {
				err = errors.Join(err, fmt.Errorf("dualdb: restore: clean up %s: %w", created[i], rerr))
			}
		}
	}()
	switch entries, rerr := os.ReadDir(dir); {
	case isNotExist(rerr):
		// Create dir and its missing parents, outermost first, so that
		// a failure removes them innermost first.
		var missing []string
		for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
			if _, err := os.Lstat(p); !isNotExist(err) || p == filepath.Dir(p) {
				break
			}
			missing = append(missing, p)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if err := os.Mkdir(missing[i], 0o700); err != nil {
				return fmt.Errorf("dualdb: restore into %s: %w", dir, err)
			}
			created = append(created, missing[i])
		}
	case rerr != nil:
		return fmt.Errorf("dualdb: restore into %s: %w", dir, rerr)
	case len(entries) > 0:
		return fmt.Errorf("dualdb: restore into %s: the directory is not empty (%d entries, e.g. %s); restore makes a new store only", dir, len(entries), entries[0].Name())
	}
	snapDir := filepath.Join(dir, SnapDir)
	if err := os.Mkdir(snapDir, 0o700); err != nil {
		return fmt.Errorf("dualdb: restore: %w", err)
	}
	created = append(created, snapDir)

	tmp := filepath.Join(snapDir, restoreTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("dualdb: restore: %w", err)
	}
	created = append(created, tmp)
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close() // already failing; the file is removed
		return fmt.Errorf("dualdb: restore: read the backup into %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("dualdb: restore: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dualdb: restore: close %s: %w", tmp, err)
	}

	h, maxKey, maxValue, err := checkBackup(tmp)
	if err != nil {
		return err
	}
	snaps := []uint64{}
	if h.Version > 0 {
		final := filepath.Join(snapDir, snapshot.FileName(h.Version))
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("dualdb: restore: %w", err)
		}
		created[len(created)-1] = final
		if err := syncDir("restore", snapDir); err != nil {
			return err
		}
		snaps = append(snaps, h.Version)
	} else if h.Count != 0 {
		return dberr.AtOffset(tmp, 0, "backup of version 0 holds %d records", h.Count)
	}
	if err := syncDir("restore", dir); err != nil {
		return err
	}

	// The store exists once wal.db holds its meta data, written last: a
	// crash before leaves no store that Open would load as this one.
	walPath := filepath.Join(dir, WALFile)
	log, err := wal.Open(walPath, nil)
	if err != nil {
		return fmt.Errorf("dualdb: restore: %w", err)
	}
	created = append(created, walPath)
	co, _ := json.Marshal(createdOptions{
		MaxKeySize:   max(DefaultMaxKeySize, maxKey),
		MaxValueSize: max(DefaultMaxValueSize, maxValue),
	})
	list, _ := json.Marshal(snaps)
	err = log.PutMeta(map[string][]byte{
		metaFormat:    binary.BigEndian.AppendUint32(nil, storeFormat),
		metaStoreID:   h.StoreID[:],
		metaCreated:   co,
		metaSnapshots: list,
	})
	if cerr := log.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dualdb: restore: write meta data to %s: %w", walPath, err)
	}
	return syncDir("restore", dir)
}

// checkBackup reads the backup at path in full, as Open would read a
// snapshot file, rebuilding both trees to find a duplicated index key, and
// returns its header and its largest key (or index key) and value.
func checkBackup(path string) (h snapshot.Header, maxKey, maxValue int, err error) {
	opts := &snapshot.Options{MaxKeySize: restoreMaxKeySize, MaxIndexSize: restoreMaxKeySize, MaxValueSize: restoreMaxValueSize}
	h, err = snapshot.ReadHeader(path, opts)
	if err != nil {
		return h, 0, 0, fmt.Errorf("%w; the backup was refused, nothing restored", err)
	}
	b := btreeidx.NewBuilder(int(min(h.Count, 1<<26)))
	_, err = snapshot.ReadInto(path, opts, b.Alloc, func(r snapshot.Record) error {
		maxKey = max(maxKey, len(r.Key), len(r.Index))
		maxValue = max(maxValue, len(r.Value))
		return b.Add(r.Key, r.Index, r.Value, r.Version, true)
	})
	if err != nil {
		return h, 0, 0, fmt.Errorf("%w; the backup was refused, nothing restored", err)
	}
	if _, err := b.Finish(); err != nil {
		return h, 0, 0, fmt.Errorf("%w; the backup was refused, nothing restored",
			&dberr.CorruptionError{File: path, Offset: -1, Version: h.Version, Reason: err.Error()})
	}
	return h, maxKey, maxValue, nil
}
