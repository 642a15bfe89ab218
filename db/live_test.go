package db_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
)

// The writer process of TestLive_ChildProcess makes commit i (version i)
// a Put of key liveKey(i % liveKeys), so the state at any version is
// known: liveModel(v).
const (
	writerEnv = "DUALDB_TEST_WRITER_DIR"
	liveKeys  = 1000
)

func liveRecord(i uint64) db.Record {
	j := i % liveKeys
	return db.Record{
		Key: fmt.Appendf(nil, "k%04d", j),
		// Index order is the reverse of key order, and a key's index
		// changes every round.
		Index: fmt.Appendf(nil, "x%04d-%08d", liveKeys-1-j, i/liveKeys),
		Value: fmt.Appendf(nil, "v%d", i),
	}
}

// liveModel returns the records at version v in key order.
func liveModel(v uint64) []db.Record {
	var out []db.Record
	for j := range uint64(liveKeys) {
		if j == 0 && v < liveKeys || j > v {
			continue // never written yet (k0000 is first written at version liveKeys)
		}
		last := v - (v%liveKeys+liveKeys-j)%liveKeys // largest i <= v with i%liveKeys == j
		out = append(out, liveRecord(last))
	}
	return out
}

func modelLines(recs []db.Record) []byte {
	var b []byte
	for _, r := range recs {
		b = append(jsonl.AppendRecord(b, r.Key, r.Index, r.Value), '\n')
	}
	return b
}

// TestHelperProcess_Writer is not a test: TestLive_ChildProcess runs the
// test binary with it to hold a store and write to it until killed,
// printing "ACK <version>" after every acknowledged commit.
func TestHelperProcess_Writer(t *testing.T) {
	dir := os.Getenv(writerEnv)
	if dir == "" {
		t.Skip("helper process of TestLive_ChildProcess")
	}
	d, err := db.Open(dir, &db.Options{CheckpointEvery: 700})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "READY")
	out.Flush()
	deadline := time.Now().Add(5 * time.Minute) // an orphan stops by itself
	for i := uint64(1); time.Now().Before(deadline); i++ {
		r := liveRecord(i)
		if err := d.Put(r.Key, r.Index, r.Value); err != nil {
			fmt.Printf("ERR put %d: %v\n", i, err)
			os.Exit(3)
		}
		if v := d.Version(); v != i {
			fmt.Printf("ERR version %d after commit %d\n", v, i)
			os.Exit(3)
		}
		fmt.Fprintf(out, "ACK %d\n", i)
		out.Flush()
	}
	os.Exit(0)
}

