package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dualdb/dualdb/cluster"
)

// binDir holds the dualdbd binary built for the process tests.
var (
	binDir   string
	buildMu  sync.Mutex
	builtBin string
	buildErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dualdbdBinary builds cmd/dualdbd once per test run.
func dualdbdBinary(t testing.TB) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtBin == "" && buildErr == nil {
		binDir, buildErr = os.MkdirTemp("", "dualdbd-test-")
		if buildErr == nil {
			bin := filepath.Join(binDir, "dualdbd")
			out, err := exec.Command("go", "build", "-o", bin, "./cmd/dualdbd").CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build ./cmd/dualdbd: %v\n%s", err, out)
			} else {
				builtBin = bin
			}
		}
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// procFlags are extra serve flags of the next newProcCluster (the
// measurements change them); procRaftTimeout is its --raft-timeout.
var (
	procFlags       []string
	procRaftTimeout = "300ms"
)

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// procNode is one dualdbd process.
type procNode struct {
	id, dir, raftAddr, httpAddr string
	args                        []string // the serve flags, reused on restart
	cmd                         *exec.Cmd
	exited                      chan struct{}
}

type procCluster struct {
	t     testing.TB
	bin   string
	nodes []*procNode
	c     cluster.Client
}

// newProcCluster starts n dualdbd processes on 127.0.0.1: the first
// bootstraps, the others join it. It waits until all agree.
func newProcCluster(t testing.TB, n int) *procCluster {
	t.Helper()
	pc := &procCluster{t: t, bin: dualdbdBinary(t), c: cluster.Client{HTTP: &http.Client{Timeout: 20 * time.Second}}}
	base := t.TempDir()
	for i := range n {
		pn := &procNode{id: fmt.Sprintf("n%d", i+1), dir: filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			raftAddr: freeAddr(t), httpAddr: freeAddr(t)}
		pn.args = []string{"serve", "--id", pn.id, "--data-dir", pn.dir, "--raft-addr", pn.raftAddr,
			"--http-addr", pn.httpAddr, "--raft-timeout", procRaftTimeout}
		pn.args = append(pn.args, procFlags...)
		if i == 0 {
			pn.args = append(pn.args, "--bootstrap")
		} else {
			pn.args = append(pn.args, "--join", pc.nodes[0].httpAddr)
		}
		pc.nodes = append(pc.nodes, pn)
	}
	t.Cleanup(pc.stopAll)
	pc.start(pc.nodes[0])
	pc.waitLeader(pc.nodes[:1])
	for _, pn := range pc.nodes[1:] {
		pc.start(pn)
	}
	pc.waitConverged(90 * time.Second)
	return pc
}

func (pc *procCluster) start(pn *procNode) {
	pc.t.Helper()
	logf, err := os.OpenFile(pn.dir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		pc.t.Fatal(err)
	}
	cmd := exec.Command(pc.bin, pn.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		pc.t.Fatalf("starting %s: %v", pn.id, err)
	}
	pn.cmd = cmd
	pn.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(pn.exited)
	}()
}

// kill9 kills pn with SIGKILL and waits for it to exit.
func (pc *procCluster) kill9(pn *procNode) {
	if pn.cmd == nil {
		return
	}
	_ = pn.cmd.Process.Signal(syscall.SIGKILL)
	<-pn.exited
	pn.cmd = nil
}

