package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExport(t *testing.T) {
	runCases(t, "export", []cliCase{
		{name: "users", store: usersStore, args: []string{"export", "$DIR"}},
		{name: "empty-store", store: emptyStore, args: []string{"export", "$DIR"}},
		{name: "missing-store", args: []string{"export", "$DIR"}, code: exitError},
		{name: "bad-output", store: usersStore, args: []string{"export", "$DIR", "-o", "$DIR/no/such/dir/out.jsonl"}, code: exitError},
	})
}

// export -o writes the same bytes as export to standard output, and
// leaves no temporary file.
func TestExport_File(t *testing.T) {
	dir := usersStore(t)
	out := filepath.Join(t.TempDir(), "users.jsonl")
	r := runCLI(t, "", "export", dir, "-o", out)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "export/file", r, map[string]string{dir: "$DIR", out: "$OUT"})
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := runCLI(t, "", "export", dir).stdout; string(got) != want {
		t.Errorf("export -o wrote\n%s\nexport to stdout wrote\n%s", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("export left %d files, want 1: %v", len(entries), entries)
	}
}
