package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/dualdb/dualdb/db"
)

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 64 << 10: "64 KiB",
		16 << 20: "16 MiB", 36<<20 + 1<<19: "36.5 MiB", 3 << 40: "3 TiB",
	} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := plural(1, "record", "records"); got != "1 record" {
		t.Errorf("plural(1) = %q", got)
	}
	if got := plural(uint64(2000), "record", "records"); got != "2,000 records" {
		t.Errorf("plural(2000) = %q", got)
	}
}

func TestShow(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string
		escaped bool
	}{
		{"user:1", "user:1", false},
		{"ada lovelace", "ada lovelace", false},
		{"é😀", "é😀", false},
		{"", "", false},
		{`{"a":1}`, `{"a":1}`, false},
		{`"quoted"`, `"\"quoted\""`, true},
		{"a\x00b", `"a\x00b"`, true},
		{"\xff", `"\xff"`, true},
		{"line\nbreak", `"line\nbreak"`, true},
		{"tab\there", `"tab\there"`, true},
		{"\u2028", `"\u2028"`, true},
	} {
		got, esc := show([]byte(c.in))
		if got != c.want || esc != c.escaped {
			t.Errorf("show(%q) = %s, %v; want %s, %v", c.in, got, esc, c.want, c.escaped)
		}
	}
}

// The JSON-lines encoding reads back with encoding/json and with
// parseLine to the same bytes.
func TestAppendJSONRecord(t *testing.T) {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	for _, r := range []db.Record{
		{Key: []byte("k"), Index: []byte("i"), Value: []byte("v")},
		{Key: []byte("<&>\"\\/\u2028\u2029\x7f"), Index: []byte("\x00\x01\x1f\n\r\t"), Value: []byte("é😀\ufffd")},
		{Key: all, Index: nil, Value: []byte("\xed\xa0\x80")},
	} {
		line := appendJSONRecord(nil, r)
		if bytes.ContainsAny(line, "\n\r") {
			t.Errorf("line holds a line break: %s", line)
		}
		var m map[string]string
		if err := json.Unmarshal(line, &m); err != nil {
			t.Errorf("encoding/json cannot read %s: %v", line, err)
		}
		if s, ok := m["key"]; ok && s != string(r.Key) {
			t.Errorf("encoding/json reads key %q, want %q", s, r.Key)
		}
		got, err := parseLine(line)
		if err != nil {
			t.Fatalf("parseLine(%s): %v", line, err)
		}
		if !bytes.Equal(got.Key, r.Key) || !bytes.Equal(got.Index, r.Index) || !bytes.Equal(got.Value, r.Value) {
			t.Errorf("round trip of {%q %q %q} gave {%q %q %q}", r.Key, r.Index, r.Value, got.Key, got.Index, got.Value)
		}
	}
	if got := string(appendJSONRecord(nil, db.Record{Key: []byte("\xff"), Index: []byte("i"), Value: nil})); got != `{"key_b64":"/w==","index":"i","value":""}` {
		t.Errorf("binary key: %s", got)
	}
}

// The root help documents the exit codes.
func TestHelp_ExitCodes(t *testing.T) {
	r := runCLI(t, "", "--help")
	for _, want := range []string{"0  ok", "1  findings", "2  usage or I/O error"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("dualdb --help (exit %d) lacks %q:\n%s", r.code, want, r.stdout)
		}
	}
	for _, cmd := range []string{"demo", "inspect", "verify", "get", "scan", "export", "import", "checkpoint"} {
		if r := runCLI(t, "", cmd, "--help"); r.code != exitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("dualdb %s --help: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
	if r := runCLI(t, "", "no-such-command"); r.code != exitError {
		t.Errorf("unknown command: exit %d, want %d", r.code, exitError)
	}
}

// TestWrapErr_NameOncePathOnce: the line run prints for a wrapped error
// names dualdb once, at its start, and a path at most once, whatever the
// cause (the store's own error, another package's, the os package's), and
// the cause's text is never edited (a key holding "dualdb: " stays whole).
// A context naming a path the cause names is left out.
func TestWrapErr_NameOncePathOnce(t *testing.T) {
	const dir = "/x/store"
	walPath := dir + "/" + db.WALFile
	keyed := fmt.Errorf("%w: key %q", db.ErrNotFound, "dualdb: k")
	for _, tc := range []struct {
		name  string
		err   error
		want  string
		again string // a text the line must hold exactly once
	}{
		{"store-error", wrapErr(&db.CorruptionError{File: walPath, Offset: -1, Reason: "r"}, "checkpoint %s", dir),
			"dualdb: corrupt /x/store/wal.db: r (checkpoint /x/store)", walPath},
		{"other-package", wrapErr(errors.New("wal: sync /x/store/wal.db: EIO"), "checkpoint %s", dir),
			"dualdb: checkpoint /x/store: wal: sync /x/store/wal.db: EIO", walPath},
		{"os-same-path", wrapErr(&fs.PathError{Op: "stat", Path: dir, Err: syscall.EACCES}, "%s", dir),
			"dualdb: stat /x/store: permission denied", dir},
		{"os-other-path", wrapErr(&fs.PathError{Op: "stat", Path: walPath, Err: syscall.EACCES}, "open %s", "/y"),
			"dualdb: open /y: stat /x/store/wal.db: permission denied", walPath},
		{"store-error-names-path", wrapErr(fmt.Errorf("%w: %s has no wal.db", db.ErrNotStore, dir), "open %s", dir),
			"dualdb: not a dualdb store: /x/store has no wal.db", dir},
		{"unedited", wrapErr(keyed, "get"), `dualdb: not found: key "dualdb: k" (get)`, `"dualdb: k"`},
		{"cli-own", usageErr("--limit must not be negative"), "dualdb: --limit must not be negative", "--limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := errLine(tc.err)
			if line != tc.want {
				t.Errorf("line %q, want %q", line, tc.want)
			}
			if !strings.HasPrefix(line, "dualdb: ") {
				t.Errorf("%q does not start with the name", line)
			}
			if n := strings.Count(strings.ReplaceAll(line, tc.again, ""), "dualdb: "); n != 1 {
				t.Errorf("%q names dualdb %d times", line, n)
			}
			if n := strings.Count(line, tc.again+" ") + strings.Count(line, tc.again+":") + strings.Count(line, tc.again+")"); n != 1 {
				t.Errorf("%q holds %q %d times, want once", line, tc.again, n)
			}
		})
	}
}
