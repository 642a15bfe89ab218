package wal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/wal"
	bolt "go.etcd.io/bbolt"
)

// walPath returns a path for a new log in a fresh directory on the real
// disk (t.TempDir, under TMPDIR).
func walPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "wal.db")
}

// openLog opens the log at path and closes it at cleanup.
func openLog(t testing.TB, path string, opts *wal.Options) *wal.Log {
	t.Helper()
	l, err := wal.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// opsFor returns the ops of version v: a few puts and deletes whose bytes
// depend on v, so a record read back under the wrong version shows.
func opsFor(v uint64) []wal.Op {
	k := fmt.Appendf(nil, "key-%d", v)
	ops := []wal.Op{
		{Kind: wal.OpPut, Key: k, Index: fmt.Appendf(nil, "idx-%d", v), Value: bytes.Repeat([]byte{byte(v)}, int(v%50))},
	}
	if v%2 == 0 {
		ops = append(ops, wal.Op{Kind: wal.OpDelete, Key: fmt.Appendf(nil, "key-%d", v-1)})
	}
	if v%3 == 0 {
		ops = append(ops, wal.Op{Kind: wal.OpPut, Key: fmt.Appendf(nil, "other-%d", v), Value: []byte{}})
	}
	return ops
}

// entries returns the entries for versions from..to inclusive.
func entries(from, to uint64) []wal.Entry {
	var es []wal.Entry
	for v := from; v <= to; v++ {
		es = append(es, wal.Entry{Version: v, Data: wal.AppendRecord(nil, v, opsFor(v))})
	}
	return es
}

// appendRange appends versions from..to in batches of at most batch.
func appendRange(t testing.TB, l *wal.Log, from, to uint64, batch uint64) {
	t.Helper()
	for lo := from; lo <= to; lo += batch {
		hi := min(lo+batch-1, to)
		if err := l.Append(lo-1, entries(lo, hi)); err != nil {
			t.Fatalf("Append(%d, %d..%d): %v", lo-1, lo, hi, err)
		}
	}
}

// replayed is one record as Replay gave it, copied out of the callback.
type replayed struct {
	version uint64
	ops     []wal.Op
}

// replayAll replays from and returns deep copies of what it saw.
func replayAll(l *wal.Log, from uint64) ([]replayed, uint64, error) {
	var out []replayed
	last, err := l.Replay(from, func(v uint64, ops []wal.Op) error {
		cp := make([]wal.Op, len(ops))
		for i, op := range ops {
			cp[i] = wal.Op{Kind: op.Kind, Key: bytes.Clone(op.Key), Index: bytes.Clone(op.Index), Value: bytes.Clone(op.Value)}
		}
		out = append(out, replayed{v, cp})
		return nil
	})
	return out, last, err
}

// checkReplay replays from and requires versions from..to with their ops.
func checkReplay(t *testing.T, l *wal.Log, from, to uint64) {
	t.Helper()
	got, last, err := replayAll(l, from)
	if err != nil {
		t.Fatalf("Replay(%d): %v", from, err)
	}
	if last != to {
		t.Fatalf("Replay(%d) returned last = %d, want %d", from, last, to)
	}
	if want := int(to - from + 1); len(got) != want {
		t.Fatalf("Replay(%d) gave %d records, want %d", from, len(got), want)
	}
	for i, r := range got {
		if want := from + uint64(i); r.version != want {
			t.Fatalf("record %d has version %d, want %d", i, r.version, want)
		}
		opsEqual(t, r.ops, opsFor(r.version))
	}
}

func checkBounds(t *testing.T, l *wal.Log, first, last uint64, n int) {
	t.Helper()
	f, la, gotN, err := l.Bounds()
	if err != nil {
		t.Fatalf("Bounds: %v", err)
	}
	if f != first || la != last || gotN != n {
		t.Fatalf("Bounds = (%d, %d, %d), want (%d, %d, %d)", f, la, gotN, first, last, n)
	}
}

// corruptionAt requires err to be a *CorruptionError for version in file.
func corruptionAt(t *testing.T, err error, file string, version uint64) *dberr.CorruptionError {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want corruption at version %d", version)
	}
	if !errors.Is(err, dberr.ErrCorrupt) {
		t.Fatalf("errors.Is(%v, ErrCorrupt) is false", err)
	}
	var ce *dberr.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a *CorruptionError", err)
	}
	if ce.File != file {
		t.Errorf("CorruptionError.File = %q, want %q", ce.File, file)
	}
	if ce.Version != version {
		t.Errorf("CorruptionError.Version = %d, want %d (%v)", ce.Version, version, err)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), fmt.Sprint(version)) {
		t.Errorf("error %q does not name the file and version %d", err, version)
	}
	return ce
}

