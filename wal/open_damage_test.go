package wal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/wal"
)

// newLogFile writes a log of n records at a new path and closes it.
func newLogFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, &wal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var entries []wal.Entry
	for v := uint64(1); v <= uint64(n); v++ {
		val := bytes.Repeat([]byte{byte(v)}, 300)
		entries = append(entries, wal.Entry{Version: v, Data: wal.AppendRecord(nil, v, []wal.Op{{Kind: wal.OpPut, Key: val[:8], Index: val[8:16], Value: val}})})
	}
	if err := l.Append(0, entries); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// An empty file, a truncated one and noise are corruption naming the
// file, in both modes, and Open leaves them as they were. A truncated
// file used to kill the process (bbolt read past the end of its mapping).
func TestOpen_DamagedFileIsCorrupt(t *testing.T) {
	noise := make([]byte, 8000)
	for i := range noise {
		noise[i] = byte(i*7 + i/13)
	}
	for name, damage := range map[string]func(path string) error{
		"empty":     func(p string) error { return os.Truncate(p, 0) },
		"truncated": func(p string) error { return os.Truncate(p, 8192) },
		"noise":     func(p string) error { return os.WriteFile(p, noise, 0o600) },
	} {
		for _, ro := range []bool{false, true} {
			path := newLogFile(t, 200)
			if err := damage(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			l, err := wal.Open(path, &wal.Options{ReadOnly: ro})
			if err == nil {
				l.Close()
			}
			var ce *dberr.CorruptionError
			if !errors.Is(err, dberr.ErrCorrupt) || !errors.As(err, &ce) || ce.File != path {
				t.Errorf("%s (read-only %v): Open = %v, want ErrCorrupt naming the file", name, ro, err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("%s (read-only %v): Open changed the file", name, ro)
			}
		}
	}
}

// A read-write Open and Close of an existing log writes nothing.
func TestOpen_ReadWriteOfExistingLogWritesNothing(t *testing.T) {
	path := newLogFile(t, 10)
	before, _ := os.ReadFile(path)
	st0, _ := os.Stat(path)
	l, err := wal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	st1, _ := os.Stat(path)
	if !bytes.Equal(before, after) || !st0.ModTime().Equal(st1.ModTime()) {
		t.Error("a read-write Open of an existing log changed it")
	}
}
