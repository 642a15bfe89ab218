package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fingerprint describes every file under dir: name, mode, size, time and
// a hash of the content.
func fingerprint(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		sum := ""
		if !e.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		out[path] = fmt.Sprintf("%v %d %v %s", st.Mode(), st.Size(), st.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// inspect, verify, get, scan and export never write, on a healthy store
// and on one whose snapshot is damaged (a writer's Open would keep it,
// but nothing may "repair" it behind the user's back).
func TestReadOnlyCommands_NeverWrite(t *testing.T) {
	for _, damage := range []string{"", "snapshot-flipped-byte", "wal-version-gap"} {
		t.Run("damage="+damage, func(t *testing.T) {
			dir := usersStore(t)
			for _, c := range corpus {
				if c.name == damage {
					c.damage(t, dir)
				}
			}
			before := fingerprint(t, dir)
			for _, args := range [][]string{
				{"inspect", dir}, {"inspect", dir, "--json"},
				{"verify", dir}, {"verify", dir, "--json"},
				{"verify", "--snapshot", snapPath(dir, 2)},
				{"get", dir, "user:0000000003"}, {"get", dir, "--index", "x"},
				{"scan", dir}, {"scan", dir, "--by", "index", "--reverse", "--json"},
				{"export", dir},
			} {
				r := runCLI(t, "", args...)
				// verify reports such a store and inspect describes it
				// (with the reason it does not load); the others fail.
				if r.code == exitOK && damage == "wal-version-gap" && args[0] != "verify" && args[0] != "inspect" {
					t.Errorf("%v on a store that does not load: exit 0", args)
				}
			}
			after := fingerprint(t, dir)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("read-only commands changed the store:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}