// rawUpdate changes the closed log file directly through bbolt, as damage
// or a buggy older version would.
func rawUpdate(t *testing.T, path string, fn func(log *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("log"))) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

func vkey(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func TestOpen_CreatesFile0600(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	if l.Path() != path {
		t.Errorf("Path() = %q, want %q", l.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("new log file has mode %v, want 0600", perm)
	}
	if l.Size() <= 0 {
		t.Errorf("Size() = %d", l.Size())
	}
	checkBounds(t, l, 0, 0, 0)
	if got, last, err := replayAll(l, 1); err != nil || len(got) != 0 || last != 0 {
		t.Errorf("Replay(1) on an empty log = %d records, last %d, %v", len(got), last, err)
	}
}

func TestOpen_NotABoltFile(t *testing.T) {
	path := walPath(t)
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := wal.Open(path, nil)
	if !errors.Is(err, dberr.ErrCorrupt) || !strings.Contains(fmt.Sprint(err), path) {
		t.Fatalf("Open of a garbage file = %v, want a corruption error naming %s", err, path)
	}
}

func TestAppend_Replay(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	batch := entries(1, 6)
	if err := l.Append(0, batch); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, l, 1, 6)
	checkReplay(t, l, 4, 6)
	checkBounds(t, l, 1, 6, 6)

	// The log stores the bytes it was given.
	got, _, err := replayAll(l, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if enc := wal.AppendRecord(nil, r.version, r.ops); !bytes.Equal(enc, batch[i].Data) {
			t.Fatalf("version %d: replayed ops re-encode differently", r.version)
		}
	}

	// A second batch continues the first; a batch of one works too.
	if err := l.Append(6, entries(7, 7)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(7, entries(8, 20)); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, l, 1, 20)
}

func TestAppend_RejectsNonContiguousBatch(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	bad := map[string]struct {
		after uint64
		es    []wal.Entry
	}{
		"hole inside":          {0, append(entries(1, 2), entries(4, 4)...)},
		"duplicate":            {0, append(entries(1, 2), entries(2, 2)...)},
		"descending":           {0, append(entries(2, 2), entries(1, 1)...)},
		"first is not after+1": {0, entries(2, 3)},
		"first is after":       {5, entries(5, 6)},
	}
	for name, tc := range bad {
		if err := l.Append(tc.after, tc.es); err == nil {
			t.Errorf("%s: Append accepted the batch", name)
		}
	}
	checkBounds(t, l, 0, 0, 0)
}

func TestAppend_RejectsBatchNotContinuingLog(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	appendRange(t, l, 1, 5, 5)
	for _, after := range []uint64{0, 3, 4, 6, 100} {
		if err := l.Append(after, entries(after+1, after+2)); err == nil {
			t.Errorf("Append(after=%d) accepted on a log that ends at 5", after)
		}
	}
	checkBounds(t, l, 1, 5, 5)
	checkReplay(t, l, 1, 5)
	if err := l.Append(5, entries(6, 7)); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, l, 1, 7)
}

// TestAppend_EmptyLogStartsAnywhere: an empty log (new, or truncated to
// nothing) starts at whatever version the caller says; the db package
// must pass the version of its snapshot.
func TestAppend_EmptyLogStartsAnywhere(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	appendRange(t, l, 101, 110, 4)
	checkBounds(t, l, 101, 110, 10)
	checkReplay(t, l, 101, 110)
	if err := l.Truncate(110); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 0, 0, 0)
	// Nothing in the log remembers that it once reached 110.
	if err := l.Append(4, entries(5, 5)); err != nil {
		t.Fatalf("Append on an empty log: %v", err)
	}
	checkBounds(t, l, 5, 5, 1)
}

