package main

import (
	"bytes"
	"encoding/json"
	"strings"
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
