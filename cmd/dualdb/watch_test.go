package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// compactedStore is a store whose log no longer holds its first commits:
// two checkpoints, and the log truncated up to the older one.
func compactedStore(t testing.TB) string {
	t.Helper()
	dir, d := newStore(t)
	for i := range 6 {
		if err := d.Put(fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "i%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if i == 1 || i == 3 {
			if _, err := d.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Delete([]byte("k0")); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWatch(t *testing.T) {
	runCases(t, "watch", []cliCase{
		{name: "all", store: usersStore, args: []string{"watch", "$DIR"}},
		{name: "from", store: usersStore, args: []string{"watch", "$DIR", "--from", "4"}},
		{name: "caught-up", store: usersStore, args: []string{"watch", "$DIR", "--from", "6"}},
		{name: "empty-store", store: emptyStore, args: []string{"watch", "$DIR"}},
		{name: "compacted", store: compactedStore, args: []string{"watch", "$DIR", "--from", "1"}, code: exitError},
		{name: "compacted-from-kept", store: compactedStore, args: []string{"watch", "$DIR", "--from", "2"}},
		{name: "bad-from", store: usersStore, args: []string{"watch", "$DIR", "--from", "x"}, code: exitError},
		{name: "missing-store", args: []string{"watch", "$DIR"}, code: exitError},
	})
}

// A store held by a running process is refused with a message that says
// why, exit 2.
func TestWatch_Held(t *testing.T) {
	dir := usersStore(t)
	d, err := db.Open(dir, storeOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := runCLI(t, "", "watch", dir)
	if r.code != exitError || !strings.Contains(r.stderr, "held by a running process: watching it live needs that process's operator socket") {
		t.Fatalf("watch of a held store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