func TestTruncate(t *testing.T) {
	l := openLog(t, walPath(t), &wal.Options{NoSync: true})
	const last = 25_000 // more than two of Truncate's 10,000-record chunks
	appendRange(t, l, 1, last, 5000)
	checkBounds(t, l, 1, last, last)

	if err := l.Truncate(0); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 1, last, last)

	const upTo = 23_456
	if err := l.Truncate(upTo); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, upTo+1, last, last-upTo)
	checkReplay(t, l, upTo+1, last)
	checkReplay(t, l, last, last)

	// Replaying from before the first record is a gap.
	_, _, err := replayAll(l, upTo)
	corruptionAt(t, err, l.Path(), upTo)

	// Again, and to below the first record: no change.
	for _, v := range []uint64{upTo, 100} {
		if err := l.Truncate(v); err != nil {
			t.Fatal(err)
		}
		checkBounds(t, l, upTo+1, last, last-upTo)
	}

	// The log goes on after a truncation.
	if err := l.Append(last, entries(last+1, last+3)); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, l, upTo+1, last+3)

	// Past the end: empty.
	if err := l.Truncate(1 << 40); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 0, 0, 0)
}

func TestReplay_GapAtStart(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	if err := l.Append(4, entries(5, 10)); err != nil {
		t.Fatal(err)
	}
	called := 0
	last, err := l.Replay(3, func(uint64, []wal.Op) error { called++; return nil })
	corruptionAt(t, err, l.Path(), 3)
	if called != 0 {
		t.Errorf("fn called %d times before the gap was found", called)
	}
	if last != 2 {
		t.Errorf("Replay returned last = %d, want 2", last)
	}
	checkReplay(t, l, 5, 10)
}

func TestReplay_GapInside(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	appendRange(t, l, 1, 10, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(b *bolt.Bucket) error { return b.Delete(vkey(7)) })

	l = openLog(t, path, nil)
	var seen []uint64
	last, err := l.Replay(2, func(v uint64, _ []wal.Op) error { seen = append(seen, v); return nil })
	corruptionAt(t, err, path, 7)
	if fmt.Sprint(seen) != "[2 3 4 5 6]" || last != 6 {
		t.Errorf("before the gap Replay gave %v, last %d; want [2 3 4 5 6], 6", seen, last)
	}
	checkReplay(t, l, 8, 10)
}

