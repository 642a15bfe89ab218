package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/testtier"
)

// The demo's output, with timings masked, on a small store; a second run
// on the same directory starts afresh.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	for i, name := range []string{"small", "rerun"} {
		r := runCLI(t, "", "demo", "--dir", dir, "--records", "300", "--batch", "100")
		if r.code != exitOK {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		golden(t, "demo/"+name, r, map[string]string{dir: "$DIR"})
	}
	if r := runCLI(t, "", "verify", dir); r.code != exitOK {
		t.Fatalf("verify after the demo: exit %d\n%s", r.code, r.stdout)
	}
}

// demo replaces only a store it made and marked, and refuses anything
// else (exit 2) without changing a file.
func TestDemo_RefusesOtherDirs(t *testing.T) {
	demoStore := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "demo")
		if r := runCLI(t, "", "demo", "--dir", dir, "--records", "10"); r.code != exitOK {
			t.Fatalf("making a demo store: exit %d\n%s", r.code, r.stderr)
		}
		return dir
	}
	files := func(names ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			for _, f := range names {
				path := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}
	}
	writeMarker := func(dir, content string) {
		if err := os.WriteFile(filepath.Join(dir, demoMarker), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T) string
		why   string
	}{
		{"other-file", files("notes.txt"), "it holds notes.txt, which is not a file of a dualdb store"},
		{"other-file-in-snap", files("wal.db", "snap/notes.txt"), "it holds snap/notes.txt, which is not a snapshot file"},
		{"store-without-marker", func(t *testing.T) string { return usersStore(t) },
			"it holds a dualdb store that demo did not make (it has no .dualdb-demo file)"},
		{"marker-of-another-store", func(t *testing.T) string {
			dir := usersStore(t)
			writeMarker(dir, "00112233445566778899aabbccddeeff\n")
			return dir
		}, `its .dualdb-demo file names store "00112233445566778899aabbccddeeff", but the store there is d0a1db00112233445566778899aabbcc`},
		{"demo-store-and-other-file", func(t *testing.T) string {
			dir := demoStore(t)
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "it holds notes.txt, which is not a file of a dualdb store"},
		{"marker-without-store", files(demoMarker, "snap/00000000000000000004.dsnap"), "it holds a .dualdb-demo file but no wal.db, so no store that the file could name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.setup(t)
			before := fingerprint(t, dir)
			r := runCLI(t, "", "demo", "--dir", dir, "--records", "10")
			want := "dualdb: demo: refusing to replace " + dir + ": " + c.why
			if r.code != exitError || !strings.HasPrefix(r.stderr, want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
			}
			if after := fingerprint(t, dir); fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("demo changed %s:\nbefore %v\nafter  %v", dir, before, after)
			}
		})
	}
}

// holderEnv makes the test binary a child that holds a store open and
// keeps writing to it (see holdAndWrite).
const holderEnv = "DUALDB_TEST_DEMO_HOLDER"

func init() {
	if dir := os.Getenv(holderEnv); dir != "" {
		os.Exit(holdAndWrite(dir))
	}
}

// holdAndWrite opens the store in dir for writing and puts the records
// held:000001, held:000002, … one commit each, printing "ack N" after each
// Put that returned nil, until its standard input is closed. Exit code 0
// if every Put and the Close succeeded.
func holdAndWrite(dir string) int {
	d, err := db.Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		return 3
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	code := 0
loop:
	for n := 1; n <= 1_000_000; n++ {
		select {
		case <-stop:
			break loop
		default:
		}
		k := []byte(fmt.Sprintf("held:%06d", n))
		if err := d.Put(k, append([]byte("index-"), k...), []byte("acknowledged")); err != nil {
			fmt.Fprintln(os.Stderr, "holder:", err)
			code = 3
			break
		}
		fmt.Printf("ack %d\n", n)
	}
	if err := d.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		code = 3
	}
	return code
}

// demo refuses a demo store that another process holds and writes to, and
// every write that process saw acknowledged, before, during and after the
// refused demo, is in the store afterwards.
func TestDemo_RefusesStoreHeldByAnotherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if r := runCLI(t, "", "demo", "--dir", dir, "--records", "10"); r.code != exitOK {
		t.Fatalf("making a demo store: exit %d\n%s", r.code, r.stderr)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), holderEnv+"="+dir)
	var childErr bytes.Buffer
	child.Stderr = &childErr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = child.Wait() // a no-op error if the test waited already
	}()

	// acked is the highest acknowledged write; more signals each new one.
	var (
		mu    sync.Mutex
		acked int
		more  = make(chan struct{}, 1)
		read  = make(chan struct{})
	)
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d", &n); err != nil {
				continue
			}
			mu.Lock()
			acked = n
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}()
	waitAcked := func(n int) int {
		t.Helper()
		for {
			mu.Lock()
			a := acked
			mu.Unlock()
			if a >= n {
				return a
			}
			select {
			case <-more:
			case <-read:
				t.Fatalf("the holder stopped after %d acknowledged writes:\n%s", a, childErr.String())
			}
		}
	}

	before := waitAcked(5)
	r := runCLI(t, "", "demo", "--dir", dir, "--records", "10")
	want := "dualdb: demo: refusing to replace " + dir + ": a process holds the store open"
	if r.code != exitError || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("demo beside a writer: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
	if strings.Contains(r.stdout, "Replacing") {
		t.Errorf("demo beside a writer says it replaces the store:\n%s", r.stdout)
	}
	// The holder keeps writing after the refusal.
	waitAcked(before + 5)
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	<-read
	if err := child.Wait(); err != nil {
		t.Fatalf("holder: %v\n%s", err, childErr.String())
	}

	d, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for n := 1; n <= acked; n++ {
		k := fmt.Sprintf("held:%06d", n)
		if _, err := d.Get([]byte(k)); err != nil {
			t.Fatalf("acknowledged write %s of the holder: %v (of %d acknowledged)", k, err, acked)
		}
	}
	if _, err := d.Get([]byte("user:0000000001")); err != nil {
		t.Errorf("the demo's own records: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
		t.Errorf("marker: %v", err)
	}
	t.Logf("the holder's %d acknowledged writes are all in the store", acked)
}

func TestDemo_BadFlags(t *testing.T) {
	runCases(t, "demo", []cliCase{
		{name: "one-record", args: []string{"demo", "--dir", "$DIR", "--records", "1"}, code: exitError},
		{name: "args", args: []string{"demo", "$DIR"}, code: exitError},
	})
}

// The default demo, 100,000 users, as the README runs it (long tier: the
// fast tier runs the same steps on 300 users in TestDemo).
func TestDemo_Default(t *testing.T) {
	testtier.SkipUnlessLong(t, "loads 100,000 users")
	dir := filepath.Join(t.TempDir(), "demo")
	r := runCLI(t, "", "demo", "--dir", dir)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Loaded 100,000 users", "100,000 records at version 101", "ok, no findings"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}
