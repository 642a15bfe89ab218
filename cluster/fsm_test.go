package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// bufSink is a raft.SnapshotSink in memory.
type bufSink struct {
	bytes.Buffer
	canceled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.canceled = true; return nil }
func (s *bufSink) Close() error  { return nil }

func applyCmd(t *testing.T, f *fsm, index uint64, data []byte) *applyResult {
	t.Helper()
	res, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data}).(*applyResult)
	if !ok {
		t.Fatalf("Apply at %d returned %T", index, res)
	}
	return res
}

func put(k, x, v string) wal.Op {
	return wal.Op{Kind: wal.OpPut, Key: []byte(k), Index: []byte(x), Value: []byte(v)}
}

func TestFSM_ApplyVersionsAndRefusals(t *testing.T) {
	f := newFSM(t.TempDir(), nil, nil)
	if r := applyCmd(t, f, 3, encodeOps([]wal.Op{put("a", "x", "1")})); r.Err != nil || r.Version != 3 {
		t.Fatalf("put at 3: %+v", r)
	}
	// A conflict in the second op refuses the first too, and takes index 5.
	r := applyCmd(t, f, 5, encodeOps([]wal.Op{put("b", "y", "2"), put("c", "x", "3")}))
	var ce *db.ConflictError
	if !errors.As(r.Err, &ce) || r.OpIndex != 1 || r.Version != 5 {
		t.Fatalf("conflicting command: %+v", r)
	}
	if v := f.rep.Version(); v != 5 {
		t.Errorf("version after a refused command = %d, want 5", v)
	}
	if _, err := f.rep.Snapshot().Get([]byte("b")); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("op of a refused command applied: %v", err)
	}
	// Damaged or unknown commands are refused alike on every node and
	// take their index.
	bad := encodeOps([]wal.Op{put("d", "z", "4")})
	bad[len(bad)-1] ^= 1
	for i, data := range [][]byte{bad, {'?', 1}, nil, []byte(`n{"http":"h"}`)} {
		if r := applyCmd(t, f, uint64(6+i), data); r.Err == nil {
			t.Errorf("command %q applied without error", data)
		}
	}
	if v := f.rep.Version(); v != 9 {
		t.Errorf("version = %d, want 9", v)
	}
	if r := applyCmd(t, f, 10, encodeNode(nodeCmd{ID: "n1", HTTP: "127.0.0.1:1"})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if a, ok := f.nodeAddr("n1"); !ok || a != "127.0.0.1:1" {
		t.Errorf("node table: %q, %v", a, ok)
	}
}

func TestFSM_SnapshotRestore(t *testing.T) {
	src := newFSM(t.TempDir(), nil, nil)
	for i := range 300 {
		k := fmt.Sprintf("k%03d", i)
		applyCmd(t, src, uint64(i+2), encodeOps([]wal.Op{put(k, "ix"+k, strings.Repeat("v", i%13))}))
	}
	applyCmd(t, src, 400, encodeNode(nodeCmd{ID: "n2", HTTP: "127.0.0.1:2"}))
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the capture must not show in the stream.
	applyCmd(t, src, 401, encodeOps([]wal.Op{put("late", "late", "")}))
	var sink bufSink
	if err := snap.Persist(&sink); err != nil || sink.canceled {
		t.Fatalf("Persist: %v (canceled %v)", err, sink.canceled)
	}
	stream := sink.Bytes()

	dir := t.TempDir()
	dst := newFSM(dir, nil, nil)
	if err := dst.Restore(io.NopCloser(bytes.NewReader(stream))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if dst.rep.Version() != 400 || dst.rep.Snapshot().Len() != 300 {
		t.Errorf("restored version %d with %d records, want 400 and 300", dst.rep.Version(), dst.rep.Snapshot().Len())
	}
	if a, _ := dst.nodeAddr("n2"); a != "127.0.0.1:2" {
		t.Errorf("restored node table lacks n2: %q", a)
	}
	want := StateHash(src.rep.Snapshot())
	applyCmd(t, dst, 401, encodeOps([]wal.Op{put("late", "late", "")}))
	if got := StateHash(dst.rep.Snapshot()); got != want {
		t.Errorf("state hash after restore + the same command = %.12s, source %.12s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, restoreFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore left its staging file behind: %v", err)
	}

	// Damage anywhere is an error and leaves the state alone.
	before := StateHash(dst.rep.Snapshot())
	for name, s := range map[string][]byte{
		"magic":     append([]byte("XXXXXXXX"), stream[8:]...),
		"records":   flip(stream, len(stream)/2),
		"footer":    flip(stream, len(stream)-3),
		"truncated": stream[:len(stream)-20],
		"empty":     nil,
	} {
		if err := dst.Restore(io.NopCloser(bytes.NewReader(s))); err == nil {
			t.Errorf("Restore of a stream with damaged %s succeeded", name)
		}
		if got := StateHash(dst.rep.Snapshot()); got != before {
			t.Errorf("a failed Restore (%s) changed the state", name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestStateHash_SeesEveryDifference(t *testing.T) {
	base := []wal.Op{put("a", "x", "1"), put("b", "y", "2")}
	hash := func(version uint64, ops []wal.Op) string {
		f := newFSM(t.TempDir(), nil, nil)
		if r := applyCmd(t, f, version, encodeOps(ops)); r.Err != nil {
			t.Fatal(r.Err)
		}
		return StateHash(f.rep.Snapshot())
	}
	h0 := hash(1, base)
	if hash(1, base) != h0 {
		t.Fatal("equal stores hash differently")
	}
	for name, h := range map[string]string{
		"version": hash(2, base),
		"value":   hash(1, []wal.Op{put("a", "x", "1"), put("b", "y", "3")}),
		"index":   hash(1, []wal.Op{put("a", "x", "1"), put("b", "z", "2")}),
		"key":     hash(1, []wal.Op{put("a", "x", "1"), put("c", "y", "2")}),
		"missing": hash(1, base[:1]),
		"swapped": hash(1, []wal.Op{put("a", "y", "1"), put("b", "x", "2")}),
	} {
		if h == h0 {
			t.Errorf("a different %s gives the same hash", name)
		}
	}
}
