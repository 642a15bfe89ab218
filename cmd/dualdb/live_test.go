package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// liveHolderEnv makes the test binary a child that holds a store and
// writes to it (see liveHold).
const liveHolderEnv = "DUALDB_TEST_LIVE_HOLDER"

func init() {
	if dir := os.Getenv(liveHolderEnv); dir != "" {
		os.Exit(liveHold(dir))
	}
}

// liveHeld is the n-th record the holder writes, at version
// liveBase+n: a new key each time, every fifth one with a value that is
// not UTF-8 text.
func liveHeld(n int) db.Record {
	k := fmt.Appendf(nil, "held:%06d", n)
	v := fmt.Appendf(nil, "value %d", n)
	if n%5 == 0 {
		v = []byte{0xff, 0xfe, byte(n), '\n'}
	}
	return db.Record{Key: k, Index: append([]byte("index-"), k...), Value: v}
}

// liveBase is the version of the users fixture the holder starts from.
const liveBase = 6

// liveHold opens the store in dir for writing (serving its operator
// socket) and puts liveHeld(1), liveHeld(2), ..., one commit each,
// printing "ack N" after each Put that returned nil, and taking a
// checkpoint itself every 40 commits. Its standard input steers it: a
// line "pause" makes it stop writing and print "paused V" (V the store's
// version, nothing being written until "resume"); EOF makes it close the
// store and exit, 0 if every Put and the Close succeeded.
func liveHold(dir string) int {
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		fmt.Println("ERR", err)
		return 3
	}
	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	out := bufio.NewWriter(os.Stdout)
	code := 0
	paused := false
loop:
	for n := 1; n <= 1_000_000; {
		var cmd string
		var ok bool
		if paused {
			cmd, ok = <-cmds
		} else {
			select {
			case cmd, ok = <-cmds:
			default:
				cmd, ok = "", true
			}
		}
		switch {
		case !ok:
			break loop
		case cmd == "pause":
			paused = true
			fmt.Fprintf(out, "paused %d\n", d.Version())
			out.Flush()
			continue
		case cmd == "resume":
			paused = false
			continue
		}
		r := liveHeld(n)
		if err := d.Put(r.Key, r.Index, r.Value); err != nil {
			fmt.Fprintln(out, "ERR", err)
			code = 3
			break
		}
		fmt.Fprintf(out, "ack %d\n", n)
		out.Flush()
		// Continuous but bounded: the store stays small enough for the
		// test's model, however slow the machine or the race detector.
		time.Sleep(time.Millisecond)
		if n%40 == 0 {
			if _, err := d.Checkpoint(); err != nil {
				fmt.Fprintln(out, "ERR", err)
				code = 3
				break
			}
		}
		n++
	}
	if err := d.Close(); err != nil {
		fmt.Fprintln(out, "ERR", err)
		code = 3
	}
	out.Flush()
	return code
}

// holder is a running liveHold child.
type holder struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	acked  int
	msgs   chan string // "paused V" and "ERR ..." lines
	more   chan struct{}
	done   chan struct{} // its stdout ended
	stderr bytes.Buffer
}

func startHolder(t *testing.T, dir string) *holder {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{t: t, msgs: make(chan string, 16), more: make(chan struct{}, 1), done: make(chan struct{})}
	h.cmd = exec.Command(exe, "-test.run=^$")
	// The child names the store by a relative path, so that the paths in
	// its answers differ from the ones the commands are given.
	h.cmd.Dir = filepath.Dir(dir)
	h.cmd.Env = append(os.Environ(), liveHolderEnv+"="+filepath.Base(dir))
	h.cmd.Stderr = &h.stderr
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.stdin.Close()
		_ = h.cmd.Wait() // a no-op error if the test waited already
	})
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			var n int
			if _, err := fmt.Sscanf(line, "ack %d", &n); err == nil {
				h.mu.Lock()
				h.acked = n
				h.mu.Unlock()
				select {
				case h.more <- struct{}{}:
				default:
				}
				continue
			}
			h.msgs <- line
		}
	}()
	return h
}

