package main

import (
	"encoding/json"
	"testing"
)

func TestInspect(t *testing.T) {
	runCases(t, "inspect", []cliCase{
		{name: "users", store: usersStore, args: []string{"inspect", "$DIR"}},
		{name: "users-json", store: usersStore, args: []string{"inspect", "$DIR", "--json"}},
		{name: "empty-store", store: emptyStore, args: []string{"inspect", "$DIR"}},
		{name: "missing-store", args: []string{"inspect", "$DIR"}, code: exitError},
		{name: "no-dir", args: []string{"inspect"}, code: exitError},
	})
}

// The JSON a program reads has the fields the help promises.
func TestInspect_JSONFields(t *testing.T) {
	dir := usersStore(t)
	r := runCLI(t, "", "inspect", dir, "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got inspectJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 6 || got.Records != 21 || got.WAL.First != 1 || got.WAL.Last != 6 ||
		len(got.Snapshots) != 1 || got.Snapshots[0].Version != 2 || got.Snapshots[0].Records != 20 {
		t.Errorf("inspect --json: %+v", got)
	}
}

// inspect describes a store whose snapshot is damaged (Open falls back to
// the WAL) and says so; a store that does not load, even one whose wal.db
// cannot be read, is described from what is there, with the reason.
func TestInspect_Damaged(t *testing.T) {
	damaged := func(kind string) func(testing.TB) string {
		return func(t testing.TB) string {
			dir := usersStore(t)
			for _, c := range corpus {
				if c.name == kind {
					c.damage(t, dir)
				}
			}
			return dir
		}
	}
	runCases(t, "inspect", []cliCase{
		{name: "damaged-snapshot", store: damaged("snapshot-flipped-byte"), args: []string{"inspect", "$DIR"}},
		{name: "damaged-snapshot-json", store: damaged("snapshot-out-of-order"), args: []string{"inspect", "$DIR", "--json"}},
		{name: "wal-gap", store: damaged("wal-version-gap"), args: []string{"inspect", "$DIR"}}, // described, with why it does not load
		{name: "unknown-format", store: damaged("store-unknown-format"), args: []string{"inspect", "$DIR"}},
	})
}
