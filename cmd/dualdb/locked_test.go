package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// A store held by a writer that serves no operator socket (an open
// db.DB, here in this process, which bbolt's file lock treats like another
// process) gives a clear message and exit 2, quickly: no command hangs on
// the lock.
func TestLocked(t *testing.T) {
	dir := usersStore(t)
	opts := storeOpts()
	opts.NoAdminSocket = true
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanup, not defer: it runs after the parallel subtests.
	t.Cleanup(func() { _ = d.Close() })
	golden(t, "locked/get", runCLI(t, "", "get", dir, "k"), map[string]string{dir: "$DIR"})
	for _, args := range [][]string{
		{"inspect", dir},
		{"inspect", dir, "--json"},
		{"verify", dir},
		{"get", dir, "user:0000000001"},
		{"get", dir, "--index", "x"},
		{"scan", dir},
		{"export", dir},
		{"checkpoint", dir},
		{"backup", dir, "-o", "-"},
		{"import", dir, "-"},
	} {
		t.Run(strings.Join(append([]string{args[0]}, args[2:]...), " "), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := runCLI(t, "", args...)
			took := time.Since(start)
			if r.code != exitError {
				t.Errorf("%v: exit %d, want %d\n%s%s", args, r.code, exitError, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "is locked: another process has it open for writing") {
				t.Errorf("%v: unclear message %q", args, r.stderr)
			}
			if took > 5*time.Second {
				t.Errorf("%v took %v", args, took)
			}
		})
	}
}

// Readers share a store: read-only commands work beside a read-only DB.
func TestLocked_ReadersShare(t *testing.T) {
	dir := usersStore(t)
	d, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, args := range [][]string{{"get", dir, "user:0000000003"}, {"scan", dir, "--limit", "1"}, {"inspect", dir}, {"verify", dir}} {
		if r := runCLI(t, "", args...); r.code != exitOK {
			t.Errorf("%v beside a reader: exit %d\n%s", args, r.code, r.stderr)
		}
	}
}
