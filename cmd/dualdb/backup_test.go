package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backup -o FILE writes a verified snapshot file that verify --snapshot
// accepts and restore turns into a store with the same records; -o -
// writes the same bytes to standard output, and restore - reads them.
func TestBackup_Restore(t *testing.T) {
	dir := usersStore(t)
	out := filepath.Join(t.TempDir(), "users.dsnap")
	r := runCLI(t, "", "backup", dir, "-o", out)
	if r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	golden(t, "backup/file", r, map[string]string{out: "$OUT"})
	if r := runCLI(t, "", "verify", "--snapshot", out); r.code != exitOK || !strings.Contains(r.stdout, "ok, no findings (snapshot file of version 6, 21 records)") {
		t.Fatalf("verify --snapshot of a backup: exit %d\n%s", r.code, r.stdout)
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "backup", dir, "-o", "-"); r.code != exitOK || r.stdout != string(file) || r.stderr != "" {
		t.Fatalf("backup -o -: exit %d, %d bytes (the file has %d), stderr %q", r.code, len(r.stdout), len(file), r.stderr)
	}
	want := runCLI(t, "", "export", dir).stdout
	for i, args := range [][]string{{"restore", out, "$DIR"}, {"restore", "-", "$DIR"}} {
		restored := filepath.Join(t.TempDir(), "restored")
		r := runCLI(t, string(file), expand(args, restored)...)
		if r.code != exitOK {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if i == 0 {
			golden(t, "backup/restore", r, map[string]string{out: "$OUT", restored: "$DIR"})
		}
		if got := runCLI(t, "", "export", restored).stdout; got != want {
			t.Fatalf("%v: the restored store holds\n%s\nwant\n%s", args, got, want)
		}
		if r := runCLI(t, "", "verify", restored); r.code != exitOK {
			t.Fatalf("verify of the restored store: exit %d\n%s", r.code, r.stdout)
		}
	}
}

// backup keeps an existing FILE unless --force, refuses a FILE.tmp it did
// not create, and leaves no temporary file.
func TestBackup_Refusals(t *testing.T) {
	dir := usersStore(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "b.dsnap")
	if err := os.WriteFile(out, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "backup", dir, "-o", out)
	if r.code != exitError || !strings.Contains(r.stderr, "exists: refusing to overwrite it (give --force") {
		t.Fatalf("backup onto an existing file: exit %d, %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if err := os.WriteFile(out+".tmp", []byte("someone's"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", "backup", dir, "-o", out, "--force")
	if r.code != exitError || !strings.Contains(r.stderr, "b.dsnap.tmp exists: another backup") {
		t.Fatalf("backup beside a FILE.tmp: exit %d, %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(out + ".tmp"); string(b) != "someone's" {
		t.Fatalf("a FILE.tmp backup did not create was changed: %q", b)
	}
	if err := os.Remove(out + ".tmp"); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "backup", dir, "-o", out, "--force"); r.code != exitOK {
		t.Fatalf("backup --force: exit %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, "", "verify", "--snapshot", out); r.code != exitOK {
		t.Fatalf("the forced backup does not verify: %s", r.stdout)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Fatalf("backup left %d files, want 1: %v", len(entries), entries)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", dir}, "backup needs -o FILE"},
		{[]string{"backup", filepath.Join(tmp, "missing"), "-o", filepath.Join(tmp, "x")}, "no such directory"},
		{[]string{"backup", dir, "-o", filepath.Join(tmp, "no", "dir", "x")}, "create the backup file"},
	} {
		r := runCLI(t, "", c.args...)
		if r.code != exitError || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "x")); err == nil {
		t.Errorf("a failed backup left its file")
	}
}

// restore makes new stores only, and a damaged backup leaves nothing.
func TestRestore_Refusals(t *testing.T) {
	dir := usersStore(t)
	out := filepath.Join(t.TempDir(), "b.dsnap")
	if r := runCLI(t, "", "backup", dir, "-o", out); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "notes.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.dsnap")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "verify", "--snapshot", damaged); r.code != exitFindings {
		t.Errorf("verify --snapshot of a damaged backup: exit %d, want 1\n%s", r.code, r.stdout)
	}
	fresh := filepath.Join(t.TempDir(), "new")
	for _, c := range []struct {
		file, dir, want string
	}{
		{out, dir, "already holds a store: restore only creates a new store"},
		{out, nonEmpty, "is not empty (it holds notes.txt)"},
		{filepath.Join(t.TempDir(), "missing.dsnap"), fresh, "no such file"},
		{damaged, fresh, "the backup was refused, nothing restored"},
	} {
		state := func() string {
			if _, err := os.Stat(c.dir); err != nil {
				return "absent"
			}
			return fmt.Sprint(fingerprint(t, c.dir))
		}
		before := state()
		r := runCLI(t, "", "restore", c.file, c.dir)
		if r.code != exitError || !strings.Contains(r.stderr, c.want) {
			t.Errorf("restore %s %s: exit %d, stderr %q; want 2 and %q", c.file, c.dir, r.code, r.stderr, c.want)
		}
		if after := state(); before != after {
			t.Errorf("restore %s %s changed the directory: %v -> %v", c.file, c.dir, before, after)
		}
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a refused restore created %s", fresh)
	}
}
