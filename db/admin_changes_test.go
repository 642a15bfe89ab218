package db_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// feedLines is what /v1/changes must send for the commits of d after from
// up to to: AppendChangeJSON of each, one a line.
func feedLines(t *testing.T, d *db.DB, from, to uint64) []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var b []byte
	for c, err := range d.Changes(ctx, from) {
		if err != nil {
			t.Fatalf("Changes(%d): %v", from, err)
		}
		b = db.AppendChangeJSON(b, c)
		if c.Version >= to {
			break
		}
	}
	return b
}

func TestHandler_Changes(t *testing.T) {
	d := openTest(t, &db.Options{CheckpointEvery: -1, NoAdminSocket: true})
	fillUsers(t, d, 5)
	mustPut(t, d, "a", "ia", "A")
	if err := d.Delete([]byte("user:0001")); err != nil {
		t.Fatal(err)
	}
	c := mountedClient(t, d)

	a := c.get("/v1/changes")
	a.want(t, "changes from 0", 200, "")
	if v := a.version(t); v != 3 {
		t.Errorf("changes: version header %d, want 3", v)
	}
	if want := feedLines(t, d, 0, 3); !bytes.Equal(a.body, want) {
		t.Errorf("changes from 0:\n%s\nwant:\n%s", a.body, want)
	}
	a = c.get("/v1/changes?from=2")
	a.want(t, "changes from 2", 200, "")
	if want := feedLines(t, d, 2, 3); !bytes.Equal(a.body, want) {
		t.Errorf("changes from 2:\n%s\nwant:\n%s", a.body, want)
	}
	a = c.get("/v1/changes?from=3")
	a.want(t, "changes when caught up", 200, "")
	if len(a.body) != 0 {
		t.Errorf("changes from the current version sent %q, want nothing", a.body)
	}
	c.get("/v1/changes?from=x").want(t, "bad from", 400, "not a version")
	c.get("/v1/changes?follow=yes").want(t, "bad follow", 400, "follow")

	// Compacted: two checkpoints let the WAL drop version 1.
	mustPut(t, d, "b", "ib", "B")
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "c", "ic", "C")
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if d.Stats().WALFirst > 1 {
		c.get("/v1/changes?from=0").want(t, "compacted", http.StatusGone, "resync")
	} else {
		t.Logf("the WAL still holds version 1 (first %d): no compacted case", d.Stats().WALFirst)
	}
}

// A follower gets each new commit as it comes, and its request ends when
// the client leaves.
func TestHandler_ChangesFollow(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	mustPut(t, d, "a", "ia", "A")
	c := mountedClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/changes?from=0&follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("follow: status %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("follow: stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if got, want := next(), string(bytes.TrimSuffix(feedLines(t, d, 0, 1), []byte("\n"))); got != want {
		t.Errorf("follow: first line %q, want %q", got, want)
	}
	for i := range 3 {
		mustPut(t, d, fmt.Sprintf("k%d", i), fmt.Sprintf("i%d", i), "v")
		v := d.Version()
		want := bytes.TrimSuffix(feedLines(t, d, v-1, v), []byte("\n"))
		if got := next(); got != string(want) {
			t.Errorf("follow: line for version %d = %q, want %q", v, got, want)
		}
	}
	cancel() // the client leaves; the handler must end (Close below waits for it)
}
