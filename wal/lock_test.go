package wal_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/wal"
)

// ErrLocked says who holds the file: a writer, or read-only opens.
func TestOpen_LockedErrorSaysWho(t *testing.T) {
	path := walPath(t)
	w := openLog(t, path, nil)
	for _, ro := range []bool{false, true} {
		// A writer fails fast whatever the timeout; a reader waits it out.
		timeout := time.Hour
		if ro {
			timeout = 100 * time.Millisecond
		}
		_, err := wal.Open(path, &wal.Options{ReadOnly: ro, LockTimeout: timeout})
		var le *wal.LockedError
		if !errors.Is(err, dberr.ErrLocked) || !errors.As(err, &le) || !le.Writer || le.Path != path {
			t.Fatalf("Open (ReadOnly=%v) beside a writer = %#v, want a *LockedError naming a writer", ro, err)
		}
		if !strings.Contains(err.Error(), "held by a writer") || !strings.Contains(err.Error(), path) {
			t.Fatalf("message %q does not say a writer holds %s", err, path)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r := openLog(t, path, &wal.Options{ReadOnly: true})
	_, err := wal.Open(path, &wal.Options{LockTimeout: 300 * time.Millisecond})
	var le *wal.LockedError
	if !errors.Is(err, dberr.ErrLocked) || !errors.As(err, &le) || le.Writer || le.Waited < 300*time.Millisecond {
		t.Fatalf("writer's Open beside a reader = %#v, want a *LockedError naming readers after the whole timeout", err)
	}
	if !strings.Contains(err.Error(), "held by read-only opens") {
		t.Fatalf("message %q does not say readers hold the file", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	openLog(t, path, nil) // free again
}
