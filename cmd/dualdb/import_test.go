package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dualdb/dualdb/db"
)

// writeFile writes content to a new file in a temporary directory.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	lineA = `{"key":"a","index":"a@x","value":"1"}`
	lineB = `{"key":"b","index":"b@x","value":"2"}`
	lineC = `{"key":"c","index":"c@x","value":"3"}`
	lineD = `{"key":"d","index":"d@x","value":"4"}`
)

func TestImport(t *testing.T) {
	newDir := func(t testing.TB) string { return filepath.Join(t.TempDir(), "new") }
	emptyDir := func(t testing.TB) string { return t.TempDir() }
	otherDir := func(t testing.TB) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	runCases(t, "import", []cliCase{
		{name: "stdin", store: newDir, args: []string{"import", "$DIR", "-"}, stdin: lines(lineA, "", lineB, "  ", lineC)},
		{name: "into-existing", store: usersStore, args: []string{"import", "$DIR", "-"}, stdin: lines(lineA, lineB)},
		{name: "into-empty-dir", store: emptyDir, args: []string{"import", "$DIR", "-"}, stdin: lines(lineA, lineB)},
		{name: "no-final-newline", store: newDir, args: []string{"import", "$DIR", "-"}, stdin: lineA + "\n" + lineB},
		{name: "empty-file", store: newDir, args: []string{"import", "$DIR", "-"}},
		{name: "bad-line-first-batch", store: emptyStore, args: []string{"import", "$DIR", "-", "--batch", "2"},
			stdin: lines(lineA, `{"key":"b","index":"b@x"}`, lineC), code: exitError},
		{name: "bad-line-later-batch", store: emptyStore, args: []string{"import", "$DIR", "-", "--batch", "2"},
			stdin: lines(lineA, lineB, lineC, `not json`, lineD), code: exitError},
		{name: "bad-line-new-dir", store: newDir, args: []string{"import", "$DIR", "-", "--batch", "2"},
			stdin: lines(lineA, lineB, lineC, `not json`, lineD), code: exitError},
		{name: "conflict-in-file", store: emptyStore, args: []string{"import", "$DIR", "-", "--batch", "2"},
			stdin: lines(lineA, lineB, lineC, `{"key":"e","index":"a@x","value":"5"}`, lineD), code: exitError},
		{name: "conflict-with-store", store: usersStore, args: []string{"import", "$DIR", "-"},
			stdin: lines(lineA, `{"key":"z","index":"robert.wilson3@example.org","value":""}`), code: exitError},
		// The first batch (lines 1-7) has two conflicts (lines 4 and 6)
		// and two malformed lines (5 and 7): the first of each is named.
		{name: "several-bad-lines", store: emptyStore, args: []string{"import", "$DIR", "-", "--batch", "7"},
			stdin: lines(lineA, lineB, lineC, `{"key":"e","index":"a@x","value":"5"}`, `{"key":"f"}`,
				`{"key":"g","index":"b@x","value":"7"}`, `[]`, lineD), code: exitError},
		{name: "malformed-before-conflict", store: emptyStore, args: []string{"import", "$DIR", "-"},
			stdin: lines(lineA, `{"key":"b","index":"b@x","value":2}`, `{"key":"e","index":"a@x","value":"5"}`), code: exitError},
		{name: "too-large", store: emptyStore, args: []string{"import", "$DIR", "-"},
			stdin: lines(lineA, `{"key":"`+strings.Repeat("k", db.DefaultMaxKeySize+1)+`","index":"i","value":"v"}`,
				`{"key":"e","index":"a@x","value":"5"}`, `{"key":"f"}`), code: exitError},
		{name: "not-a-store", store: otherDir, args: []string{"import", "$DIR", "-"}, stdin: lines(lineA), code: exitError},
		{name: "not-a-dir", store: func(t testing.TB) string { return writeFile(t, "file", "x") },
			args: []string{"import", "$DIR", "-"}, stdin: lines(lineA), code: exitError},
		{name: "missing-file", store: newDir, args: []string{"import", "$DIR", "$DIR/none.jsonl"}, code: exitError},
		{name: "bad-batch", store: newDir, args: []string{"import", "$DIR", "-", "--batch", "0"}, code: exitError},
		{name: "no-file", store: newDir, args: []string{"import", "$DIR"}, code: exitError},
	})
}