func TestReplay_CorruptValue(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	appendRange(t, l, 1, 5, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip one byte inside the stored value of put op 1 of version 3 (a
	// byte near the end of the record, before its checksum).
	rawUpdate(t, path, func(b *bolt.Bucket) error {
		v := bytes.Clone(b.Get(vkey(3))) // the mmap'd value is read-only
		if !bytes.Contains(v, []byte("key-3")) {
			return fmt.Errorf("record 3 does not hold its key: %x", v)
		}
		i := bytes.Index(v, []byte("idx-3")) + len("idx-3") + 3
		v[i] ^= 0x40
		return b.Put(vkey(3), v)
	})

	l = openLog(t, path, nil)
	var seen []uint64
	last, err := l.Replay(1, func(v uint64, _ []wal.Op) error { seen = append(seen, v); return nil })
	ce := corruptionAt(t, err, path, 3)
	if !strings.Contains(ce.Reason, "CRC") {
		t.Errorf("reason %q does not say the checksum failed", ce.Reason)
	}
	if fmt.Sprint(seen) != "[1 2]" || last != 2 {
		t.Errorf("before the damage Replay gave %v, last %d; want [1 2], 2", seen, last)
	}
	checkReplay(t, l, 4, 5)
}

// TestReplay_RecordUnderOtherKey: a record moved to another version's key
// fails its checksum, which covers the version.
func TestReplay_RecordUnderOtherKey(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	appendRange(t, l, 1, 3, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(b *bolt.Bucket) error { return b.Put(vkey(2), bytes.Clone(b.Get(vkey(1)))) })
	l = openLog(t, path, nil)
	_, _, err := replayAll(l, 1)
	corruptionAt(t, err, path, 2)
}

// TestLog_BadKey: a log key that is not 8 bytes is corruption for every
// method that meets it, never a panic.
func TestLog_BadKey(t *testing.T) {
	for name, key := range map[string][]byte{
		"short key sorting first": {0x00},
		"short key sorting last":  {0xff},
		"long key sorting last":   bytes.Repeat([]byte{0xff}, 9),
	} {
		t.Run(name, func(t *testing.T) {
			path := walPath(t)
			l := openLog(t, path, nil)
			appendRange(t, l, 1, 3, 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			rawUpdate(t, path, func(b *bolt.Bucket) error { return b.Put(key, []byte("x")) })
			l = openLog(t, path, nil)

			if _, _, _, err := l.Bounds(); !errors.Is(err, dberr.ErrCorrupt) {
				t.Errorf("Bounds: %v, want ErrCorrupt", err)
			}
			sortsLast := key[0] == 0xff
			// Replay(1) seeks past a key that sorts before version 1.
			if _, _, err := replayAll(l, 1); sortsLast && !errors.Is(err, dberr.ErrCorrupt) {
				t.Errorf("Replay: %v, want ErrCorrupt", err)
			}
			if err := l.Append(3, entries(4, 4)); sortsLast && !errors.Is(err, dberr.ErrCorrupt) {
				t.Errorf("Append after a bad last key: %v, want ErrCorrupt", err)
			}
			if err := l.Truncate(2); !sortsLast && !errors.Is(err, dberr.ErrCorrupt) {
				t.Errorf("Truncate over a bad first key: %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestReplay_FnError(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	appendRange(t, l, 1, 5, 5)
	stop := errors.New("stop")
	last, err := l.Replay(1, func(v uint64, _ []wal.Op) error {
		if v == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || errors.Is(err, dberr.ErrCorrupt) {
		t.Errorf("Replay returned %v, want the callback's error", err)
	}
	if last != 2 {
		t.Errorf("Replay returned last = %d, want 2", last)
	}
}

func TestReplay_FromPastEnd(t *testing.T) {
	l := openLog(t, walPath(t), nil)
	appendRange(t, l, 1, 5, 5)
	for _, from := range []uint64{6, 100} {
		got, last, err := replayAll(l, from)
		if err != nil || len(got) != 0 || last != from-1 {
			t.Errorf("Replay(%d) = %d records, last %d, %v; want none, %d, nil", from, len(got), last, err, from-1)
		}
	}
}

func TestMeta(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	if v, err := l.GetMeta("absent"); err != nil || v != nil {
		t.Fatalf("GetMeta(absent) = %q, %v", v, err)
	}
	if err := l.PutMeta(map[string][]byte{"format": {1}, "store-id": []byte("abc"), "big": bytes.Repeat([]byte("m"), 1<<20)}); err != nil {
		t.Fatal(err)
	}
	if err := l.PutMeta(map[string][]byte{"store-id": []byte("xyz")}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"format": {1}, "store-id": []byte("xyz"), "big": bytes.Repeat([]byte("m"), 1<<20)}
	for k, w := range want {
		v, err := l.GetMeta(k)
		if err != nil || !bytes.Equal(v, w) {
			t.Fatalf("GetMeta(%s) = %d bytes, %v; want %d bytes", k, len(v), err, len(w))
		}
	}
	// The value is a copy: changing it changes nothing stored.
	v, _ := l.GetMeta("store-id")
	v[0] = 'Q'
	if v2, _ := l.GetMeta("store-id"); string(v2) != "xyz" {
		t.Fatalf("GetMeta returned memory the log still uses: now %q", v2)
	}
	// Meta and log are separate.
	appendRange(t, l, 1, 3, 3)
	checkBounds(t, l, 1, 3, 3)
	if err := l.PutMeta(map[string][]byte{"": []byte("x")}); err == nil {
		t.Errorf("PutMeta with an empty key succeeded")
	}
}

func TestReopen_KeepsEverything(t *testing.T) {
	path := walPath(t)
	l, err := wal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 1, 300, 64)
	if err := l.PutMeta(map[string][]byte{"snapshots": []byte("100,200")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, path, nil)
	checkBounds(t, l, 101, 300, 200)
	checkReplay(t, l, 101, 300)
	if v, err := l.GetMeta("snapshots"); err != nil || string(v) != "100,200" {
		t.Fatalf("GetMeta after reopen = %q, %v", v, err)
	}
	if err := l.Append(300, entries(301, 310)); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, l, 101, 310)
}

func TestOpen_Locked(t *testing.T) {
	path := walPath(t)
	l1, err := wal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []*wal.Options{nil, {ReadOnly: true}} {
		start := time.Now()
		l2, err := wal.Open(path, opts)
		elapsed := time.Since(start)
		if err == nil {
			_ = l2.Close()
			t.Fatalf("second Open (%+v) while a writer holds the log succeeded", opts)
		}
		if !errors.Is(err, dberr.ErrLocked) {
			t.Fatalf("second Open (%+v) = %v, want ErrLocked", opts, err)
		}
		t.Logf("ErrLocked after %v", elapsed)
		if elapsed > 3*time.Second {
			t.Fatalf("second Open took %v to give up", elapsed)
		}
	}
	start := time.Now()
	if _, err := wal.Open(path, &wal.Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, dberr.ErrLocked) {
		t.Fatalf("Open with LockTimeout = %v, want ErrLocked", err)
	} else if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Open with a 50ms LockTimeout took %v", elapsed)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	openLog(t, path, nil) // free again
}

func TestOpen_ReadOnly(t *testing.T) {
	path := walPath(t)
	w := openLog(t, path, nil)
	appendRange(t, w, 1, 10, 10)
	if err := w.PutMeta(map[string][]byte{"format": {1}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	r1 := openLog(t, path, &wal.Options{ReadOnly: true})
	r2 := openLog(t, path, &wal.Options{ReadOnly: true}) // shared lock
	for _, r := range []*wal.Log{r1, r2} {
		checkBounds(t, r, 1, 10, 10)
		checkReplay(t, r, 1, 10)
		if v, err := r.GetMeta("format"); err != nil || !bytes.Equal(v, []byte{1}) {
			t.Fatalf("GetMeta = %v, %v", v, err)
		}
	}
	if err := r1.Append(10, entries(11, 11)); err == nil {
		t.Error("Append on a read-only log succeeded")
	}
	if err := r1.Truncate(5); err == nil {
		t.Error("Truncate on a read-only log succeeded")
	}
	if err := r1.PutMeta(map[string][]byte{"x": {1}}); err == nil {
		t.Error("PutMeta on a read-only log succeeded")
	}
	checkBounds(t, r1, 1, 10, 10)

	// A writer cannot open while readers hold the file.
	if _, err := wal.Open(path, &wal.Options{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, dberr.ErrLocked) {
		t.Errorf("writer Open beside readers = %v, want ErrLocked", err)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a read-only open changed the file")
	}
}

func TestOpen_ReadOnlyMissing(t *testing.T) {
	path := walPath(t)
	l, err := wal.Open(path, &wal.Options{ReadOnly: true})
	if err == nil {
		_ = l.Close()
		t.Fatal("read-only Open of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open of a missing file = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open created the file: %v", err)
	}
}

func TestLog_ClosedMethodsFail(t *testing.T) {
	l, err := wal.Open(walPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(0, entries(1, 1)); err == nil {
		t.Error("Append after Close succeeded")
	}
	if _, _, err := replayAll(l, 1); err == nil {
		t.Error("Replay after Close succeeded")
	}
	if _, _, _, err := l.Bounds(); err == nil {
		t.Error("Bounds after Close succeeded")
	}
}

// TestLog_Concurrent: the Log is safe for concurrent use. One goroutine
// appends, one truncates and writes meta, as checkpoints do, and two read;
// each read sees one consistent state (for -race and the invariants).
func TestLog_Concurrent(t *testing.T) {
	l := openLog(t, walPath(t), &wal.Options{NoSync: true})
	const total = 600
	appendRange(t, l, 1, 10, 10)
	done := make(chan struct{})
	errc := make(chan error, 3)
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				first, last, n, err := l.Bounds()
				if err == nil && (first == 0 || last < first || n != int(last-first+1)) {
					err = fmt.Errorf("Bounds = (%d, %d, %d): not one state", first, last, n)
				}
				if err == nil {
					// Not Replay(first) or Replay(last+1): Bounds and Replay
					// are two transactions, and a Truncate between them
					// makes Replay report a gap (corruption) that is not
					// there. Only a replay past anything appended is safe.
					_, err = l.Replay(1<<62, func(uint64, []wal.Op) error { return nil })
				}
				if err == nil {
					_, err = l.GetMeta("truncated")
				}
				if err != nil {
					errc <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		}()
	}
	go func() {
		for {
			select {
			case <-done:
				errc <- nil
				return
			default:
			}
			_, last, _, err := l.Bounds()
			if err == nil && last > 20 {
				upTo := last - 10
				err = l.PutMeta(map[string][]byte{"truncated": fmt.Append(nil, upTo)})
				if err == nil {
					err = l.Truncate(upTo)
				}
			}
			if err != nil {
				errc <- fmt.Errorf("truncator: %w", err)
				return
			}
		}
	}()
	for v := uint64(11); v <= total; v++ {
		if err := l.Append(v-1, entries(v, v)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	first, last, _, err := l.Bounds()
	if err != nil || last != total {
		t.Fatalf("Bounds = %d..%d, %v", first, last, err)
	}
	checkReplay(t, l, first, total)
}

// TestErrors_OnePrefixOnePath: every error names its package once ("wal: ",
// or "dualdb: " for the store's own kinds) and the file at most once, even
// when the file system's error already names it.
func TestErrors_OnePrefixOnePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal.db")
	held := openLog(t, path, nil)
	closed, err := wal.Open(filepath.Join(dir, "closed.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-dir", "wal.db")
	for _, tc := range []struct {
		name, prefix, file string
		err                func() error
	}{
		{"read-only-missing", "wal: ", missing, func() error {
			_, err := wal.Open(missing, &wal.Options{ReadOnly: true})
			return err
		}},
		{"create-in-missing-dir", "wal: ", missing, func() error {
			_, err := wal.Open(missing, nil)
			return err
		}},
		{"locked", "dualdb: ", path, func() error {
			_, err := wal.Open(path, &wal.Options{LockTimeout: 10 * time.Millisecond})
			return err
		}},
		{"append-out-of-sequence", "wal: ", "", func() error { return held.Append(7, entries(9, 9)) }},
		{"append-after-close", "wal: ", closed.Path(), func() error { return closed.Append(0, entries(1, 1)) }},
		{"meta-after-close", "wal: ", closed.Path(), func() error { return closed.PutMeta(map[string][]byte{"k": nil}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, tc.prefix) {
				t.Errorf("%q does not start with %q", msg, tc.prefix)
			}
			if n := strings.Count(msg, "wal: ") + strings.Count(msg, "dualdb: "); n != 1 {
				t.Errorf("%q carries %d prefixes, want 1", msg, n)
			}
			if tc.file != "" {
				if n := strings.Count(msg, tc.file); n != 1 {
					t.Errorf("%q names %s %d times, want once", msg, tc.file, n)
				}
			}
		})
	}
}

// TestRead: Read returns contiguous records from its start, in steps of a
// bounded size, copied out of the file; a start the log truncated away is
// ErrTruncated, a missing record with records before it is corruption.
func TestRead(t *testing.T) {
	path := walPath(t)
	l := openLog(t, path, nil)
	appendRange(t, l, 1, 20, 7)

	var got []uint64
	for next := uint64(3); ; {
		recs, err := l.Read(next, 20, 100) // a few records per step
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		if len(recs) == 0 {
			break
		}
		if len(recs) > 10 {
			t.Fatalf("Read(%d, 100 bytes) returned %d records", next, len(recs))
		}
		for _, r := range recs {
			got = append(got, r.Version)
			opsEqual(t, r.Ops, opsFor(r.Version))
		}
		next = recs[len(recs)-1].Version + 1
	}
	if want := fmt.Sprint(seq(3, 20)); fmt.Sprint(got) != want {
		t.Fatalf("Read gave %v, want %v", got, want)
	}
	one, err := l.Read(5, 20, 0)
	if err != nil || len(one) != 1 || one[0].Version != 5 {
		t.Fatalf("Read(5, 0) = %d records, %v; want version 5 alone", len(one), err)
	}
	// The ops are copies: they outlive the transaction and a Truncate.
	if err := l.Truncate(10); err != nil {
		t.Fatal(err)
	}
	opsEqual(t, one[0].Ops, opsFor(5))

	if _, err := l.Read(4, 20, 1<<20); !errors.Is(err, wal.ErrTruncated) {
		t.Fatalf("Read(4) after Truncate(10) = %v, want ErrTruncated", err)
	}
	if recs, err := l.Read(11, 20, 1<<20); err != nil || len(recs) != 10 {
		t.Fatalf("Read(11) after Truncate(10) = %d records, %v; want 10", len(recs), err)
	}
	if recs, err := l.Read(21, 30, 1<<20); err != nil || len(recs) != 0 {
		t.Fatalf("Read(21) past the end = %d records, %v; want none", len(recs), err)
	}
	if recs, err := l.Read(12, 14, 1<<20); err != nil || len(recs) != 3 || recs[2].Version != 14 {
		t.Fatalf("Read(12, 14) = %d records, %v; want 12-14", len(recs), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(b *bolt.Bucket) error { return b.Delete(vkey(15)) })
	l = openLog(t, path, nil)
	_, err = l.Read(12, 20, 1<<20)
	corruptionAt(t, err, path, 15)
	_, err = l.Read(15, 20, 1<<20)
	corruptionAt(t, err, path, 15)
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}
