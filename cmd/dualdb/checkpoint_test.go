package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/db"
)

func TestCheckpoint(t *testing.T) {
	runCases(t, "checkpoint", []cliCase{
		{name: "users", store: usersStore, args: []string{"checkpoint", "$DIR"}},
		{name: "empty-store", store: emptyStore, args: []string{"checkpoint", "$DIR"}},
		{name: "missing-store", args: []string{"checkpoint", "$DIR"}, code: exitError},
		{name: "no-dir", args: []string{"checkpoint"}, code: exitError},
	})
}

// A second checkpoint at the same version writes nothing new; the new
// snapshot is then the one Open loads, and the WAL is cut up to the older.
func TestCheckpoint_Twice(t *testing.T) {
	dir := usersStore(t)
	r := runCLI(t, "", "checkpoint", dir)
	if r.code != exitOK {
		t.Fatalf("first checkpoint: exit %d: %s", r.code, r.stderr)
	}
	r = runCLI(t, "", "checkpoint", dir)
	if r.code != exitOK {
		t.Fatalf("second checkpoint: exit %d: %s", r.code, r.stderr)
	}
	golden(t, "checkpoint/twice", r, map[string]string{dir: "$DIR"})
	if r := runCLI(t, "", "verify", dir); r.code != exitOK {
		t.Fatalf("verify after checkpoints: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// checkpoint must not create a store where there is none.
func TestCheckpoint_CreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nothing")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "checkpoint", dir); r.code != exitError {
		t.Fatalf("exit %d, want %d", r.code, exitError)
	}
	if _, err := os.Stat(filepath.Join(dir, db.WALFile)); !os.IsNotExist(err) {
		t.Fatalf("checkpoint created %s: %v", db.WALFile, err)
	}
}
