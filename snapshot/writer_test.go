package snapshot_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/vfs"
)

func TestWrite_RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []snapshot.Record
	}{
		{"users", withVersions(userRecords(3, 2000), 77)},
		{"fixed", withVersions(fixedRecords(3, 2000, 300), 77)},
		{"empty-fields", []snapshot.Record{
			{Key: []byte{}, Index: []byte{}, Value: []byte{}},
			{Key: []byte("a"), Index: nil, Value: nil, Version: 77},
			{Key: []byte("b"), Index: []byte("x"), Value: nil},
		}},
		// Values larger than the reader's buffer and the encoder's stage
		// take the slow paths.
		{"large-values", []snapshot.Record{
			{Key: []byte("k1"), Index: []byte("i1"), Value: bytes.Repeat([]byte("v"), 1<<20+17)},
			{Key: []byte("k2"), Index: bytes.Repeat([]byte("i"), 60<<10), Value: []byte("small"), Version: 70},
			{Key: bytes.Repeat([]byte("k3"), 30<<10), Index: []byte("i3"), Value: bytes.Repeat([]byte{0, 1, 2}, 200<<10)},
			{Key: []byte("k4"), Index: []byte("i4"), Value: []byte("after")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := snapshot.Header{StoreID: testStoreID, Version: 77, Count: uint64(len(tc.recs))}
			p, size, err := snapshot.Write(dir, h, seqOf(tc.recs), nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, "00000000000000000077.dsnap"); p != want {
				t.Fatalf("path %q, want %q", p, want)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != size {
				t.Fatalf("Write reported size %d, file has %d", size, st.Size())
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("file mode %v, want 0600", st.Mode().Perm())
			}
			gotH, got, err := readAll(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			h.Format = snapshot.FormatVersion
			if gotH != h {
				t.Fatalf("header %+v, want %+v", gotH, h)
			}
			equalRecords(t, tc.recs, got)
			info, err := snapshot.Verify(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if info.Header != h || info.FileSize != size || info.RawBytes != rawSize(tc.recs) {
				t.Fatalf("Verify: %+v, want header %+v size %d raw %d", info, h, size, rawSize(tc.recs))
			}
			if rh, err := snapshot.ReadHeader(p, nil); err != nil || rh != h {
				t.Fatalf("ReadHeader: %+v, %v", rh, err)
			}
			assertOnlyFiles(t, dir, filepath.Base(p))
		})
	}
}

func TestWrite_Empty(t *testing.T) {
	dir := t.TempDir()
	h := snapshot.Header{StoreID: testStoreID, Version: 1, Count: 0}
	p, size, err := snapshot.Write(dir, h, seqOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if size < snapshot.HeaderSize+snapshot.FooterSize {
		t.Fatalf("size %d", size)
	}
	gotH, got, err := readAll(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || gotH.Count != 0 || gotH.Version != 1 {
		t.Fatalf("got %d records, header %+v", len(got), gotH)
	}
	if _, err := snapshot.Verify(p, nil); err != nil {
		t.Fatal(err)
	}
}

// assertOnlyFiles fails unless dir holds exactly the named files.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("directory holds %q, want %q", got, names)
	}
}

func TestWrite_RejectsBadInput(t *testing.T) {
	recs := userRecords(1, 10)
	swapped := slices.Clone(recs)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	dup := slices.Clone(recs)
	dup[6] = dup[5]
	big := slices.Clone(recs)
	big[3].Value = make([]byte, 2000)
	newer := slices.Clone(recs)
	newer[4].Version = 6 // the snapshot is version 5
	for _, tc := range []struct {
		name  string
		h     snapshot.Header
		recs  []snapshot.Record
		opts  *snapshot.Options
		want  error
		inMsg string
	}{
		{"out-of-order", snapshot.Header{Count: 10}, swapped, nil, snapshot.ErrOrder, "record 5"},
		{"duplicate-key", snapshot.Header{Count: 10}, dup, nil, snapshot.ErrOrder, "record 6"},
		{"too-few", snapshot.Header{Count: 11}, recs, nil, snapshot.ErrCount, "10 records, header says 11"},
		{"too-many", snapshot.Header{Count: 9}, recs, nil, snapshot.ErrCount, "more than the header's 9"},
		{"none-for-one", snapshot.Header{Count: 1}, nil, nil, snapshot.ErrCount, "0 records"},
		{"value-too-large", snapshot.Header{Count: 10}, big, &snapshot.Options{MaxValueSize: 1000}, snapshot.ErrTooLarge, "record 3: value of 2000 bytes, limit 1000"},
		{"format", snapshot.Header{Format: 3, Count: 10}, recs, nil, snapshot.ErrFormat, "3"},
		{"record-newer-than-snapshot", snapshot.Header{Count: 10}, newer, nil, snapshot.ErrVersion, "record 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.h.Version = 5
			p, _, err := snapshot.Write(dir, tc.h, seqOf(tc.recs), tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.inMsg) {
				t.Fatalf("error %q does not say %q", err, tc.inMsg)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "snapshot: ") || strings.Count(msg, "snapshot: ") != 1 || strings.Contains(msg, dir) {
				t.Fatalf("error %q: want one \"snapshot: \" prefix and no path (the records are at fault)", msg)
			}
			if p != "" {
				t.Fatalf("path %q returned with an error", p)
			}
			assertOnlyFiles(t, dir)
		})
	}
}

// TestWrite_FormatV1 writes a file of the first format on request: it
// reads back with every record at Version 0, as format 1 stores none.
func TestWrite_FormatV1(t *testing.T) {
	recs := withVersions(userRecords(4, 100), 9)
	p, _, err := snapshot.Write(t.TempDir(), snapshot.Header{Format: snapshot.FormatV1, Version: 9, Count: 100}, seqOf(recs), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, got, err := readAll(p, nil)
	if err != nil || h.Format != snapshot.FormatV1 {
		t.Fatalf("read: %+v, %v", h, err)
	}
	want := slices.Clone(recs)
	for i := range want {
		want[i].Version = 0
	}
	equalRecords(t, want, got)
	info, err := snapshot.Verify(p, nil)
	if err != nil || info.RawBytes != rawSizeV1(recs) {
		t.Fatalf("Verify: %+v, %v; want %d raw bytes", info, err, rawSizeV1(recs))
	}
}

func TestWrite_RemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, snapshot.FileName(9)+snapshot.TempSuffix)
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	recs := userRecords(1, 5)
	p, _, err := snapshot.Write(dir, snapshot.Header{Version: 9, Count: 5}, seqOf(recs), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, filepath.Base(p))
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
}

// TestWrite_Deterministic writes the same input several ways and wants the
// same bytes: through Write and the Encoder, with GOMAXPROCS 1 and 2, with
// input buffers reused between records.
func TestWrite_Deterministic(t *testing.T) {
	recs := fixedRecords(11, 20000, 120) // several zstd blocks
	recs = append(recs[:10000:10000], userRecords(11, 20000)[10000:]...)
	h := snapshot.Header{StoreID: testStoreID, Version: 3, Count: uint64(len(recs))}
	var files [][]byte
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 1, 2} {
		runtime.GOMAXPROCS(procs)
		dir := t.TempDir()
		p, _, err := snapshot.Write(dir, h, seqOf(recs), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	files = append(files, encode(t, h, recs, nil))
	// A producer that reuses one buffer for every record.
	dir := t.TempDir()
	p, _, err := snapshot.Write(dir, h, func(yield func(snapshot.Record) bool) {
		var buf []byte
		for _, r := range recs {
			buf = append(append(append(buf[:0], r.Key...), r.Index...), r.Value...)
			k, i := len(r.Key), len(r.Key)+len(r.Index)
			if !yield(snapshot.Record{Key: buf[:k], Index: buf[k:i], Value: buf[i:]}) {
				return
			}
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, b)
	for i := 1; i < len(files); i++ {
		if !bytes.Equal(files[0], files[i]) {
			t.Fatalf("output %d differs from output 0 (%d vs %d bytes)", i, len(files[i]), len(files[0]))
		}
	}
}

// faultFS wraps vfs.OS and fails one kind of operation on files whose name
// contains match.
type faultFS struct {
	vfs.FS
	op       string // "create", "write", "read", "sync", "close", "rename", "syncdir"
	afterN   int64  // for "write" and "read": bytes that succeed before the failure
	injected error
	fired    atomic.Bool
}

// fail returns the injected error if op is the one to fail, wrapped as
// the os package wraps its errors: in an *fs.PathError naming path.
func (f *faultFS) fail(op, path string) error {
	if op == f.op {
		f.fired.Store(true)
		return &fs.PathError{Op: op, Path: path, Err: f.injected}
	}
	return nil
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	if flag&os.O_CREATE != 0 {
		if err := f.fail("create", name); err != nil {
			return nil, err
		}
	}
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.fail("rename", oldpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.Unwrap(err)}
	}
	return f.FS.Rename(oldpath, newpath)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.fail("syncdir", dir); err != nil {
		return err
	}
	return f.FS.SyncDir(dir)
}

type faultFile struct {
	vfs.File
	fs      *faultFS
	name    string
	written int64
	read    int64
}

func (f *faultFile) Read(p []byte) (int, error) {
	if f.fs.op == "read" && f.read+int64(len(p)) > f.fs.afterN {
		n := int(max(0, f.fs.afterN-f.read))
		n, _ = f.File.Read(p[:n])
		f.read += int64(n)
		return n, f.fs.fail("read", f.name)
	}
	n, err := f.File.Read(p)
	f.read += int64(n)
	return n, err
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.op == "write" && f.written+int64(len(p)) > f.fs.afterN {
		n := int(max(0, f.fs.afterN-f.written))
		n, _ = f.File.Write(p[:n])
		f.written += int64(n)
		return n, f.fs.fail("write", f.name)
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail("sync", f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Close() error {
	cerr := f.File.Close()
	if err := f.fs.fail("close", f.name); err != nil {
		return err
	}
	return cerr
}

func TestWrite_FileSystemErrors(t *testing.T) {
	recs := fixedRecords(5, 5000, 100) // about 400 KB: several buffer flushes
	h := snapshot.Header{Version: 12, Count: uint64(len(recs))}
	for _, tc := range []struct {
		op     string
		afterN int64
	}{
		{"create", 0}, {"write", 0}, {"write", 100}, {"write", 300 << 10},
		{"sync", 0}, {"close", 0}, {"rename", 0}, {"syncdir", 0},
	} {
		t.Run(fmt.Sprintf("%s/after=%d", tc.op, tc.afterN), func(t *testing.T) {
			dir := t.TempDir()
			injected := fmt.Errorf("injected %s failure", tc.op)
			ffs := &faultFS{FS: vfs.OS, op: tc.op, afterN: tc.afterN, injected: injected}
			p, size, err := snapshot.Write(dir, h, seqOf(recs), &snapshot.Options{FS: ffs})
			if !ffs.fired.Load() {
				t.Fatalf("fault %s never fired (err %v)", tc.op, err)
			}
			if !errors.Is(err, injected) {
				t.Fatalf("err %v, want the injected error", err)
			}
			// One prefix, and the file named once although the injected
			// error, like the os package's, names it already.
			named := filepath.Join(dir, snapshot.FileName(12)+snapshot.TempSuffix)
			if tc.op == "syncdir" {
				named = dir
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "snapshot: ") || strings.Count(msg, "snapshot: ") != 1 || strings.Count(msg, named) != 1 {
				t.Fatalf("error %q: want one \"snapshot: \" prefix and %s named once", msg, named)
			}
			if p != "" || size != 0 {
				t.Fatalf("returned %q, %d with an error", p, size)
			}
			assertOnlyFiles(t, dir)
			// The encoders and decoders that went back to the pools after
			// the failure still work.
			if _, _, err := snapshot.Write(dir, h, seqOf(recs), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := snapshot.Verify(filepath.Join(dir, snapshot.FileName(12)), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWrite_Concurrent writes and reads several snapshots at once (run it
// with -race).
func TestWrite_Concurrent(t *testing.T) {
	dir := t.TempDir()
	recs := userRecords(8, 3000)
	errc := make(chan error, 8)
	for v := range 8 {
		go func() {
			p, _, err := snapshot.Write(dir, snapshot.Header{Version: uint64(v + 1), Count: uint64(len(recs))}, seqOf(recs), nil)
			if err == nil {
				_, err = snapshot.Verify(p, nil)
			}
			if err == nil {
				var got []snapshot.Record
				_, got, err = readAll(p, nil)
				if err == nil && len(got) != len(recs) {
					err = fmt.Errorf("read %d records", len(got))
				}
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

func TestWrite_PanicInRecordsLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	recs := userRecords(1, 100)
	func() {
		defer func() {
			if r := recover(); r != "producer failed" {
				t.Fatalf("recovered %v", r)
			}
		}()
		snapshot.Write(dir, snapshot.Header{Version: 3, Count: 100}, func(yield func(snapshot.Record) bool) {
			for i, r := range recs {
				if i == 50 {
					panic("producer failed")
				}
				if !yield(r) {
					return
				}
			}
		}, nil)
	}()
	assertOnlyFiles(t, dir)
}