func (pc *procCluster) stopAll() {
	for _, pn := range pc.nodes {
		if pn.cmd == nil {
			continue
		}
		_ = pn.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pn.exited:
		case <-time.After(10 * time.Second):
			pc.kill9(pn)
		}
		pn.cmd = nil
	}
	if pc.t.Failed() {
		for _, pn := range pc.nodes {
			if b, err := os.ReadFile(pn.dir + ".log"); err == nil {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				pc.t.Logf("last lines of %s's log:\n%s", pn.id, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
	}
}

func (pc *procCluster) running() []*procNode {
	var out []*procNode
	for _, pn := range pc.nodes {
		if pn.cmd != nil {
			out = append(out, pn)
		}
	}
	return out
}

// waitLeader waits until one of nodes says it is the leader and the
// others name it; it returns it.
func (pc *procCluster) waitLeader(nodes []*procNode) *procNode {
	pc.t.Helper()
	var l *procNode
	waitFor(pc.t, 60*time.Second, "a leader", func() error {
		l = nil
		for _, pn := range nodes {
			st, err := pc.c.Status(bg, pn.httpAddr)
			if err != nil {
				return err
			}
			if st.State == "leader" {
				l = pn
			}
		}
		if l == nil {
			return errors.New("no leader")
		}
		for _, pn := range nodes {
			if st, err := pc.c.Status(bg, pn.httpAddr); err != nil || st.Leader.ID != l.id {
				return fmt.Errorf("%s does not follow %s yet (%+v, %v)", pn.id, l.id, st.Leader, err)
			}
		}
		return nil
	})
	return l
}

// waitConverged waits until every running node reports the same applied
// version and state hash and knows every node's address.
func (pc *procCluster) waitConverged(timeout time.Duration) cluster.Status {
	pc.t.Helper()
	var first cluster.Status
	waitFor(pc.t, timeout, "equal state hashes on every node", func() error {
		for i, pn := range pc.running() {
			st, err := pc.c.Status(bg, pn.httpAddr)
			if err != nil {
				return err
			}
			if len(st.Nodes) != len(pc.nodes) {
				return fmt.Errorf("%s knows %d addresses, want %d", st.ID, len(st.Nodes), len(pc.nodes))
			}
			if i == 0 {
				first = st
			} else if st.AppliedVersion != first.AppliedVersion || st.StateHash != first.StateHash {
				return fmt.Errorf("%s at %d hash %.12s, %s at %d hash %.12s", first.ID, first.AppliedVersion,
					first.StateHash, st.ID, st.AppliedVersion, st.StateHash)
			}
		}
		return nil
	})
	return first
}

// leader returns the running node that says it is the leader, if any.
func (pc *procCluster) leader() *procNode {
	for _, pn := range pc.running() {
		if st, err := pc.c.Status(bg, pn.httpAddr); err == nil && st.State == "leader" {
			return pn
		}
	}
	return nil
}

// records returns every record on pn's own replica, key -> value.
func (pc *procCluster) records(pn *procNode) map[string]string {
	pc.t.Helper()
	r, err := pc.c.Do(bg, "GET", pn.httpAddr, "/v1/scan?consistency=stale&limit=100000", nil)
	if err != nil || r.Code != 200 {
		pc.t.Fatalf("scan of %s: %d %s, %v", pn.id, r.Code, r.Raw, err)
	}
	var body struct {
		More    bool                `json:"more"`
		Records []map[string]string `json:"records"`
	}
	if err := decodeInto(r.Raw, &body); err != nil {
		pc.t.Fatal(err)
	}
	if body.More {
		pc.t.Fatalf("scan of %s truncated", pn.id)
	}
	out := map[string]string{}
	for _, rec := range body.Records {
		out[rec["key"]] = rec["value"]
	}
	return out
}

// outcome classifies the answer to a write.
type outcome int

const (
	outAcked   outcome = iota // 200
	outRefused                // 409, 404: decided, nothing applied
	outNotDone                // 503 or no connection: nothing applied
	outUnknown                // sent, result lost
)

func classify(r cluster.Response, err error) outcome {
	switch {
	case err != nil:
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return outNotDone
		}
		return outUnknown
	case r.Code == http.StatusOK:
		return outAcked
	case r.Code == http.StatusConflict || r.Code == http.StatusNotFound:
		return outRefused
	case r.Code == http.StatusServiceUnavailable:
		return outNotDone
	default:
		return outUnknown
	}
}

// TestProcess_KillLeaderUnderWrites runs three dualdbd processes, writes
// through all of them from concurrent clients, kills the leader with
// SIGKILL, restarts it, and checks that every acknowledged write is on
// every node and that the nodes' state hashes are equal.
func TestProcess_KillLeaderUnderWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	pc := newProcCluster(t, 3)
	rounds := 1
	if longTier() {
		rounds = 12
	}

	var (
		mu      sync.Mutex
		acked   = map[string]string{}
		unknown = map[string]bool{}
		counts  [4]int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const writers, maxPerWriter = 6, 100_000
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxPerWriter; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pn := pc.nodes[(w+i)%len(pc.nodes)]
				k := fmt.Sprintf("w%d-%06d", w, i)
				v := fmt.Sprintf("v%d", i)
				ctx, cancel := context.WithTimeout(bg, 15*time.Second)
				r, err := pc.c.Put(ctx, pn.httpAddr, k, "ix-"+k, v)
				cancel()
				o := classify(r, err)
				mu.Lock()
				counts[o]++
				switch o {
				case outAcked:
					acked[k] = v
				case outUnknown:
					unknown[k] = true
				case outRefused:
					t.Errorf("put %s refused: %d %s", k, r.Code, r.Raw)
				}
				mu.Unlock()
				if o == outNotDone {
					time.Sleep(20 * time.Millisecond) // no leader or node down: do not spin
				}
			}
		}()
	}
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitAcks := func(n int, what string) {
		target := ackedNow() + n
		waitFor(t, 90*time.Second, fmt.Sprintf("%d more acknowledged writes %s", n, what), func() error {
			if got := ackedNow(); got < target {
				return fmt.Errorf("%d of %d", got, target)
			}
			return nil
		})
	}

	for round := range rounds {
		waitAcks(100, "before the kill")
		l := pc.leader()
		if l == nil {
			l = pc.waitLeader(pc.running())
		}
		t.Logf("round %d: kill -9 of leader %s with %d writes acknowledged", round, l.id, ackedNow())
		pc.kill9(l)
		var rest []*procNode
		for _, pn := range pc.nodes {
			if pn != l {
				rest = append(rest, pn)
			}
		}
		nl := pc.waitLeader(rest)
		waitAcks(100, "after the kill, leader "+nl.id)
		pc.start(l)
		waitAcks(50, "after the restart of "+l.id)
	}
	close(stop)
	wg.Wait()

	st := pc.waitConverged(120 * time.Second)
	t.Logf("acked %d, refused %d, not done %d, unknown %d; converged at version %d hash %.16s",
		counts[outAcked], counts[outRefused], counts[outNotDone], counts[outUnknown], st.AppliedVersion, st.StateHash)
	for _, pn := range pc.nodes {
		got := pc.records(pn)
		missing := 0
		for k, v := range acked {
			if got[k] != v {
				if missing < 5 {
					t.Errorf("%s: acknowledged write %s=%s reads as %q", pn.id, k, v, got[k])
				}
				missing++
			}
		}
		for k := range got {
			if _, ok := acked[k]; !ok && !unknown[k] {
				t.Errorf("%s holds %s, which no write acknowledged or left open", pn.id, k)
			}
		}
		if missing > 0 {
			t.Errorf("%s misses %d of %d acknowledged writes", pn.id, missing, len(acked))
		}
	}
}

func TestDualdbd_UsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dualdbd")
	}
	bin := dualdbdBinary(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"serve"},
		{"serve", "--id", "a", "--data-dir", dir, "--raft-addr", "127.0.0.1:1", "--http-addr", "127.0.0.1:2", "--bootstrap", "--join", "127.0.0.1:3"},
		{"serve", "--no-such-flag"},
		{"bench", "--clients", "0", "--addrs", "127.0.0.1:1"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("dualdbd %v: %v, want exit code 2\n%s", args, err, out)
		}
	}
	// A busy HTTP port fails at once with exit code 1, and names it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(bin, "serve", "--id", "a", "--data-dir", dir, "--raft-addr", freeAddr(t),
		"--http-addr", ln.Addr().String(), "--bootstrap").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), ln.Addr().String()) {
		t.Errorf("serve on a busy port: %v\n%s", err, out)
	}
}
