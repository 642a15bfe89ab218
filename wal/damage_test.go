package wal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/wal"
)

// A page overwritten with garbage makes bbolt panic when it reads it; the
// log must turn that into ErrCorrupt naming the file, never crash.
func TestLog_DamagedPageIsCorruptionNotPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var entries []wal.Entry
	for v := uint64(1); v <= 400; v++ {
		val := make([]byte, 200)
		entries = append(entries, wal.Entry{Version: v, Data: wal.AppendRecord(nil, v, []wal.Op{{Kind: wal.OpPut, Key: val[:8], Index: val[8:16], Value: val}})})
	}
	if err := l.Append(0, entries); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := os.Getpagesize()
	damaged := 0
	// Overwrite every page after the two meta pages and the freelist with
	// garbage, one at a time, and read the whole log each time.
	for page := 2; (page+1)*pageSize <= len(data); page++ {
		bad := append([]byte(nil), data...)
		for i := page * pageSize; i < (page+1)*pageSize; i++ {
			bad[i] = byte(0xA5 ^ i)
		}
		// A fresh file per page: when bbolt panics inside its own Open,
		// after mapping the file, the process keeps that file's lock.
		badPath := filepath.Join(t.TempDir(), "wal.db")
		if err := os.WriteFile(badPath, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := wal.Open(badPath, nil)
		if err == nil {
			_, err = l.Replay(1, func(uint64, []wal.Op) error { return nil })
			if err == nil {
				_, _, _, err = l.Bounds()
			}
			l.Close()
		}
		if err != nil {
			if !errors.Is(err, dberr.ErrCorrupt) {
				t.Fatalf("page %d damaged: error %v is not ErrCorrupt", page, err)
			}
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("no damaged page was reported: the test damaged nothing that is read")
	}
	t.Logf("%d damaged pages reported as corruption", damaged)
}
