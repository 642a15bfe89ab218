package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/testtier"
)

// The demo's output, with timings masked, on a small store; a second run
// on the same directory starts afresh.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	for i, name := range []string{"small", "rerun"} {
		r := runCLI(t, "", "demo", "--dir", dir, "--records", "300", "--batch", "100")
		if r.code != exitOK {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		golden(t, "demo/"+name, r, map[string]string{dir: "$DIR"})
	}
	if r := runCLI(t, "", "verify", dir); r.code != exitOK {
		t.Fatalf("verify after the demo: exit %d\n%s", r.code, r.stdout)
	}
}

// demo never removes a directory that is not a store it could have made.
func TestDemo_RefusesOtherDirs(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
	}{
		{"other-file", []string{"notes.txt"}},
		{"other-file-in-snap", []string{"wal.db", "snap/notes.txt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				path := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := runCLI(t, "", "demo", "--dir", dir, "--records", "10")
			if r.code != exitError || !strings.Contains(r.stderr, "refusing to remove it") {
				t.Errorf("exit %d, stderr %q; want 2 and a refusal", r.code, r.stderr)
			}
			for _, f := range c.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("demo removed %s: %v", f, err)
				}
			}
		})
	}
}

func TestDemo_BadFlags(t *testing.T) {
	runCases(t, "demo", []cliCase{
		{name: "one-record", args: []string{"demo", "--dir", "$DIR", "--records", "1"}, code: exitError},
		{name: "args", args: []string{"demo", "$DIR"}, code: exitError},
	})
}

// The default demo, 100,000 users, as the README runs it (long tier: the
// fast tier runs the same steps on 300 users in TestDemo).
func TestDemo_Default(t *testing.T) {
	testtier.SkipUnlessLong(t, "loads 100,000 users")
	dir := filepath.Join(t.TempDir(), "demo")
	r := runCLI(t, "", "demo", "--dir", dir)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Loaded 100,000 users", "100,000 records at version 101", "ok, no findings"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}
