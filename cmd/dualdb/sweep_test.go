package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/storecorpus"
)

// sweepCommands are the CLI commands the sweep runs on every kind of
// store, with their arguments ($DIR: the store, $FILE: a one-record
// import file). demo is not here: it makes its own directory.
var sweepCommands = []struct {
	name   string
	args   []string
	writes bool // may change the directory when it succeeds
}{
	{"inspect", []string{"inspect", "$DIR"}, false},
	{"verify", []string{"verify", "$DIR"}, false},
	{"get", []string{"get", "$DIR", "user:001"}, false},
	{"scan", []string{"scan", "$DIR"}, false},
	{"export", []string{"export", "$DIR"}, false},
	{"checkpoint", []string{"checkpoint", "$DIR"}, true},
	{"import", []string{"import", "$DIR", "$FILE"}, true},
	{"repair", []string{"repair", "$DIR"}, false}, // no --yes, no terminal: refuses
	{"repair-yes", []string{"repair", "$DIR", "--yes"}, true},
}

// sweepRow is one kind of store: the exit code of each command, in the
// order of sweepCommands ('n': get of a missing key, exit 1 or 2), and
// what every error message (exit 2) must contain: the file concerned.
type sweepRow struct {
	kind  string
	codes string // one digit per command
	names string // the file an error must name
}

// sweepTable is the table of docs/reliability.md: keep the two in step.
//
//	inspect verify get scan export checkpoint import repair repair --yes
var sweepTable = []sweepRow{
	{"missing-dir", "222222022", "missing"},
	{"empty-dir", "222222022", "empty-dir"},
	{"healthy", "000000022", "needs no repair"},
	{"empty-store", "00n000022", "needs no repair"},
	{"wal-missing", "012222220", "wal.db"},
	{"wal-empty", "012222220", "wal.db"},
	{"wal-truncated", "012222220", "wal.db"},
	{"wal-garbage", "012222220", "wal.db"},
	{"wal-dir", "012222220", "wal.db"},
	{"wal-no-meta", "012222220", "wal.db"},
	{"wal-bad-record", "012222220", "wal.db"},
	{"future-format", "012222222", "wal.db"},
	{"snap-is-file", "012222222", "snap"},
	{"snapshot-unreadable", "012222222", "00000000000000000006.dsnap"},
	{"snapshot-corrupt", "010000022", "needs no repair"},
	{"snapshot-missing", "010000022", "needs no repair"},
	{"extra-files", "000000022", "needs no repair"},
	{"foreign-snapshot-name", "010000022", "needs no repair"},
	{"snapshot-newer-than-wal", "010000022", "needs no repair"},
	{"leftover-temp", "000000022", "needs no repair"},
	{"leftover-in-progress", "000000022", "needs no repair"},
	{"damaged-kept", "000000022", "needs no repair"},
	{"demo-marker", "000000022", "needs no repair"},
	{"foreign-dir", "222222222", "photo.jpg"},
}

// TestSweep runs every CLI command on every kind of the damaged-store
// corpus. The exit code must be the table's; an error (exit 2) is one
// line "dualdb: <msg>" naming the file concerned, never an I/O message
// about a bad file descriptor; and no file may change unless the command
// writes and succeeded.
func TestSweep(t *testing.T) {
	for _, k := range storecorpus.Kinds {
		if !slices.ContainsFunc(sweepTable, func(r sweepRow) bool { return r.kind == k.Name }) {
			t.Errorf("corpus kind %s has no row in sweepTable", k.Name)
		}
	}
	importFile := filepath.Join(t.TempDir(), "one.jsonl")
	if err := os.WriteFile(importFile, []byte(`{"key":"imported","index":"imported@example.com","value":"v"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, row := range sweepTable {
		if len(row.codes) != len(sweepCommands) {
			t.Fatalf("%s: %d codes for %d commands", row.kind, len(row.codes), len(sweepCommands))
		}
		for i, c := range sweepCommands {
			t.Run(row.kind+"/"+c.name, func(t *testing.T) {
				dir := sweepDir(t, row.kind)
				before, err := storecorpus.Fingerprint(dir)
				if err != nil {
					t.Fatal(err)
				}
				args := expand(c.args, dir)
				for j, a := range args {
					args[j] = strings.ReplaceAll(a, "$FILE", importFile)
				}
				r := runCLI(t, "", args...)
				want := int(row.codes[i] - '0')
				if row.codes[i] == 'n' {
					// get of a key that is not there: exit 1 or 2, as get's
					// own contract says; the message names the key.
					want = r.code
					if (r.code != 1 && r.code != 2) || !strings.Contains(r.stderr+r.stdout, "user:001") {
						t.Fatalf("get of a missing key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
					}
				}
				if r.code != want {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
				}
				if strings.Contains(r.stdout+r.stderr, "bad file descriptor") || strings.Contains(r.stdout+r.stderr, "panic") {
					t.Errorf("output shows an internal failure:\n%s%s", r.stdout, r.stderr)
				}
				if r.code == exitError {
					lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
					last := lines[len(lines)-1]
					if !strings.HasPrefix(last, "dualdb: ") || strings.Count(last, "dualdb: ") != 1 {
						t.Errorf("error line is not `dualdb: <msg>` once: %q", last)
					}
					if name := row.names; c.name != "repair" && row.codes[i] != 'n' && !strings.Contains(last, name) {
						t.Errorf("error does not name %q: %q", name, last)
					}
				}
				after, err := storecorpus.Fingerprint(dir)
				if err != nil {
					t.Fatal(err)
				}
				if changed := after != before; changed && !(c.writes && r.code != exitError) {
					t.Errorf("%s changed the directory (exit %d):\nbefore:\n%s\nafter:\n%s", c.name, r.code, before, after)
				}
				if c.name == "repair-yes" && r.code == exitOK {
					if v := runCLI(t, "", "verify", dir); v.code != exitOK {
						t.Errorf("verify after repair: exit %d\n%s%s", v.code, v.stdout, v.stderr)
					}
				}
			})
		}
	}
}

// sweepDir returns a fresh copy of kind, or a missing or an empty
// directory, which git cannot keep in the corpus.
func sweepDir(t *testing.T, kind string) string {
	switch kind {
	case "missing-dir":
		return filepath.Join(t.TempDir(), "missing")
	case "empty-dir":
		dir := filepath.Join(t.TempDir(), "empty-dir")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return storecorpus.Copy(t, kind)
}