// Batches are atomic: an import into an existing store that stops at line
// 4 with batches of 2 leaves exactly lines 1-2 in the store.
func TestImport_StopsBetweenBatches(t *testing.T) {
	dir := emptyStore(t)
	in := strings.Join([]string{lineA, lineB, lineC, `{"key":"e","index":"a@x","value":"5"}`, lineD}, "\n")
	r := runCLI(t, in, "import", dir, "-", "--batch", "2")
	if r.code != exitError || !strings.Contains(r.stderr, "line 4") {
		t.Fatalf("exit %d, stderr %q; want 2 naming line 4", r.code, r.stderr)
	}
	r = runCLI(t, "", "export", dir)
	if want := lineA + "\n" + lineB + "\n"; r.stdout != want {
		t.Errorf("store after the stopped import:\n%s\nwant\n%s", r.stdout, want)
	}
}

// listDir returns the names of everything under dir, relative to it.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A failed import into a store it creates leaves nothing behind: not the
// store files, not the directories it made (here the store directory and
// its missing parent), and an empty directory it was given stays empty.
func TestImport_FailureLeavesNothing(t *testing.T) {
	bad := strings.Join([]string{lineA, lineB, lineC, `not json`}, "\n")
	for _, c := range []struct {
		name   string
		setup  func(base string) string // returns the store directory
		remain []string                 // what listDir(base) must hold after
	}{
		{"new-dir", func(base string) string { return filepath.Join(base, "a", "b") }, []string{"."}},
		{"empty-dir", func(base string) string {
			dir := filepath.Join(base, "empty")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{".", "empty"}},
	} {
		for _, in := range []struct{ name, stdin string }{
			{"bad-line-later-batch", bad},
			{"bad-line-first-batch", `not json`},
			{"too-long", lineA + "\n" + strings.Repeat("x", maxLineSize+1)},
		} {
			t.Run(c.name+"/"+in.name, func(t *testing.T) {
				base := t.TempDir()
				dir := c.setup(base)
				r := runCLI(t, in.stdin, "import", dir, "-", "--batch", "2")
				if r.code != exitError || !strings.Contains(r.stderr, "was removed") {
					t.Errorf("exit %d, stderr %q; want 2 and the removal said", r.code, r.stderr)
				}
				if got := listDir(t, base); strings.Join(got, " ") != strings.Join(c.remain, " ") {
					t.Errorf("after the failed import %s holds %q, want %q", base, got, c.remain)
				}
			})
		}
	}
}

// import writes nothing into a directory that holds other files.
func TestImport_RefusesOtherDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, lineA+"\n", "import", dir, "-")
	if r.code != exitError || !strings.Contains(r.stderr, "is not empty and is not a dualdb store") {
		t.Errorf("exit %d, stderr %q; want 2 and a refusal", r.code, r.stderr)
	}
	if got := listDir(t, dir); strings.Join(got, " ") != ". notes.txt" {
		t.Errorf("after the refused import %s holds %q", dir, got)
	}
}

