package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// A store held by a running process is read through its operator socket:
// the same lines as the feed of that version, and one line saying so.
func TestWatch_Held(t *testing.T) {
	dir := usersStore(t)
	d, err := db.Open(dir, storeOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var want []byte
	for c, err := range d.Changes(context.Background(), 2) {
		if err != nil {
			t.Fatal(err)
		}
		want = db.AppendChangeJSON(want, c)
		if c.Version == d.Version() {
			break
		}
	}
	r := runCLI(t, "", "watch", dir, "--from", "2")
	if r.code != exitOK || r.stdout != string(want) || !strings.Contains(r.stderr, "dualdb: live: process") {
		t.Fatalf("watch of a held store: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	r = runCLI(t, "", "watch", dir, "--from", "99")
	if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, "no commits after version 99") {
		t.Fatalf("watch of a held store past its version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// --follow prints each new commit of a running store as it comes, and
// ends without error when interrupted; on a stopped store it is refused.
func TestWatch_Follow(t *testing.T) {
	dir := usersStore(t)
	if r := runCLI(t, "", "watch", dir, "--follow"); r.code != exitError || !strings.Contains(r.stderr, "no process holds") {
		t.Fatalf("watch --follow of a stopped store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d, err := db.Open(dir, storeOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := d.Version()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := runContext(ctx, []string{"watch", dir, "--from", fmt.Sprint(start), "--follow"}, strings.NewReader(""), pw, &errb)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	for i := range 3 {
		if err := d.Put(fmt.Appendf(nil, "follow:%d", i), fmt.Appendf(nil, "f%d@example.com", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("watch --follow ended after %d lines: %v", i, lines.Err())
		}
		var c struct {
			Version uint64 `json:"version"`
			Ops     []struct {
				Key string `json:"key"`
			} `json:"ops"`
		}
		if err := json.Unmarshal(lines.Bytes(), &c); err != nil || c.Version != start+uint64(i)+1 || len(c.Ops) != 1 || c.Ops[0].Key != fmt.Sprintf("follow:%d", i) {
			t.Fatalf("watch --follow line %d = %s (%v)", i, lines.Bytes(), err)
		}
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain until the command ends
	if code := <-done; code != exitOK {
		t.Fatalf("watch --follow ended with exit %d after an interrupt\n%s", code, errb.String())
	}
}
