package storecorpus_test

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/internal/storecorpus"
)

var update = flag.Bool("update", false, "rewrite testdata/stores from the generator")

// TestCorpus_UpToDate regenerates every kind into a temporary directory
// and compares it, file by file, with testdata/stores: the corpus on disk
// is what the generator makes, and the generator is deterministic. With
// -update it rewrites testdata/stores instead.
func TestCorpus_UpToDate(t *testing.T) {
	root := storecorpus.Root()
	if *update {
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		if err := storecorpus.Generate(root); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := storecorpus.Generate(fresh); err != nil {
		t.Fatal(err)
	}
	got, want := tree(t, root), tree(t, fresh)
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("testdata/stores/%s is missing (run go test ./internal/storecorpus -update)", name)
		case !bytes.Equal(g, w):
			t.Errorf("testdata/stores/%s differs from what the generator makes (not deterministic, or stale: run -update)", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("testdata/stores/%s is not made by the generator", name)
		}
	}
	var total int64
	for _, b := range got {
		total += int64(len(b))
	}
	if total > 2<<20 {
		t.Errorf("corpus is %d bytes; keep it small", total)
	}
}

func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