// waitAcked waits until at least n writes are acknowledged and returns
// how many are.
func (h *holder) waitAcked(n int) int {
	h.t.Helper()
	for {
		h.mu.Lock()
		a := h.acked
		h.mu.Unlock()
		if a >= n {
			return a
		}
		select {
		case <-h.more:
		case m := <-h.msgs:
			h.t.Fatalf("holder: %s\n%s", m, h.stderr.String())
		case <-h.done:
			h.t.Fatalf("the holder stopped after %d acknowledged writes:\n%s", a, h.stderr.String())
		}
	}
}

// pause stops the holder's writes and returns the store's version.
func (h *holder) pause() uint64 {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, "pause\n"); err != nil {
		h.t.Fatal(err)
	}
	select {
	case m := <-h.msgs:
		v, err := strconv.ParseUint(strings.TrimPrefix(m, "paused "), 10, 64)
		if err != nil {
			h.t.Fatalf("holder said %q, want paused V\n%s", m, h.stderr.String())
		}
		return v
	case <-h.done:
		h.t.Fatalf("the holder stopped:\n%s", h.stderr.String())
	}
	return 0
}

func (h *holder) ackedNow() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acked
}

func (h *holder) resume() {
	if _, err := io.WriteString(h.stdin, "resume\n"); err != nil {
		h.t.Fatal(err)
	}
}

// stop makes the holder close the store and exit, and returns the number
// of acknowledged writes.
func (h *holder) stop() int {
	h.t.Helper()
	if err := h.stdin.Close(); err != nil {
		h.t.Fatal(err)
	}
	<-h.done
	if err := h.cmd.Wait(); err != nil {
		h.t.Fatalf("holder: %v\n%s", err, h.stderr.String())
	}
	select {
	case m := <-h.msgs:
		h.t.Fatalf("holder: %s", m)
	default:
	}
	return h.ackedNow()
}

// liveLine matches the line live commands print on stderr.
var liveLine = regexp.MustCompile(`(?m)^dualdb: live: process ([0-9]+) holds store (.*); answered through (.*) at version ([0-9]+)$`)

// liveVersion checks that r is a live answer of process pid and returns
// the version it names.
func liveVersion(t *testing.T, r result, pid int, args []string) uint64 {
	t.Helper()
	m := liveLine.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("%v: no live line on stderr (exit %d):\n%s", args, r.code, r.stderr)
	}
	if m[1] != strconv.Itoa(pid) {
		t.Fatalf("%v: live line names process %s, the holder is %d", args, m[1], pid)
	}
	v, _ := strconv.ParseUint(m[4], 10, 64)
	return v
}

