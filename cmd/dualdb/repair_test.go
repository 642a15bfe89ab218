package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/storecorpus"
)

// repair prints its plan and, without --yes and without a terminal,
// refuses and changes nothing.
func TestRepair_RefusesWithoutYes(t *testing.T) {
	dir := storecorpus.Copy(t, "wal-empty")
	before, _ := storecorpus.Fingerprint(dir)
	r := runCLI(t, "yes\n", "repair", dir)
	if r.code != exitError || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("exit %d, stderr %q: want a refusal naming --yes", r.code, r.stderr)
	}
	for _, want := range []string{"rebuild from: snap/00000000000000000006.dsnap (version 6, 21 records)", "wal.db.damaged-", "lost: versions after 6, if any, are lost"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not say %q:\n%s", want, r.stdout)
		}
	}
	if after, _ := storecorpus.Fingerprint(dir); after != before {
		t.Error("repair without --yes changed the directory")
	}
}

// repair --yes rebuilds wal.db, keeps the damaged one byte for byte,
// says which versions are lost, and verify passes afterwards.
func TestRepair_Yes(t *testing.T) {
	dir := storecorpus.Copy(t, "wal-bad-record")
	damaged, err := os.ReadFile(filepath.Join(dir, db.WALFile))
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "repair", dir, "--yes")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "versions 7-8, which the damaged wal.db holds") {
		t.Errorf("repair does not say which versions are lost:\n%s", r.stdout)
	}
	kept := regexp.MustCompile(`wal\.db\.damaged-[0-9TZ]+`).FindString(r.stdout)
	if b, err := os.ReadFile(filepath.Join(dir, kept)); err != nil || string(b) != string(damaged) {
		t.Errorf("damaged wal.db not kept as %q: %v", kept, err)
	}
	if v := runCLI(t, "", "verify", dir); v.code != exitOK {
		t.Errorf("verify after repair: exit %d\n%s", v.code, v.stdout)
	}
	if g := runCLI(t, "", "get", dir, "user:001"); g.code != exitOK || !strings.Contains(g.stdout, "renamed") {
		t.Errorf("get after repair: exit %d\n%s%s", g.code, g.stdout, g.stderr)
	}
	// A repaired store needs no second repair.
	if again := runCLI(t, "", "repair", dir, "--yes"); again.code != exitError || !strings.Contains(again.stderr, "needs no repair") {
		t.Errorf("second repair: exit %d\n%s", again.code, again.stderr)
	}
}

// repair refuses a store another process holds, and changes nothing.
func TestRepair_RefusesLockedStore(t *testing.T) {
	dir := storecorpus.Copy(t, "healthy")
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before, _ := storecorpus.Fingerprint(dir)
	r := runCLI(t, "", "repair", dir, "--yes")
	if r.code != exitError || !strings.Contains(r.stderr, "locked") {
		t.Fatalf("exit %d, stderr %q: want locked", r.code, r.stderr)
	}
	if after, _ := storecorpus.Fingerprint(dir); after != before {
		t.Error("repair of a locked store changed the directory")
	}
}
