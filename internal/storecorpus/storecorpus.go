// Package storecorpus builds the shared corpus of damaged and odd store
// directories in the repository's testdata/stores/<kind>/, and gives tests
// a copy of one. The db, CLI and fuzz tests all use it.
//
// Every store is small (kilobytes) and deterministic: a fixed store id and
// fixed records, written with NoSync and no automatic checkpoints, so that
// running the generator twice gives the same bytes. Regenerate after a
// deliberate change of the on-disk format with
//
//	go test ./internal/storecorpus -update
//
// and check the result with `go test ./internal/storecorpus`, which fails
// when the files on disk differ from what the generator makes.
package storecorpus

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
	bolt "go.etcd.io/bbolt"
)

// StoreID is the id of every corpus store.
var StoreID = [16]byte{0xc0, 0x12, 0xb5, 0xdb, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// The healthy store's shape, which most kinds damage: snapshots at
// versions 3 and 6 (both listed), WAL versions 4-8.
const (
	OldSnapshot = 3
	NewSnapshot = 6
	LastVersion = 8
	// Records is the number of records at LastVersion.
	Records = 21
)

// Kind is one store directory of the corpus.
type Kind struct {
	Name  string // directory name under testdata/stores
	Doc   string // what is odd about it
	build func(dir string) error
}

// Kinds lists the corpus, in the order the sweep tables show it.
var Kinds = []Kind{
	{"healthy", "a store with snapshots 3 and 6 and WAL versions 4-8", buildHealthy},
	{"empty-store", "a new store with no commits: wal.db only", buildEmpty},
	{"wal-missing", "wal.db deleted; snap/ intact", healthyThen(func(dir string) error { return os.Remove(walPath(dir)) })},
	{"wal-empty", "wal.db truncated to 0 bytes (`: > wal.db`)", healthyThen(func(dir string) error { return os.Truncate(walPath(dir), 0) })},
	{"wal-truncated", "wal.db cut to its first 8 KiB", healthyThen(func(dir string) error { return os.Truncate(walPath(dir), 8192) })},
	{"wal-garbage", "wal.db replaced by 8000 bytes of noise", healthyThen(func(dir string) error { return os.WriteFile(walPath(dir), noise(8000), 0o600) })},
	{"wal-dir", "wal.db is a directory", healthyThen(func(dir string) error {
		if err := os.Remove(walPath(dir)); err != nil {
			return err
		}
		return writeFile(filepath.Join(walPath(dir), "keep"), "a directory named wal.db\n")
	})},
	{"wal-no-meta", "wal.db is a valid bbolt file whose meta data is gone; snap/ intact", healthyThen(func(dir string) error {
		return editWAL(dir, func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket([]byte("meta")); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("meta"))
			return err
		})
	})},
	{"wal-bad-record", "one byte of WAL record 7 flipped (CRC mismatch)", healthyThen(func(dir string) error {
		return editWAL(dir, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("log"))
			k := binary.BigEndian.AppendUint64(nil, 7)
			v := append([]byte(nil), b.Get(k)...)
			v[len(v)/2] ^= 0x20
			return b.Put(k, v)
		})
	})},
	{"future-format", "wal.db's meta says store format 2, newer than this build", healthyThen(func(dir string) error {
		return editWAL(dir, func(tx *bolt.Tx) error {
			// One more than the format the healthy store was written in.
			meta := tx.Bucket([]byte("meta"))
			cur := meta.Get([]byte("format"))
			if len(cur) != 4 {
				return fmt.Errorf("meta format is %d bytes, want 4", len(cur))
			}
			return meta.Put([]byte("format"), binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(cur)+1))
		})
	})},
	{"snap-is-file", "snap is a regular file, not a directory", healthyThen(func(dir string) error {
		if err := os.RemoveAll(filepath.Join(dir, db.SnapDir)); err != nil {
			return err
		}
		return writeFile(filepath.Join(dir, db.SnapDir), "not a directory\n")
	})},
	{"snapshot-unreadable", "the newest listed snapshot is a directory: reading it is an I/O error", healthyThen(func(dir string) error {
		p := snapPath(dir, NewSnapshot)
		if err := os.Remove(p); err != nil {
			return err
		}
		return writeFile(filepath.Join(p, "keep"), "a directory named like a snapshot\n")
	})},
	{"snapshot-corrupt", "one byte in the middle of the newest snapshot flipped", healthyThen(func(dir string) error {
		return flipByte(snapPath(dir, NewSnapshot), -1)
	})},
	{"snapshot-missing", "the newest listed snapshot deleted", healthyThen(func(dir string) error { return os.Remove(snapPath(dir, NewSnapshot)) })},
	{"extra-files", "files dualdb did not write: notes.txt and snap/old.tmp", healthyThen(func(dir string) error {
		if err := writeFile(filepath.Join(dir, "notes.txt"), "an operator's notes\n"); err != nil {
			return err
		}
		return writeFile(filepath.Join(dir, db.SnapDir, "old.tmp"), "not dualdb's\n")
	})},
	{"foreign-snapshot-name", "an operator's copy of snapshot 6 named like a snapshot of version 99", healthyThen(func(dir string) error {
		return copyFile(snapPath(dir, NewSnapshot), snapPath(dir, 99))
	})},
	{"snapshot-newer-than-wal", "snapshot 10 of this store, which wal.db (an older copy) does not list", buildNewerSnapshot},
	{"leftover-temp", "a checkpoint's temp file, snap/<version>.dsnap.tmp, left by a crash", healthyThen(func(dir string) error {
		return writeFile(filepath.Join(dir, db.SnapDir, snapshot.FileName(9)+snapshot.TempSuffix), "partial")
	})},
	{"leftover-in-progress", "snapshot 9 written by a checkpoint that meta records as in progress, never listed", healthyThen(func(dir string) error {
		if err := copyFile(snapPath(dir, NewSnapshot), snapPath(dir, 9)); err != nil {
			return err
		}
		return editWAL(dir, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("snapshots_unlisted"), []byte("[9]"))
		})
	})},
	{"damaged-kept", "a healthy store keeping wal.db.damaged-<time> from an earlier repair", healthyThen(func(dir string) error {
		return os.WriteFile(filepath.Join(dir, db.DamagedWALPrefix+"20260101T000000Z"), noise(8000), 0o600)
	})},
	{"demo-marker", "a healthy store with the demo command's marker file", healthyThen(func(dir string) error {
		return writeFile(filepath.Join(dir, db.DemoMarkerFile), "")
	})},
	{"foreign-dir", "a directory of someone else's files, no wal.db", func(dir string) error {
		if err := writeFile(filepath.Join(dir, "photo.jpg"), "\xff\xd8\xff not really a photo\n"); err != nil {
			return err
		}
		return writeFile(filepath.Join(dir, "notes", "todo.txt"), "buy milk\n")
	}},
}