// export, import into a new store, export again: identical files, for
// the users fixture and for records of arbitrary bytes.
func TestImport_RoundTrip(t *testing.T) {
	randomStore := func(t testing.TB) string {
		dir, d := newStore(t)
		rng := rand.New(rand.NewPCG(1, 2))
		pick := []string{"", "a", "\x00", "\xff", "\"", "\\", "\n", "\t", "\u2028", "é", "😀", "\xed\xa0\x80", "<&>", "{}", "\x7f", "\ufffd"}
		gen := func(min int) []byte {
			var b []byte
			for n := min + rng.IntN(6); len(b) < n; {
				if rng.IntN(3) == 0 {
					b = append(b, byte(rng.Uint32()))
				} else {
					b = append(b, pick[rng.IntN(len(pick))]...)
				}
			}
			return b
		}
		err := d.Update(func(tx *db.Tx) error {
			for range 300 {
				k, i := gen(1), gen(0)
				if _, err := tx.GetByIndex(i); err == nil {
					continue
				}
				if err := tx.Put(k, i, gen(0)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, c := range []struct {
		name  string
		store func(testing.TB) string
	}{{"users", usersStore}, {"random-bytes", randomStore}, {"empty", emptyStore}} {
		t.Run(c.name, func(t *testing.T) {
			src := c.store(t)
			first := filepath.Join(t.TempDir(), "first.jsonl")
			second := filepath.Join(t.TempDir(), "second.jsonl")
			copyDir := filepath.Join(t.TempDir(), "copy")
			for _, args := range [][]string{
				{"export", src, "-o", first},
				{"import", copyDir, first, "--batch", "7"},
				{"export", copyDir, "-o", second},
				{"verify", copyDir},
			} {
				if r := runCLI(t, "", args...); r.code != exitOK {
					t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
				}
			}
			a, _ := os.ReadFile(first)
			b, _ := os.ReadFile(second)
			if !bytes.Equal(a, b) {
				t.Fatalf("export after import differs:\n%s\nfirst export:\n%s", b, a)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	ok := []struct {
		line              string
		key, index, value string
	}{
		{`{"key":"a","index":"b","value":"c"}`, "a", "b", "c"},
		{` { "value" : "c" , "index":"" ,"key":"a" } `, "a", "", "c"},
		{`{"key_b64":"AP8=","index_b64":"","value_b64":"/w=="}`, "\x00\xff", "", "\xff"},
		{`{"key":"\u00e9\ud83d\ude00","index":"\"\\\n\u0000","value":"<&>"}`, "é😀", "\"\\\n\x00", "<&>"},
		{`{"key":"a","index":"b","value":"c"}` + "\r", "a", "b", "c"},
	}
	for _, c := range ok {
		r, err := parseLine([]byte(c.line))
		if err != nil {
			t.Errorf("parseLine(%s): %v", c.line, err)
			continue
		}
		if string(r.Key) != c.key || string(r.Index) != c.index || string(r.Value) != c.value {
			t.Errorf("parseLine(%s) = %q %q %q", c.line, r.Key, r.Index, r.Value)
		}
	}
	bad := []struct{ line, want string }{
		{``, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`{"key":"a","index":"b"}`, `"value" is missing`},
		{`{"key":"","index":"b","value":""}`, "empty key"},
		{`{"key":"a","key_b64":"YQ==","index":"b","value":""}`, "given twice"},
		{`{"key":"a","index":"b","value":"","extra":""}`, "unknown field"},
		{`{"key":1,"index":"b","value":""}`, "not a JSON string"},
		{`{"key":"a","index":"b","value":null}`, "not a JSON string"},
		{`{"key_b64":"YQ","index":"b","value":""}`, "base64"},
		{`{"key":"a","index":"b","value":""} {}`, "after the JSON object"},
		{`{"key":"a","index":"b","value":""`, "bad JSON"},
		{`{"key":"\ud800","index":"b","value":""}`, "lone high surrogate"},
		{`{"key":"\udc00","index":"b","value":""}`, "lone low surrogate"},
		{`{"key":"\ud800\u0041","index":"b","value":""}`, "lone high surrogate"},
		{"{\"key\":\"\xff\",\"index\":\"b\",\"value\":\"\"}", "not valid UTF-8"},
	}
	for _, c := range bad {
		_, err := parseLine([]byte(c.line))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseLine(%s) = %v, want an error containing %q", c.line, err, c.want)
		}
	}
}

// FuzzParseLine: parseLine never panics, and a line it accepts means one
// record, which export writes as a line that parses to the same record.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		lineA,
		`{"key_b64":"AP8=","index_b64":"","value_b64":"/w=="}`,
		`{"key":"\ud83d\ude00","index":"\u0000","value":"\\\""}`,
		`{"key":"a","index":"b","value":""} x`,
		`{"key":"\ud800","index":"b","value":""}`,
		`{"key":"a","key":"b"}`,
		`{`, `}`, `"`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseLine(line)
		if err != nil {
			return
		}
		if len(r.Key) == 0 {
			t.Fatalf("parseLine(%q) accepted an empty key", line)
		}
		again, err := parseLine(appendJSONRecord(nil, r))
		if err != nil {
			t.Fatalf("parseLine(%q) = {%q %q %q}, whose export line does not parse: %v", line, r.Key, r.Index, r.Value, err)
		}
		if !bytes.Equal(again.Key, r.Key) || !bytes.Equal(again.Index, r.Index) || !bytes.Equal(again.Value, r.Value) {
			t.Fatalf("round trip of %q: {%q %q %q} became {%q %q %q}", line, r.Key, r.Index, r.Value, again.Key, again.Index, again.Value)
		}
	})
}

// A batch goes in as a whole: records of the store and of the batch may
// swap index keys, and a key given twice takes its later line, as lines
// applied one by one would leave it.
func TestImport_BatchAsAWhole(t *testing.T) {
	dir := emptyStore(t)
	if r := runCLI(t, lineA+"\n"+lineB+"\n", "import", dir, "-"); r.code != exitOK {
		t.Fatalf("first import: exit %d, stderr %q", r.code, r.stderr)
	}
	in := strings.Join([]string{
		`{"key":"a","index":"b@x","value":"1b"}`, // takes b's index key, which b gives up below
		`{"key":"b","index":"a@x","value":"2b"}`,
		lineC,
		`{"key":"c","index":"c2@x","value":"3b"}`, // the same key again: the later line wins
	}, "\n")
	if r := runCLI(t, in, "import", dir, "-"); r.code != exitOK {
		t.Fatalf("import of a swap and a repeated key: exit %d, stderr %q", r.code, r.stderr)
	}
	r := runCLI(t, "", "export", dir)
	want := strings.Join([]string{
		`{"key":"a","index":"b@x","value":"1b"}`,
		`{"key":"b","index":"a@x","value":"2b"}`,
		`{"key":"c","index":"c2@x","value":"3b"}`,
	}, "\n") + "\n"
	if r.stdout != want {
		t.Errorf("store after the import:\n%s\nwant\n%s", r.stdout, want)
	}
	// A swap back is fine; the conflict named is the line whose index key
	// stays taken (line 3), not a line of the swap.
	in = strings.Join([]string{
		`{"key":"a","index":"a@x","value":"1c"}`,
		`{"key":"b","index":"b@x","value":"2c"}`,
		`{"key":"z","index":"c2@x","value":"9"}`,
	}, "\n")
	r = runCLI(t, in, "import", dir, "-")
	if r.code != exitError || !strings.Contains(r.stderr, "line 3: conflict: index key c2@x belongs to key c") || strings.Contains(r.stderr, "line 1") {
		t.Errorf("import of a swap and a conflict: exit %d, stderr %q; want 2 naming line 3 alone", r.code, r.stderr)
	}
	if r := runCLI(t, "", "export", dir); r.stdout != want {
		t.Errorf("store after the refused import:\n%s\nwant\n%s", r.stdout, want)
	}
}

// A read error stops the import after the batches read before it; the
// batch it cut short is not applied, and the message names the line.
func TestImport_ReadError(t *testing.T) {
	dir := emptyStore(t)
	in := io.MultiReader(strings.NewReader(lineA+"\n"+lineB+"\n"+lineC+"\n"), iotest.ErrReader(errors.New("device gone")))
	err := runImport(in, io.Discard, io.Discard, dir, "-", 2)
	want := "import stopped at standard input line 4: device gone; applied: lines 1-2 (2 records in 1 batch), not applied: line 3 on"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("import = %v, want an error saying %q", err, want)
	}
	r := runCLI(t, "", "export", dir)
	if want := lineA + "\n" + lineB + "\n"; r.stdout != want {
		t.Errorf("store after the stopped import:\n%s\nwant\n%s", r.stdout, want)
	}
}
