package dberr_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
)

// TestCorruptionError_Format pins the four forms of the message: the db
// package documents them and the CLI's golden files show them.
func TestCorruptionError_Format(t *testing.T) {
	for _, tc := range []struct {
		err  *dberr.CorruptionError
		want string
	}{
		{&dberr.CorruptionError{File: "f", Offset: 8, Version: 3, Reason: "r"}, "dualdb: corrupt f at offset 8 (version 3): r"},
		{&dberr.CorruptionError{File: "f", Offset: 0, Reason: "r"}, "dualdb: corrupt f at offset 0: r"},
		{&dberr.CorruptionError{File: "f", Offset: -1, Version: 3, Reason: "r"}, "dualdb: corrupt f at version 3: r"},
		{&dberr.CorruptionError{File: "f", Offset: -1, Reason: "r"}, "dualdb: corrupt f: r"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, dberr.ErrCorrupt) {
			t.Errorf("%v is not ErrCorrupt", tc.err)
		}
	}
}

// TestWrapFile_NamesPathOnce: the path appears once in the message,
// whether or not the wrapped error names it, and the cause stays
// reachable.
func TestWrapFile_NamesPathOnce(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, openErr := os.Open(missing)
	renameErr := os.Rename(missing, filepath.Join(dir, "other"))
	other := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"path-error", openErr, "snapshot: open " + missing + ": no such file or directory"},
		{"link-error", renameErr, "snapshot: rename " + missing + " " + filepath.Join(dir, "other") + ": no such file or directory"},
		{"plain-error", other, "snapshot: open " + missing + ": disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := "open"
			if tc.name == "link-error" {
				op = "rename"
			}
			got := dberr.WrapFile("snapshot", op, missing, tc.err)
			if got.Error() != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if n := strings.Count(got.Error(), missing); n != 1 {
				t.Fatalf("%q names the path %d times", got, n)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("%v does not wrap %v", got, tc.err)
			}
		})
	}
	if !errors.Is(dberr.WrapFile("wal", "open", missing, openErr), fs.ErrNotExist) {
		t.Fatal("the cause's kind is lost")
	}
	if dberr.WrapFile("wal", "open", missing, nil) != nil {
		t.Fatal("WrapFile of nil is not nil")
	}
}
