package snapshot_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/internal/gen"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/vfs"
)

// userRecords returns n gen.NewUser records in key order.
func userRecords(seed uint64, n int) []snapshot.Record {
	recs := make([]snapshot.Record, n)
	for i := range recs {
		u := gen.NewUser(seed, uint64(i))
		recs[i] = snapshot.Record{Key: u.Key, Index: u.Email, Value: u.Value}
	}
	return recs
}

// fixedRecords returns n gen.Fixed records in key order.
func fixedRecords(seed uint64, n, valueSize int) []snapshot.Record {
	recs := make([]snapshot.Record, n)
	for i := range recs {
		k, ix, v := gen.Fixed(seed, uint64(i), valueSize)
		recs[i] = snapshot.Record{Key: k, Index: ix, Value: v}
	}
	return recs
}

// rawSize is the length of the uncompressed record stream of recs in the
// current format.
func rawSize(recs []snapshot.Record) int64 {
	n := rawSizeV1(recs)
	for _, r := range recs {
		n += int64(uvarintLen(int(r.Version)))
	}
	return n
}

// rawSizeV1 is the length of the uncompressed record stream of recs in
// format 1, which has no record versions.
func rawSizeV1(recs []snapshot.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(uvarintLen(len(r.Key)) + len(r.Key) + uvarintLen(len(r.Index)) + len(r.Index) + uvarintLen(len(r.Value)) + len(r.Value))
	}
	return n
}

// withVersions stamps recs with versions from 0 to max, some repeated, and
// returns them.
func withVersions(recs []snapshot.Record, max uint64) []snapshot.Record {
	for i := range recs {
		recs[i].Version = uint64(i*7919) % (max + 1)
	}
	return recs
}

func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encode returns the bytes of a snapshot of recs made by the Encoder.
func encode(t testing.TB, h snapshot.Header, recs []snapshot.Record, opts *snapshot.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := snapshot.NewEncoder(&buf, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := enc.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads the snapshot at p and returns its header and records.
func readAll(p string, opts *snapshot.Options) (snapshot.Header, []snapshot.Record, error) {
	var got []snapshot.Record
	h, err := snapshot.Read(p, opts, func(r snapshot.Record) error {
		got = append(got, r)
		return nil
	})
	return h, got, err
}

// equalRecords reports the first difference between want and got, or "".
func equalRecords(t testing.TB, want, got []snapshot.Record) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i].Key, got[i].Key) || !bytes.Equal(want[i].Index, got[i].Index) || !bytes.Equal(want[i].Value, got[i].Value) || want[i].Version != got[i].Version {
			t.Fatalf("record %d: got %q/%q/%q v%d, want %q/%q/%q v%d", i, got[i].Key, got[i].Index, got[i].Value, got[i].Version, want[i].Key, want[i].Index, want[i].Value, want[i].Version)
		}
	}
}

// wantCorrupt fails unless err is a *dberr.CorruptionError naming file.
func wantCorrupt(t testing.TB, what string, err error, file string) *dberr.CorruptionError {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want corruption", what)
	}
	var ce *dberr.CorruptionError
	if !errors.Is(err, dberr.ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("%s: error %v (%T) is not a *dberr.CorruptionError", what, err, err)
	}
	if ce.File != file {
		t.Fatalf("%s: error names file %q, want %q", what, ce.File, file)
	}
	if ce.Offset < 0 && ce.Version == 0 {
		t.Fatalf("%s: error names no position: %v", what, err)
	}
	return ce
}

var testStoreID = [16]byte{0xd, 0xa, 0x1, 0xd, 0xb, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// memFS is an in-memory vfs.FS for tests that read many variants of a
// file. It is safe for concurrent use.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memData // guarded by mu
}

type memData struct {
	data []byte
	mode fs.FileMode
}

func newMemFS() *memFS { return &memFS{files: map[string]*memData{}} }

// put stores data as the file name.
func (m *memFS) put(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[path.Clean(name)] = &memData{data: data, mode: 0o600}
}

func (m *memFS) get(name string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[path.Clean(name)]
	if !ok {
		return nil, false
	}
	return d.data, true
}

func (m *memFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = path.Clean(name)
	d, ok := m.files[name]
	switch {
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case ok && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok:
		d = &memData{mode: perm}
		m.files[name] = d
	}
	if flag&os.O_TRUNC != 0 {
		d.data = nil
	}
	return &memFile{fs: m, name: name, d: d, r: bytes.NewReader(slices.Clone(d.data))}, nil
}

func (m *memFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[path.Clean(oldpath)]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: fs.ErrNotExist}
	}
	delete(m.files, path.Clean(oldpath))
	m.files[path.Clean(newpath)] = d
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[path.Clean(name)]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, path.Clean(name))
	return nil
}

func (m *memFS) MkdirAll(string, fs.FileMode) error { return nil }
func (m *memFS) ReadDir(string) ([]fs.DirEntry, error) {
	return nil, errors.New("memFS: ReadDir not supported")
}
func (m *memFS) SyncDir(string) error { return nil }
func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[path.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return memInfo{name: path.Base(name), size: int64(len(d.data)), mode: d.mode}, nil
}

type memFile struct {
	fs   *memFS
	name string
	d    *memData
	r    *bytes.Reader
}

func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.d.data = append(f.d.data, p...)
	return len(p), nil
}
func (f *memFile) Close() error { return nil }
func (f *memFile) Sync() error  { return nil }
func (f *memFile) Stat() (fs.FileInfo, error) {
	return memInfo{name: path.Base(f.name), size: f.r.Size(), mode: f.d.mode}, nil
}

type memInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

var _ io.Reader = (*memFile)(nil)

// seqOf yields recs.
func seqOf(recs []snapshot.Record) iter.Seq[snapshot.Record] { return slices.Values(recs) }
