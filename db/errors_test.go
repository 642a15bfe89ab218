package db_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/crashtest/faultfs"
	"github.com/dualdb/dualdb/internal/storecorpus"
	"github.com/dualdb/dualdb/snapshot"
)

// TestErrors_OnePrefixOnePath drives errors of Open, Checkpoint, Verify and
// VerifySnapshot, the store's own and those of the snapshot package it
// returns, and checks that each names its origin once, at its
// start ("dualdb: " or "snapshot: "), and the file concerned
// exactly once, even when the file system's error names it too.
func TestErrors_OnePrefixOnePath(t *testing.T) {
	// checkpointFault opens a store with one record on a fault-injecting
	// file system, fails the n-th op of its Checkpoint and returns the
	// error.
	checkpointFault := func(op faultfs.Op, n int) (string, func() error) {
		dir := filepath.Join(t.TempDir(), "store")
		return dir, func() error {
			ffs := faultfs.New(nil)
			d, err := db.Open(dir, &db.Options{FS: ffs, CheckpointEvery: -1})
			if err != nil {
				return err
			}
			defer d.Close()
			if err := d.Put([]byte("k"), []byte("i"), []byte("v")); err != nil {
				return err
			}
			ffs.Arm(op, n, false)
			_, err = d.Checkpoint()
			return err
		}
	}
	snapFile := func(dir string) string { return filepath.Join(dir, db.SnapDir, snapshot.FileName(1)) }

	type tc struct {
		name   string
		prefix string // the origin the message starts with
		file   string // the file the message names exactly once
		err    func() error
	}
	var cases []tc

	missing := filepath.Join(t.TempDir(), "missing")
	cases = append(cases, tc{"open-read-only-missing", "dualdb: ", missing, func() error {
		_, err := db.Open(missing, &db.Options{ReadOnly: true})
		return err
	}})

	aFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(aFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	under := filepath.Join(aFile, "store")
	cases = append(cases, tc{"open-under-a-file", "dualdb: ", under, func() error {
		_, err := db.Open(under, nil)
		return err
	}})

	locked := filepath.Join(t.TempDir(), "store")
	cases = append(cases, tc{"open-locked", "dualdb: ", filepath.Join(locked, db.WALFile), func() error {
		d, err := db.Open(locked, nil)
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = db.Open(locked, nil)
		return err
	}}, tc{"verify-locked", "dualdb: ", filepath.Join(locked, db.WALFile), func() error {
		d, err := db.Open(locked, nil)
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = db.Verify(locked, nil)
		return err
	}})

	// The only snapshot file is damaged and the WAL was cut up to it:
	// nothing reaches the WAL, and the error lists the damaged file.
	damaged := filepath.Join(t.TempDir(), "store")
	cases = append(cases, tc{"open-no-snapshot-reaches", "dualdb: ", snapFile(damaged), func() error {
		d, err := db.Open(damaged, &db.Options{KeepSnapshots: 1, CheckpointEvery: -1})
		if err != nil {
			return err
		}
		if err := d.Put([]byte("k"), []byte("i"), []byte("v")); err != nil {
			return err
		}
		if _, err := d.Checkpoint(); err != nil {
			return err
		}
		if err := d.Close(); err != nil {
			return err
		}
		b, err := os.ReadFile(snapFile(damaged))
		if err != nil {
			return err
		}
		b[len(b)-1] ^= 0xff
		if err := os.WriteFile(snapFile(damaged), b, 0o600); err != nil {
			return err
		}
		_, err = db.Open(damaged, &db.Options{Logger: slog.New(slog.DiscardHandler)})
		return err
	}})

	noSnap := filepath.Join(t.TempDir(), "none.dsnap")
	cases = append(cases, tc{"verify-snapshot-missing", "dualdb: ", noSnap, func() error {
		_, err := db.VerifySnapshot(noSnap, nil)
		return err
	}})

	for _, f := range []struct {
		name   string
		op     faultfs.Op
		prefix string
		file   func(dir string) string
	}{
		{"checkpoint-mkdir", faultfs.OpMkdir, "dualdb: ", func(dir string) string { return filepath.Join(dir, db.SnapDir) }},
		{"checkpoint-syncdir", faultfs.OpSyncDir, "dualdb: ", func(dir string) string { return dir }},
		{"checkpoint-create", faultfs.OpOpen, "snapshot: ", func(dir string) string { return snapFile(dir) + snapshot.TempSuffix }},
		{"checkpoint-write", faultfs.OpWrite, "snapshot: ", func(dir string) string { return snapFile(dir) + snapshot.TempSuffix }},
		{"checkpoint-rename", faultfs.OpRename, "snapshot: ", func(dir string) string { return snapFile(dir) + snapshot.TempSuffix }},
	} {
		dir, fn := checkpointFault(f.op, 1)
		cases = append(cases, tc{f.name, f.prefix, f.file(dir), fn})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if errors.Is(err, db.ErrFailed) {
				t.Fatalf("%q: the store failed closed; this test expects an error that leaves it open", msg)
			}
			if !strings.HasPrefix(msg, c.prefix) {
				t.Errorf("%q does not start with %q", msg, c.prefix)
			}
			if n := strings.Count(msg, "dualdb: ") + strings.Count(msg, "wal: ") + strings.Count(msg, "snapshot: "); n != 1 {
				t.Errorf("%q carries %d prefixes, want 1", msg, n)
			}
			if n := countPath(msg, c.file); n != 1 {
				t.Errorf("%q names %s %d times, want once", msg, c.file, n)
			}
		})
	}
}

// countPath counts the occurrences of path in msg that are not the start
// of a longer path (dir in dir/wal.db).
func countPath(msg, path string) int {
	return len(regexp.MustCompile(regexp.QuoteMeta(path)+`(?:$|[^/\w.-])`).FindAllStringIndex(msg, -1))
}

// TestErrors_CorpusOnePrefixOnePath opens, verifies and plans a repair of
// every kind of damaged store in the corpus, and checks every error:
// "dualdb: " at most once, a prefix at its start, and no path twice.
func TestErrors_CorpusOnePrefixOnePath(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	for _, k := range storecorpus.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			dir := storecorpus.Copy(t, k.Name)
			paths := regexp.MustCompile(regexp.QuoteMeta(dir) + `[^\s:;,()"]*`)
			check := func(what string, err error) {
				if err == nil {
					return
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "dualdb: ") && !strings.HasPrefix(msg, "wal: ") && !strings.HasPrefix(msg, "snapshot: ") {
					t.Errorf("%s: %q starts with no prefix", what, msg)
				}
				if n := strings.Count(msg, "dualdb: "); n > 1 {
					t.Errorf("%s: %q names dualdb %d times", what, msg, n)
				}
				seen := map[string]bool{}
				for _, p := range paths.FindAllString(msg, -1) {
					if seen[p] {
						t.Errorf("%s: %q names %s twice", what, msg, p)
					}
					seen[p] = true
				}
			}
			d, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quiet})
			if err == nil {
				d.Close()
			}
			check("Open read-only", err)
			_, err = db.Verify(dir, nil)
			check("Verify", err)
			_, err = db.Inspect(dir)
			check("Inspect", err)
			_, err = db.PlanRepair(dir)
			check("PlanRepair", err)
			d, err = db.Open(dir, &db.Options{Logger: quiet})
			if err == nil {
				d.Close()
			}
			check("Open", err)
		})
	}
}