// copyStore copies the files of the store in src to dst, leaving out its
// socket, as a backup tool would while the writer is idle.
func copyStore(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case e.IsDir():
			return os.MkdirAll(target, 0o700)
		case !e.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// modelRecords returns the records of the store at version v in key
// order: those of the users fixture, whose export is fixture, and the
// holder's first v-liveBase records.
func modelRecords(t *testing.T, fixture string, v uint64) []db.Record {
	t.Helper()
	var recs []db.Record
	for _, line := range strings.SplitAfter(fixture, "\n") {
		if line == "" {
			continue
		}
		r, err := parseLine([]byte(strings.TrimSuffix(line, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	for n := 1; n <= int(v)-liveBase; n++ {
		recs = append(recs, liveHeld(n))
	}
	slices.SortFunc(recs, func(a, b db.Record) int { return bytes.Compare(a.Key, b.Key) })
	return recs
}

// exportOf returns the export of recs.
func exportOf(recs []db.Record) string {
	var b []byte
	for _, r := range recs {
		b = append(appendJSONRecord(b, r), '\n')
	}
	return string(b)
}

// jsonCounts finds the version and record count in the output of
// inspect --json and verify --json.
var jsonCounts = regexp.MustCompile(`("ok": (true|false),\s*"loaded": (true|false),\s*)?"version": [0-9]+,\s*"records": [0-9]+`)

// liveModelOutput returns what the command args prints at version v of
// the holder's store, from the model: the fixture's export (fixture) plus
// the holder's records.
func liveModelOutput(t *testing.T, fixture string, v uint64, args []string) string {
	t.Helper()
	recs := modelRecords(t, fixture, v)
	var b bytes.Buffer
	switch strings.Join(append([]string{args[0]}, args[2:]...), " ") {
	case "inspect --json":
		// The version and count; every other field is compared with the
		// offline output while the child is paused.
		return fmt.Sprintf(`"version": %d, "records": %d`, v, len(recs))
	case "verify --json":
		return fmt.Sprintf(`"ok": true, "loaded": true, "version": %d, "records": %d`, v, len(recs))
	case "get held:000010":
		_ = printRecord(&b, liveHeld(10))
	case "get --index index-held:000005 --json":
		b.Write(append(appendJSONRecord(nil, liveHeld(5)), '\n'))
	case "scan --json", "export":
		return exportOf(recs)
	case "scan --by index --reverse --json":
		slices.SortFunc(recs, func(a, b db.Record) int { return bytes.Compare(b.Index, a.Index) })
		for _, r := range recs {
			b.Write(append(appendJSONRecord(nil, r), '\n'))
		}
	default:
		t.Fatalf("no model output for %v", args)
	}
	return b.String()
}

// A child process holds a store and writes continuously. Every command
// that reads (and checkpoint and backup) answers through the child's
// socket, says so on stderr only, and prints what the offline command
// prints on the store at the version it names: while the child writes,
// exports and backups are checked against the model of that version; with
// the child paused, every command's output is compared byte for byte with
// the offline command's on a copy of the store. Afterwards every write the
// child acknowledged is in the store.
func TestLive_ChildWrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	copyStore(t, usersStore(t), dir)
	fixture := runCLI(t, "", "export", dir)
	if fixture.code != exitOK {
		t.Fatalf("export of the fixture: %s", fixture.stderr)
	}
	h := startHolder(t, dir)
	h.waitAcked(20)
	pid := h.cmd.Process.Pid

	// While the child writes.
	var last uint64
	for round := range 3 {
		for _, args := range [][]string{
			{"inspect", dir, "--json"}, {"verify", dir, "--json"},
			{"get", dir, "held:000010"}, {"get", dir, "--index", "index-held:000005", "--json"},
			{"scan", dir, "--json"}, {"scan", dir, "--by", "index", "--reverse", "--json"},
			{"export", dir},
		} {
			r := runCLI(t, "", args...)
			if r.code != exitOK {
				t.Fatalf("%v while the child writes: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
			}
			v := liveVersion(t, r, pid, args)
			if v < last {
				t.Fatalf("%v answered at version %d, after an answer at %d", args, v, last)
			}
			last = v
			if strings.Contains(r.stdout, "live") {
				t.Errorf("%v: stdout mentions live:\n%s", args, r.stdout)
			}
			got, want := r.stdout, liveModelOutput(t, fixture.stdout, v, args)
			if strings.HasSuffix(args[len(args)-1], "--json") && (args[0] == "inspect" || args[0] == "verify") {
				got = strings.Join(strings.Fields(string(jsonCounts.Find([]byte(r.stdout)))), " ")
			}
			if got != want {
				t.Fatalf("%v at version %d differs from the model of that version:\n%s\nwant\n%s", args, v, got, want)
			}
		}
		// A checkpoint taken while the child writes names a snapshot that
		// holds the state of its version.
		r := runCLI(t, "", "checkpoint", dir)
		if r.code != exitOK {
			t.Fatalf("checkpoint while the child writes: exit %d\n%s", r.code, r.stderr)
		}
		v := liveVersion(t, r, pid, []string{"checkpoint"})
		recs := len(modelRecords(t, fixture.stdout, v))
		if want := fmt.Sprintf("snapshot file snap/%020d.dsnap: version %d, %s records,", v, v, count(recs)); !strings.Contains(r.stdout, want) {
			t.Fatalf("checkpoint says\n%s\nwant %q", r.stdout, want)
		}
		// A backup taken while the child writes restores to the state of
		// the version it names.
		file := filepath.Join(t.TempDir(), "b.dsnap")
		r = runCLI(t, "", "backup", dir, "-o", file)
		if r.code != exitOK {
			t.Fatalf("backup while the child writes: exit %d\n%s", r.code, r.stderr)
		}
		v = liveVersion(t, r, pid, []string{"backup"})
		if !strings.Contains(r.stdout, fmt.Sprintf("version %d,", v)) {
			t.Fatalf("backup output does not name version %d:\n%s", v, r.stdout)
		}
		if r := runCLI(t, "", "verify", "--snapshot", file); r.code != exitOK {
			t.Fatalf("verify --snapshot of a live backup: exit %d\n%s", r.code, r.stdout)
		}
		restored := filepath.Join(t.TempDir(), "restored")
		if r := runCLI(t, "", "restore", file, restored); r.code != exitOK {
			t.Fatalf("restore of a live backup: exit %d\n%s", r.code, r.stderr)
		}
		if got, want := runCLI(t, "", "export", restored).stdout, exportOf(modelRecords(t, fixture.stdout, v)); got != want {
			t.Fatalf("round %d: backup of version %d restores to another state", round, v)
		}
		h.waitAcked(h.ackedNow() + 10)
	}

	// With the child paused: live output equals offline output on a copy.
	v := h.pause()
	other := filepath.Join(t.TempDir(), "store") // same length as dir
	copyStore(t, dir, other)
	same := func(args ...string) {
		t.Helper()
		live := runCLI(t, "", expand(args, dir)...)
		if got := liveVersion(t, live, pid, args); got != v {
			t.Fatalf("%v answered at version %d, the paused store is at %d", args, got, v)
		}
		off := runCLI(t, "", expand(args, other)...)
		if off.code != live.code || strings.ReplaceAll(off.stdout, other, dir) != live.stdout {
			t.Fatalf("%v: live (exit %d) and offline (exit %d) differ:\n--- live\n%s--- offline\n%s%s",
				args, live.code, off.code, live.stdout, off.stdout, off.stderr)
		}
		if strings.Contains(off.stderr, "live") {
			t.Fatalf("%v offline says live: %s", args, off.stderr)
		}
	}
	for _, args := range [][]string{
		{"inspect", "$DIR"}, {"inspect", "$DIR", "--json"},
		{"verify", "$DIR"}, {"verify", "$DIR", "--json"},
		{"get", "$DIR", "held:000007"}, {"get", "$DIR", "held:000010", "--json"}, {"get", "$DIR", "--index", "index-held:000015"},
		{"get", "$DIR", "user:0000000001"}, {"get", "$DIR", "no-such-key"},
		{"get", "$DIR", "--base64", "YmluOgD/"}, // the binary record
		{"scan", "$DIR"}, {"scan", "$DIR", "--json"}, {"scan", "$DIR", "--by", "index", "--reverse", "--limit", "7"},
		{"scan", "$DIR", "--from", "held:000003", "--to", "held:000009", "--json"},
		{"scan", "$DIR", "--by", "index", "--from", "index-held:000009", "--to", "index-held:000003", "--reverse"},
		{"export", "$DIR"},
		{"backup", "$DIR", "-o", "-"},
		{"checkpoint", "$DIR"}, {"checkpoint", "$DIR"}, {"inspect", "$DIR"},
	} {
		same(args...)
	}
	h.resume()
	h.waitAcked(h.ackedNow() + 20)

	acked := h.stop()
	d, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for n := 1; n <= acked; n++ {
		r := liveHeld(n)
		got, err := d.Get(r.Key)
		if err != nil || !bytes.Equal(got.Value, r.Value) {
			t.Fatalf("acknowledged write %s: %v (of %d acknowledged)", r.Key, err, acked)
		}
	}
	t.Logf("%d writes acknowledged, all in the store; paused at version %d", acked, v)
}