// Lookup returns the kind named name.
func Lookup(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Root returns the corpus directory, testdata/stores at the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "stores")
}

// Copy copies the corpus store kind into a new directory under
// t.TempDir() and returns its path. Tests never open the corpus itself.
func Copy(tb testing.TB, kind string) string {
	tb.Helper()
	if _, ok := Lookup(kind); !ok {
		tb.Fatalf("storecorpus: no kind %q", kind)
	}
	dst := filepath.Join(tb.TempDir(), kind)
	if err := copyTree(filepath.Join(Root(), kind), dst); err != nil {
		tb.Fatalf("storecorpus: copy %s: %v", kind, err)
	}
	return dst
}

// Generate builds every kind under root, replacing what is there.
func Generate(root string) error {
	for _, k := range Kinds {
		if err := k.Build(filepath.Join(root, k.Name)); err != nil {
			return fmt.Errorf("storecorpus: %s: %w", k.Name, err)
		}
	}
	return nil
}

// Build makes the store of kind k in dir, which is removed first.
func (k Kind) Build(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return k.build(dir)
}

func walPath(dir string) string { return filepath.Join(dir, db.WALFile) }
func snapPath(dir string, v uint64) string {
	return filepath.Join(dir, db.SnapDir, snapshot.FileName(v))
}

var quiet = slog.New(slog.DiscardHandler)

func opts() *db.Options { return &db.Options{CheckpointEvery: -1, NoSync: true, Logger: quiet} }

// buildEmpty makes a new store with the corpus store id.
func buildEmpty(dir string) error {
	d, err := db.Open(dir, opts())
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	// editWAL compacts: the random id Open made, still in a freed page,
	// is not copied.
	return editWAL(dir, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("store_id"), StoreID[:])
	})
}

// compactWAL rewrites dir's wal.db with only its live pages. bbolt picks
// free pages from a map in random order and leaves stale bytes in freed
// pages; a compacted file depends on its live data only, so the corpus is
// the same on every run.
func compactWAL(dir string) error {
	src, err := bolt.Open(walPath(dir), 0o600, nil)
	if err != nil {
		return err
	}
	tmp := walPath(dir) + ".compact"
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		_ = src.Close()
		return err
	}
	err = bolt.Compact(dst, src, 0)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, walPath(dir))
}

func user(i int) (key, index, value []byte) {
	return fmt.Appendf(nil, "user:%03d", i), fmt.Appendf(nil, "u%03d@example.com", i), fmt.Appendf(nil, "profile of user %d", i)
}

