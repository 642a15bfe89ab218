package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/gen"
	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/wal"
	bolt "go.etcd.io/bbolt"
)

func TestVerify(t *testing.T) {
	runCases(t, "verify", []cliCase{
		{name: "users", store: usersStore, args: []string{"verify", "$DIR"}},
		{name: "users-json", store: usersStore, args: []string{"verify", "$DIR", "--json"}},
		{name: "empty-store", store: emptyStore, args: []string{"verify", "$DIR"}},
		{name: "snapshot", store: usersStore, args: []string{"verify", "--snapshot", "$DIR/snap/00000000000000000002.dsnap"}},
		{name: "missing-store", args: []string{"verify", "$DIR"}, code: exitError},
		{name: "missing-snapshot", store: usersStore, args: []string{"verify", "--snapshot", "$DIR/snap/none.dsnap"}, code: exitError},
		{name: "dir-and-snapshot", store: usersStore, args: []string{"verify", "$DIR", "--snapshot", "x"}, code: exitError},
		{name: "no-args", args: []string{"verify"}, code: exitError},
	})
}

// corruption is one kind of damage in the corpus: it damages a copy of
// the users fixture (see usersStore: snapshot at version 2, WAL 1-6).
type corruption struct {
	name   string
	damage func(t testing.TB, dir string)
	// check and where are what verify must name: the kind of check and
	// the file (or position) of the finding.
	check, where string
}

// modifySnap rewrites the users fixture's snapshot file after fn changed
// its header and records; fn returns a footer count to write, or nil.
func modifySnap(t testing.TB, dir string, fn func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64)) {
	t.Helper()
	snaptest.Rewrite(t, snapPath(dir, 2), func(f *snaptest.File) {
		f.Records, f.FooterCount = fn(&f.Header, f.Records)
	})
}

var corpus = []corruption{
	{"snapshot-flipped-byte", func(t testing.TB, dir string) {
		snaptest.FlipByte(t, snapPath(dir, 2), snapshot.HeaderSize+100)
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-flipped-header-byte", func(t testing.TB, dir string) {
		snaptest.FlipByte(t, snapPath(dir, 2), 30)
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-truncated", func(t testing.TB, dir string) {
		path := snapPath(dir, 2)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, st.Size()-snapshot.FooterSize-10); err != nil {
			t.Fatal(err)
		}
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-trailing-garbage", func(t testing.TB, dir string) {
		f, err := os.OpenFile(snapPath(dir, 2), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("garbage after the footer"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-missing", func(t testing.TB, dir string) {
		if err := os.Remove(snapPath(dir, 2)); err != nil {
			t.Fatal(err)
		}
	}, "snapshot-missing", "snap/00000000000000000002.dsnap"},
	{"snapshot-duplicate-index", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			recs[3].Index = recs[7].Index
			return recs, nil
		})
	}, "snapshot-index", "snap/00000000000000000002.dsnap"},
	{"snapshot-out-of-order", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			recs[4], recs[5] = recs[5], recs[4]
			return recs, nil
		})
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-count-mismatch", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			h.Count++ // the footer keeps the true count
			return recs, nil
		})
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-record-dropped", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			n := h.Count // header and footer agree on a count the stream does not have
			return recs[:len(recs)-1], &n
		})
	}, "snapshot", "snap/00000000000000000002.dsnap"},
	{"snapshot-foreign-store-id", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			h.StoreID[0] ^= 0xff
			return recs, nil
		})
	}, "snapshot-store-id", "snap/00000000000000000002.dsnap"},
	{"snapshot-unknown-format", func(t testing.TB, dir string) {
		modifySnap(t, dir, func(h *snapshot.Header, recs []snapshot.Record) ([]snapshot.Record, *uint64) {
			h.Format = snapshot.FormatVersion + 1
			return recs, nil
		})
	}, "snapshot", "unknown format version"},
	{"store-unknown-format", func(t testing.TB, dir string) {
		editWAL(t, dir, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 99))
		})
	}, "meta", "unknown store format version 99"},
	{"wal-version-gap", func(t testing.TB, dir string) {
		editWAL(t, dir, func(tx *bolt.Tx) error { return tx.Bucket([]byte("log")).Delete(versionKey(4)) })
	}, "wal", "wal.db"},
	{"wal-crc-mismatch", func(t testing.TB, dir string) {
		editWAL(t, dir, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("log"))
			v := append([]byte(nil), b.Get(versionKey(5))...)
			v[len(v)/2] ^= 0x01
			return b.Put(versionKey(5), v)
		})
	}, "wal", "version 5"},
	{"wal-conflicting-index", func(t testing.TB, dir string) {
		// A well-formed record (good CRC, next version) whose put gives
		// user 3 the e-mail of user 4: replay breaks the bijection.
		u3, u4 := gen.NewUser(fixtureSeed, 3), gen.NewUser(fixtureSeed, 4)
		rec := wal.AppendRecord(nil, 7, []wal.Op{{Kind: wal.OpPut, Key: u3.Key, Index: u4.Email, Value: u3.Value}})
		editWAL(t, dir, func(tx *bolt.Tx) error { return tx.Bucket([]byte("log")).Put(versionKey(7), rec) })
	}, "open", "version 7"},
	{"wal-truncated-before-snapshot", func(t testing.TB, dir string) {
		// The WAL must reach back to the oldest kept snapshot (version 2).
		editWAL(t, dir, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("log"))
			for v := uint64(1); v <= 3; v++ {
				if err := b.Delete(versionKey(v)); err != nil {
					return err
				}
			}
			return nil
		})
	}, "wal-reach", "versions 3-3 are missing"},
}