// A child process holds a store and writes continuously while operator
// requests run against it over its socket. Every answer must be exactly
// the state of the version it says it was read at; backups taken under
// load must restore into stores that verify and hold every commit
// acknowledged before the backup began; after the child is killed (-9),
// every acknowledged commit is in the store.
func TestLive_ChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a writer process")
	}
	dir := filepath.Join(t.TempDir(), "store")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperProcess_Writer$")
	cmd.Env = append(os.Environ(), writerEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	var acked atomic.Uint64
	ready := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "READY":
				close(ready)
			case strings.HasPrefix(line, "ACK "):
				v, err := strconv.ParseUint(line[4:], 10, 64)
				if err != nil {
					readerDone <- fmt.Errorf("child said %q", line)
					return
				}
				acked.Store(v)
			case strings.HasPrefix(line, "ERR "):
				readerDone <- fmt.Errorf("child: %s", line)
				return
			}
		}
		readerDone <- sc.Err()
	}()
	select {
	case <-ready:
	case err := <-readerDone:
		t.Fatalf("child ended before it was ready: %v", err)
	}
	// Let it write a few rounds of keys first.
	for acked.Load() < 2*liveKeys {
		select {
		case err := <-readerDone:
			t.Fatalf("child stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}

	c := socketClient(db.SocketPath(dir))
	var st db.Status
	if err := json.Unmarshal(c.get("/v1/status").body, &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != cmd.Process.Pid {
		t.Fatalf("status says pid %d, the child is %d", st.PID, cmd.Process.Pid)
	}

	var wg sync.WaitGroup
	var checked atomic.Int64
	for g := range 3 {
		wg.Go(func() {
			for round := range 8 {
				if t.Failed() {
					return
				}
				checkLiveAnswers(t, c, &acked, g, round)
				checked.Add(1)
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if t.Failed() {
				return
			}
			checkLiveBackup(t, c, &acked)
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}

	// kill -9 the writer, then every acknowledged commit must be there.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	<-readerDone
	last := acked.Load()
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true})
	if err != nil {
		t.Fatalf("Open after the writer was killed: %v", err)
	}
	defer d.Close()
	v := d.Version()
	if v < last {
		t.Fatalf("store at version %d after kill -9, but %d was acknowledged", v, last)
	}
	if got, want := exportLines(d.Snapshot()), modelLines(liveModel(v)); !bytes.Equal(got, want) {
		t.Fatalf("store after kill -9 differs from the state of version %d", v)
	}
	t.Logf("%d rounds of requests and 3 backups while the child wrote; %d commits acknowledged, store at %d after kill -9", checked.Load(), last, v)
}

// checkLiveAnswers runs one round of read requests and checks each answer
// against the model at the version it names.
func checkLiveAnswers(t *testing.T, c *adminClient, acked *atomic.Uint64, g, round int) {
	before := acked.Load()
	atLeast := func(what string, a answer) uint64 {
		v := a.version(t)
		if v < before {
			t.Errorf("%s at version %d, older than %d acknowledged before the request", what, v, before)
		}
		return v
	}

	a := c.get("/v1/export")
	a.want(t, "export", http.StatusOK, "")
	v := atLeast("export", a)
	if want := modelLines(liveModel(v)); !bytes.Equal(a.body, want) {
		t.Errorf("export at version %d differs from that version's state (%d bytes, want %d)", v, len(a.body), len(want))
	}

	j := (g*131 + round*17) % liveKeys
	a = c.get(fmt.Sprintf("/v1/get?key=k%04d", j))
	a.want(t, "get", http.StatusOK, "")
	v = atLeast("get", a)
	for _, r := range liveModel(v) {
		if string(r.Key) == fmt.Sprintf("k%04d", j) {
			if want := modelLines([]db.Record{r}); !bytes.Equal(a.body, want) {
				t.Errorf("get k%04d at version %d = %s, want %s", j, v, a.body, want)
			}
		}
	}

	a = c.get("/v1/scan?by=index&limit=100&reverse=true")
	a.want(t, "scan", http.StatusOK, "")
	v = atLeast("scan", a)
	model := liveModel(v) // key order = descending index order
	if want := modelLines(model[:100]); !bytes.Equal(a.body, want) {
		t.Errorf("scan by index, reversed, at version %d differs from that version's state", v)
	}

	a = c.get("/v1/inspect")
	a.want(t, "inspect", http.StatusOK, "")
	v = atLeast("inspect", a)
	var info db.Info
	if err := json.Unmarshal(a.body, &info); err != nil || info.Version != v || info.Records != len(liveModel(v)) {
		t.Errorf("inspect at version %d: %d records (%v), want %d", v, info.Records, err, len(liveModel(v)))
	}
	for _, s := range info.Snapshots {
		if s.Err != "" {
			t.Errorf("inspect: snapshot %s: %s", s.File, s.Err)
		}
	}

	a = c.get("/v1/verify")
	a.want(t, "verify", http.StatusOK, "")
	v = atLeast("verify", a)
	var rep db.VerifyReport
	if err := json.Unmarshal(a.body, &rep); err != nil || !rep.OK() || rep.Version != v || rep.Records != len(liveModel(v)) {
		t.Errorf("verify at version %d: %+v (%v)", v, rep, err)
	}

	if round == 3 {
		a = c.do(http.MethodPost, "/v1/checkpoint")
		a.want(t, "checkpoint", http.StatusOK, "")
		atLeast("checkpoint", a)
	}
}

// checkLiveBackup takes a backup over the socket and checks it restores
// into a store that verifies and holds the state of its version, which is
// at least the last one acknowledged before it began.
func checkLiveBackup(t *testing.T, c *adminClient, acked *atomic.Uint64) {
	before := acked.Load()
	a := c.get("/v1/backup")
	if a.code == http.StatusConflict {
		return // another backup runs; not this test's point
	}
	a.want(t, "backup", http.StatusOK, "")
	v := a.version(t)
	if v < before {
		t.Errorf("backup at version %d, older than %d acknowledged before it began", v, before)
		return
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := db.Restore(dir, bytes.NewReader(a.body)); err != nil {
		t.Errorf("Restore of a backup taken under load: %v", err)
		return
	}
	rep, err := db.Verify(dir, nil)
	if err != nil || !rep.OK() || rep.Version != v {
		t.Errorf("Verify of the restored backup: %+v, %v", rep, err)
		return
	}
	r, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Error(err)
		return
	}
	defer r.Close()
	if got, want := exportLines(r.Snapshot()), modelLines(liveModel(v)); !bytes.Equal(got, want) {
		t.Errorf("restored backup of version %d differs from that version's state", v)
	}
}
