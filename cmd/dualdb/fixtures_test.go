package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
	"github.com/dualdb/dualdb/snapshot"
	bolt "go.etcd.io/bbolt"
)

// Fixture stores for the CLI tests, built by the tests themselves, and
// the golden-file machinery. Run `go test ./cmd/dualdb/ -update` to
// rewrite the golden files in testdata/ after a deliberate change.

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtureID is the store id every fixture gets, so that outputs that show
// it, and checksums over snapshot headers, are the same on every run.
var fixtureID = [16]byte{0xd0, 0xa1, 0xdb, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc}

const fixtureSeed = 7

// Binary record of the users fixture: nothing of it is UTF-8 text.
var (
	binKey   = []byte("bin:\x00\xff")
	binIndex = []byte{0xff, 0x00, 'x'}
	binValue = []byte{0, 1, 2, 0xfe, '"', '\n'}
)

// storeOpts are the options of fixture stores: no automatic checkpoints,
// so that every file is the same on every run.
func storeOpts() *db.Options {
	return &db.Options{CheckpointEvery: -1, NoSync: true}
}

// newStore creates an empty store in a new temporary directory, with the
// fixed store id, and returns it open.
func newStore(t testing.TB) (string, *db.DB) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, storeOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	editWAL(t, dir, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("store_id"), fixtureID[:])
	})
	if d, err = db.Open(dir, storeOpts()); err != nil {
		t.Fatal(err)
	}
	return dir, d
}

// emptyStore returns the directory of a closed, empty store.
func emptyStore(t testing.TB) string {
	dir, d := newStore(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// usersStore returns the directory of a closed store with 20 users put in
// two transactions (versions 1, 2), a snapshot at version 2, then a put
// (3), a delete (4), a binary record (5) and an e-mail swap (6). The WAL
// holds versions 1-6.
func usersStore(t testing.TB) string {
	t.Helper()
	dir, d := newStore(t)
	put := func(from, to int) {
		t.Helper()
		err := d.Update(func(tx *db.Tx) error {
			for id := from; id <= to; id++ {
				u := gen.NewUser(fixtureSeed, uint64(id))
				if err := tx.Put(u.Key, u.Email, u.Value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(1, 10)
	put(11, 20)
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	put(21, 21)
	if err := d.Delete(gen.NewUser(fixtureSeed, 5).Key); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(binKey, binIndex, binValue); err != nil {
		t.Fatal(err)
	}
	a, b := gen.NewUser(fixtureSeed, 1), gen.NewUser(fixtureSeed, 2)
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put(a.Key, []byte("parked"), a.Value); err != nil {
			return err
		}
		if err := tx.Put(b.Key, a.Email, b.Value); err != nil {
			return err
		}
		return tx.Put(a.Key, b.Email, a.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapPath returns the path of the snapshot of version v in dir.
func snapPath(dir string, v uint64) string {
	return filepath.Join(dir, db.SnapDir, snapshot.FileName(v))
}

// editWAL runs fn in a read-write bbolt transaction on dir's wal.db, the
// way a damaged disk or a buggy tool would change it.
func editWAL(t testing.TB, dir string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, db.WALFile), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// versionKey is a WAL log key.
func versionKey(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process with args and stdin.
func runCLI(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// timing matches the durations and rates a command prints.
var timing = regexp.MustCompile(`\b[0-9][0-9.,]*(ns|µs|ms|s|m[0-9.]+s|h[0-9.]+m[0-9.]+s)\b|[0-9][0-9,]* users/s`)

// normalize makes output comparable across runs: the store directory
// becomes $DIR, timings <T>, store ids other than fixtureID <STORE-ID>.
func normalize(s string, dirs map[string]string) string {
	for from, to := range dirs {
		s = strings.ReplaceAll(s, from, to)
	}
	s = storeID.ReplaceAllStringFunc(s, func(id string) string {
		if id == hex.EncodeToString(fixtureID[:]) {
			return id
		}
		return "<STORE-ID>"
	})
	return timing.ReplaceAllString(s, "<T>")
}

// storeID matches a store id other than fixtureID, such as the demo's.
var storeID = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// golden compares r, normalized, with testdata/<name>.golden, or writes
// it with -update.
func golden(t testing.TB, name string, r result, dirs map[string]string) {
	t.Helper()
	got := "exit: " + string(rune('0'+r.code)) + "\n--- stdout\n" + normalize(r.stdout, dirs) +
		"--- stderr\n" + normalize(r.stderr, dirs)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/dualdb/ -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// expand replaces $DIR in args by dir.
func expand(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "$DIR", dir)
	}
	return out
}

// cliCase is one run of the CLI in a table-driven test.
type cliCase struct {
	name  string
	store func(testing.TB) string // the store $DIR names; nil: a directory that does not exist
	args  []string                // $DIR is replaced by the store's directory
	stdin string
	code  int // wanted exit code
}

// runCases runs each case and compares its output with
// testdata/<group>/<name>.golden.
func runCases(t *testing.T, group string, cases []cliCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			if c.store != nil {
				dir = c.store(t)
			}
			r := runCLI(t, c.stdin, expand(c.args, dir)...)
			if r.code != c.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			golden(t, group+"/"+c.name, r, map[string]string{dir: "$DIR"})
		})
	}
}
