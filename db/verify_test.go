package db_test

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
	bolt "go.etcd.io/bbolt"
)

// verifiedStore makes a closed store with two snapshots and a WAL tail.
func verifiedStore(t *testing.T) (dir string, snaps []uint64) {
	t.Helper()
	dir = t.TempDir()
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1, NoSync: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	putN(t, d, 0, 50, "a")
	v1, _ := d.Checkpoint()
	putN(t, d, 25, 80, "b")
	v2, _ := d.Checkpoint()
	putN(t, d, 70, 90, "c")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, []uint64{v1, v2}
}

func findingsOf(t *testing.T, dir string) []db.Finding {
	t.Helper()
	rep, err := db.Verify(dir, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep.Findings
}

func TestVerify_Healthy(t *testing.T) {
	dir, _ := verifiedStore(t)
	rep, err := db.Verify(dir, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("healthy store: %v %v", err, rep.Findings)
	}
	if rep.Snapshots != 2 || rep.Records != 90 || rep.WALRecords == 0 {
		t.Fatalf("report = %+v", rep)
	}
}

// Each case breaks a healthy store one way; Verify must name the defect.
func TestVerify_FindsDefects(t *testing.T) {
	cases := []struct {
		name  string
		check string
		harm  func(t *testing.T, dir string, snaps []uint64)
	}{
		{"snapshot-byte-flip", "snapshot", func(t *testing.T, dir string, snaps []uint64) {
			corruptFile(t, filepath.Join(dir, db.SnapDir, snapshot.FileName(snaps[1])))
		}},
		{"wal-gap", "wal", func(t *testing.T, dir string, snaps []uint64) {
			editWAL(t, dir, func(b *bolt.Bucket) error { return b.Delete(be(snaps[1] + 3)) })
		}},
		{"wal-crc", "wal", func(t *testing.T, dir string, snaps []uint64) {
			editWAL(t, dir, func(b *bolt.Bucket) error {
				v := append([]byte(nil), b.Get(be(snaps[1]+2))...)
				v[len(v)/2] ^= 1
				return b.Put(be(snaps[1]+2), v)
			})
		}},
		{"duplicate-index-in-snapshot", "snapshot-index", func(t *testing.T, dir string, snaps []uint64) {
			path := filepath.Join(dir, db.SnapDir, snapshot.FileName(snaps[1]))
			snaptest.Rewrite(t, path, func(f *snaptest.File) {
				f.Header.Count = 2
				f.Records = []snapshot.Record{{Key: []byte("a"), Index: []byte("same")}, {Key: []byte("b"), Index: []byte("same")}}
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, snaps := verifiedStore(t)
			c.harm(t, dir, snaps)
			fs := findingsOf(t, dir)
			found := false
			for _, f := range fs {
				if f.Check == c.check && (f.Offset >= 0 || f.Version != 0 || strings.Contains(f.Reason, "index key")) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %q finding with a position; findings: %v", c.check, fs)
			}
		})
	}
}

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func editWAL(t *testing.T, dir string, fn func(b *bolt.Bucket) error) {
	t.Helper()
	bdb, err := bolt.Open(filepath.Join(dir, db.WALFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("log"))) }); err != nil {
		t.Fatal(err)
	}
}