// Every kind of damage in the corpus makes verify exit 1 and name it; the
// healthy fixture exits 0 (TestVerify).
func TestVerify_Corpus(t *testing.T) {
	if len(corpus) < 10 {
		t.Fatalf("the corpus has %d kinds of damage, want at least 10", len(corpus))
	}
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			dir := usersStore(t)
			if r := runCLI(t, "", "verify", dir); r.code != exitOK {
				t.Fatalf("before the damage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			c.damage(t, dir)
			r := runCLI(t, "", "verify", dir)
			if r.code != exitFindings {
				t.Errorf("exit %d, want %d\n%s%s", r.code, exitFindings, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, ": "+c.check+": ") || !strings.Contains(r.stdout, c.where) {
				t.Errorf("verify does not name the %s check and %q:\n%s", c.check, c.where, r.stdout)
			}
			golden(t, "verify-corpus/"+c.name, r, map[string]string{dir: "$DIR"})

			// The JSON says the same.
			r = runCLI(t, "", "verify", dir, "--json")
			var got verifyJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitFindings {
				t.Fatalf("verify --json: exit %d, %v\n%s", r.code, err, r.stdout)
			}
			found := false
			for _, f := range got.Findings {
				found = found || f.Check == c.check
			}
			if got.OK || !found {
				t.Errorf("verify --json has no %s finding: %+v", c.check, got)
			}
		})
	}
}

// verify --snapshot checks one file on its own and names its damage.
func TestVerify_SnapshotFile(t *testing.T) {
	for _, name := range []string{"snapshot-flipped-byte", "snapshot-duplicate-index", "snapshot-out-of-order", "snapshot-trailing-garbage"} {
		t.Run(name, func(t *testing.T) {
			var c corruption
			for _, k := range corpus {
				if k.name == name {
					c = k
				}
			}
			dir := usersStore(t)
			c.damage(t, dir)
			r := runCLI(t, "", "verify", "--snapshot", snapPath(dir, 2))
			if r.code != exitFindings || !strings.Contains(r.stdout, ": "+c.check+": ") {
				t.Errorf("exit %d, want %d naming %s\n%s%s", r.code, exitFindings, c.check, r.stdout, r.stderr)
			}
			golden(t, "verify-snapshot/"+name, r, map[string]string{dir: "$DIR"})
		})
	}
}