// buildHealthy writes versions 1-8 with checkpoints at 3 and 6.
func buildHealthy(dir string) error {
	if err := buildEmpty(dir); err != nil {
		return err
	}
	d, err := db.Open(dir, opts())
	if err != nil {
		return err
	}
	putRange := func(from, to int) error {
		return d.Update(func(tx *db.Tx) error {
			for i := from; i <= to; i++ {
				if err := tx.Put(user(i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	steps := []func() error{
		func() error { return putRange(1, 10) },  // 1
		func() error { return putRange(11, 20) }, // 2
		func() error { return putRange(21, 21) }, // 3
		func() error { _, err := d.Checkpoint(); return err },
		func() error { k, _, _ := user(5); return d.Delete(k) },                                            // 4
		func() error { return putRange(22, 22) },                                                           // 5
		func() error { k, _, _ := user(1); return d.Put(k, []byte("ada@example.com"), []byte("renamed")) }, // 6
		func() error { _, err := d.Checkpoint(); return err },
		func() error { k, _, _ := user(7); return d.Delete(k) }, // 7
		func() error { return putRange(23, 23) },                // 8
	}
	for i, s := range steps {
		if err := s(); err != nil {
			_ = d.Close()
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	if v := d.Version(); v != LastVersion {
		_ = d.Close()
		return fmt.Errorf("healthy store ends at version %d, want %d", v, LastVersion)
	}
	if n := d.Snapshot().Len(); n != Records {
		_ = d.Close()
		return fmt.Errorf("healthy store holds %d records, want %d", n, Records)
	}
	if err := d.Close(); err != nil {
		return err
	}
	return compactWAL(dir)
}

func healthyThen(damage func(dir string) error) func(string) error {
	return func(dir string) error {
		if err := buildHealthy(dir); err != nil {
			return err
		}
		return damage(dir)
	}
}

// buildNewerSnapshot: the healthy store taken on to version 10 and
// checkpointed there, then the healthy wal.db and snapshot 3 put back, as
// an operator restoring an old backup of wal.db would.
func buildNewerSnapshot(dir string) error {
	old := dir + ".old"
	defer os.RemoveAll(old)
	if err := buildHealthy(old); err != nil {
		return err
	}
	if err := buildHealthy(dir); err != nil {
		return err
	}
	d, err := db.Open(dir, opts())
	if err != nil {
		return err
	}
	for i := 24; i <= 25; i++ {
		if err := d.Put(user(i)); err != nil {
			_ = d.Close()
			return err
		}
	}
	if _, err := d.Checkpoint(); err != nil {
		_ = d.Close()
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	if err := copyFile(walPath(old), walPath(dir)); err != nil {
		return err
	}
	return copyFile(snapPath(old, OldSnapshot), snapPath(dir, OldSnapshot))
}

// editWAL runs fn in a bbolt transaction on dir's wal.db, then compacts it.
func editWAL(dir string, fn func(tx *bolt.Tx) error) error {
	bdb, err := bolt.Open(walPath(dir), 0o600, nil)
	if err != nil {
		return err
	}
	if err := bdb.Update(fn); err != nil {
		_ = bdb.Close()
		return err
	}
	if err := bdb.Close(); err != nil {
		return err
	}
	return compactWAL(dir)
}

// noise returns n deterministic pseudo-random bytes (xorshift).
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// flipByte flips one bit of the byte at off (-1: the middle) of path.
func flipByte(path string, off int64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if off < 0 {
		off = int64(len(b) / 2)
	}
	b[off] ^= 0x01
	return os.WriteFile(path, b, 0o600)
}

func writeFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o600)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// copyTree copies the directory src to dst (files 0600, directories 0700).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		return copyFile(path, target)
	})
}

// Fingerprint describes every entry under dir, one line each: for a file
// its path, type, size, modification time and SHA-256 of its contents, for
// a directory its path and type (its entries describe it). Two
// fingerprints are equal only if no file was created, removed, written or
// touched. A writer's operator socket is left out: it lives only while the
// writer holds the store. A missing dir has the fingerprint "(absent)".
func Fingerprint(dir string) (string, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return "(absent)", nil
	}
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if e.IsDir() {
			// A directory is described by its entries: its own mtime
			// also moves when the operator socket (db.SocketFile) of a
			// writer's Open comes and goes, which changes no file.
			fmt.Fprintf(&b, "%s %s\n", filepath.ToSlash(rel), st.Mode())
			return nil
		}
		if e.Name() == db.SocketFile {
			return nil // a live writer's socket, removed by its Close
		}
		sum := ""
		if st.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:8])
		}
		fmt.Fprintf(&b, "%s %s %d %d %s\n", filepath.ToSlash(rel), st.Mode(), st.Size(), st.ModTime().UnixNano(), sum)
		return nil
	})
	return b.String(), err
}
