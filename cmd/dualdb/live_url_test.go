package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
	bolt "go.etcd.io/bbolt"
)

// bigStore returns the directory of a closed store of n users, more than
// one /v1/scan answer holds when n > db.ScanMaxLimit.
func bigStore(t *testing.T, n int) string {
	t.Helper()
	dir, d := newStore(t)
	for from := 1; from <= n; from += 1000 {
		err := d.Update(func(tx *db.Tx) error {
			for id := from; id < from+1000 && id <= n; id++ {
				u := gen.NewUser(fixtureSeed, uint64(id))
				if err := tx.Put(u.Key, u.Email, u.Value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountHandler serves d's operator API under /debug/dualdb on a test
// HTTP server, as an application would, and returns its URL.
func mountHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/dualdb/", http.StripPrefix("/debug/dualdb", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/debug/dualdb"
}

// Given the URL of a handler mounted by an application, every command
// prints what it prints offline on a copy of the store; scans longer than
// one answer of /v1/scan come out of one version too.
func TestLive_URL(t *testing.T) {
	src := bigStore(t, db.ScanMaxLimit+50)
	dir := filepath.Join(t.TempDir(), "store")
	other := filepath.Join(t.TempDir(), "store") // same length
	// A file dualdb did not write: inspect names it, live or not.
	if err := os.WriteFile(filepath.Join(src, "notes.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyStore(t, src, dir)
	copyStore(t, src, other)
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true, CheckpointEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := mountHandler(t, d.Handler())
	for _, args := range [][]string{
		{"inspect", "$DIR"}, {"inspect", "$DIR", "--json"}, {"verify", "$DIR", "--json"},
		{"get", "$DIR", "user:0000000042"}, {"get", "$DIR", "--index", "nobody@example.com"},
		{"scan", "$DIR", "--limit", "3"},
		{"scan", "$DIR", "--by", "index", "--reverse"}, // more than one answer: read from /v1/export
		{"scan", "$DIR", "--json", "--from", "user:0000000100", "--limit", "10001"},
		{"scan", "$DIR", "--by", "index", "--from", "m", "--to", "c", "--reverse", "--json"},
		// Ranges of more than one answer whose bounds are keys of the store.
		{"scan", "$DIR", "--reverse", "--from", "user:0000010040", "--to", "user:0000000005", "--json"},
		{"scan", "$DIR", "--from", "user:0000000005", "--to", "user:0000010040"},
		{"export", "$DIR"},
		{"backup", "$DIR", "-o", "-"},
	} {
		live := runCLI(t, "", expand(args, u)...)
		if !strings.Contains(live.stderr, "dualdb: live: process "+fmt.Sprint(os.Getpid())+" holds store "+dir+"; answered through "+u+" at version "+fmt.Sprint(d.Version())+"\n") {
			t.Fatalf("%v: no live line naming this process and %s:\n%s", args, u, live.stderr)
		}
		off := runCLI(t, "", expand(args, other)...)
		if off.code != live.code || strings.ReplaceAll(off.stdout, other, dir) != live.stdout {
			t.Fatalf("%v: live (exit %d) and offline (exit %d) differ:\n--- live\n%.3000s--- offline\n%.3000s%s",
				args, live.code, off.code, live.stdout, off.stdout, off.stderr)
		}
	}
}

// A URL that does not answer, answers something else than the operator
// API, or answers with errors, gives exit 2 and a message that says so;
// so does an answer cut short.
func TestLive_BadURLs(t *testing.T) {
	dir := usersStore(t)
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	real := d.Handler()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/debug/dualdb"
	_ = ln.Close() // nothing listens there now

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html><body>Welcome</body></html>")
	}))
	defer html.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<h1>502 Bad Gateway</h1>", http.StatusBadGateway)
	}))
	defer broken.Close()
	// The real API, except that some routes fail as a damaged or
	// misbehaving process might.
	failing := mountHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/inspect":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error": "inspect: disk on fire"}`)
		case "/v1/export":
			// Lines, but no trailer: the stream ended early.
			w.Header().Set(db.HeaderVersion, "6")
			fmt.Fprint(w, `{"key":"a","index":"b","value":"c"}`+"\n")
		case "/v1/get":
			w.Header().Set(db.HeaderVersion, "6")
			fmt.Fprint(w, `{"key":"a","index":"b","value":"c","extra":1}`+"\n")
		default:
			real.ServeHTTP(w, r)
		}
	}))
	// Mounted without StripPrefix: the handler's 404 says so.
	mux := http.NewServeMux()
	mux.Handle("/debug/dualdb/", real)
	unstripped := httptest.NewServer(mux)
	defer unstripped.Close()

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", closed}, closed + " does not answer: dial tcp " + strings.TrimPrefix(strings.TrimSuffix(closed, "/debug/dualdb"), "http://") + ": connect: connection refused"},
		{[]string{"export", "http://"}, `bad URL "http:": no host`},
		{[]string{"export", "http://ops:s3cret@host:8080/x?a=b"}, `bad URL "http://ops:xxxxx@host:8080/x?a=b": give the prefix the handler is mounted under, without a query or fragment`},
		{[]string{"export", "http://ops:s3cret@host:bad/x"}, `bad URL: invalid port ":bad" after host`},
		{[]string{"get", html.URL, "k"}, html.URL + " is not a dualdb operator API: /v1/status answered \"<html><body>Welcome</body></html>\""},
		{[]string{"scan", broken.URL}, broken.URL + "/v1/status answered 502 Bad Gateway (not a dualdb operator API answer): \"<h1>502 Bad Gateway</h1>\""},
		{[]string{"verify", unstripped.URL + "/debug/dualdb"}, `(is the handler mounted without http.StripPrefix("/debug/dualdb", ...)?)`},
		{[]string{"inspect", failing}, failing + "/v1/inspect answered 500 Internal Server Error: inspect: disk on fire"},
		{[]string{"export", failing}, "/v1/export: the answer ended without its X-Dualdb-Records trailer: it is incomplete"},
		{[]string{"export", failing, "-o", filepath.Join(t.TempDir(), "x.jsonl")}, "it is incomplete"},
		{[]string{"get", failing, "a"}, `/v1/get: bad answer: unknown field "extra"`},
	} {
		r := runCLI(t, "", c.args...)
		if r.code != exitError || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
		if strings.Contains(r.stderr, "s3cret") {
			t.Errorf("%v: the message shows the password: %s", c.args, r.stderr)
		}
	}
}

// A socket file nobody listens on (left by a process that died) is stale:
// the commands say so and read the store from disk.
func TestLive_StaleSocket(t *testing.T) {
	dir := usersStore(t)
	want := runCLI(t, "", "scan", dir)
	ln, err := net.Listen("unix", db.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "scan", dir)
	if r.code != exitOK || r.stdout != want.stdout {
		t.Fatalf("scan beside a stale socket: exit %d\n%s\nwant\n%s", r.code, r.stdout, want.stdout)
	}
	if note := "dualdb: note: " + db.SocketPath(dir) + " is stale (no process listens on it): reading the store from disk\n"; r.stderr != note {
		t.Fatalf("stderr %q, want %q", r.stderr, note)
	}
}

// A writer's command (checkpoint) kept out by read-only opens says so, not
// that a writer holds the store.
func TestLocked_ByReaders(t *testing.T) {
	t.Parallel()
	dir := usersStore(t)
	// A read-only bbolt open holds the shared lock, as a read-only Open
	// does while it loads the store.
	b, err := bolt.Open(filepath.Join(dir, db.WALFile), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r := runCLI(t, "", "checkpoint", dir)
	want := "dualdb: store " + dir + " is locked: read-only opens held it for the "
	if r.code != exitError || !strings.HasPrefix(r.stderr, want) || strings.Contains(r.stderr, "writing") {
		t.Fatalf("checkpoint beside readers: exit %d, stderr %q; want 2 and %q...", r.code, r.stderr, want)
	}
}

// A URL's user and password are sent as HTTP basic authentication, for an
// application that guards its mount, and never printed.
func TestLive_URLBasicAuth(t *testing.T) {
	dir := usersStore(t)
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := mountHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "ops" || pass != "s3cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": "who are you?"}`)
			return
		}
		d.Handler().ServeHTTP(w, r)
	}))
	withAuth := strings.Replace(u, "http://", "http://ops:s3cret@", 1)
	r := runCLI(t, "", "get", withAuth, "user:0000000003")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "key    user:0000000003\n") {
		t.Fatalf("get with credentials: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "s3cret") || !strings.Contains(r.stderr, "answered through "+u+" at") {
		t.Fatalf("stderr shows the password or not the URL: %q", r.stderr)
	}
	r = runCLI(t, "", "get", u, "user:0000000003")
	if want := u + "/v1/status answered 401 Unauthorized: who are you?"; r.code != exitError || !strings.Contains(r.stderr, want) {
		t.Fatalf("get without credentials: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
}

// A socket whose process accepts connections but never answers (hung) is
// given up after a few seconds, with a note, and the store is read from
// disk.
func TestLive_HungSocket(t *testing.T) {
	t.Parallel()
	dir := usersStore(t)
	want := runCLI(t, "", "get", dir, "user:0000000003")
	ln, err := net.Listen("unix", db.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	r := runCLI(t, "", "get", dir, "user:0000000003")
	if r.code != exitOK || r.stdout != want.stdout {
		t.Fatalf("get beside a hung socket: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if note := "dualdb: note: reading the store from disk: " + db.SocketPath(dir) + " does not answer: no answer to /v1/status within "; !strings.HasPrefix(r.stderr, note) {
		t.Fatalf("stderr %q, want %q...", r.stderr, note)

	}
}

// An empty store held by a process (here this one, through its socket)
// gives the offline output too.
func TestLive_EmptyStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	other := filepath.Join(t.TempDir(), "store")
	copyStore(t, emptyStore(t), dir)
	copyStore(t, dir, other)
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, args := range [][]string{
		{"inspect", "$DIR"}, {"verify", "$DIR"}, {"get", "$DIR", "k"},
		{"scan", "$DIR"}, {"scan", "$DIR", "--json"}, {"export", "$DIR"},
		{"checkpoint", "$DIR"}, {"backup", "$DIR", "-o", "-"},
	} {
		live := runCLI(t, "", expand(args, dir)...)
		if !strings.Contains(live.stderr, fmt.Sprintf("dualdb: live: process %d holds store %s; answered through %s at version 0\n", os.Getpid(), dir, db.SocketPath(dir))) {
			t.Fatalf("%v: no live line:\n%s", args, live.stderr)
		}
		off := runCLI(t, "", expand(args, other)...)
		if off.code != live.code || strings.ReplaceAll(off.stdout, other, dir) != live.stdout {
			t.Fatalf("%v: live (exit %d) and offline (exit %d) differ:\n--- live\n%s%s--- offline\n%s%s",
				args, live.code, off.code, live.stdout, live.stderr, off.stdout, off.stderr)
		}
	}
}
