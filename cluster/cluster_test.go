package cluster_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualdb/dualdb/cluster"
	"github.com/dualdb/dualdb/wal"
)

var bg = context.Background()

// followers returns the running nodes other than l.
func (mc *memCluster) followers(l *memNode) []*memNode {
	var out []*memNode
	for _, mn := range mc.running() {
		if mn != l {
			out = append(out, mn)
		}
	}
	return out
}

// waitLeaderAmong waits until one of nodes is leader and returns it.
func (mc *memCluster) waitLeaderAmong(nodes []*memNode) *memNode {
	mc.t.Helper()
	var l *memNode
	waitFor(mc.t, 30*time.Second, "a leader among the majority", func() error {
		for _, mn := range nodes {
			if mn.node.Raft().State() == raft.Leader {
				l = mn
				return nil
			}
		}
		return errors.New("none of them is leader")
	})
	return l
}

// staleGet reads key on mn's own replica.
func staleGet(t *testing.T, mn *memNode, key string) (string, bool) {
	t.Helper()
	r, err := mn.node.Replica().Snapshot().Get([]byte(key))
	if err != nil {
		return "", false
	}
	return string(r.Value), true
}

func TestAPI(t *testing.T) {
	mc := newMemCluster(t, 3, nil)
	l := mc.waitLeader()
	f := mc.followers(l)
	c := &mc.c

	t.Run("PutViaFollowerReadEverywhere", func(t *testing.T) {
		r := mc.put(f[0], "alice", "alice@example.com", `{"id":1}`)
		if r.Version == 0 {
			t.Fatalf("put answered version 0: %s", r.Raw)
		}
		for _, mn := range mc.nodes {
			g, err := c.Get(bg, mn.httpAddr, "alice", "linearizable")
			if err != nil || g.Code != 200 || g.Value != `{"id":1}` || g.Index != "alice@example.com" || g.Version < r.Version {
				t.Errorf("linearizable get via %s = %d %s, %v; want the record at version >= %d", mn.id, g.Code, g.Raw, err, r.Version)
			}
			g, err = c.GetByIndex(bg, mn.httpAddr, "alice@example.com", "linearizable")
			if err != nil || g.Code != 200 || g.Key != "alice" {
				t.Errorf("get by index via %s = %d %s, %v", mn.id, g.Code, g.Raw, err)
			}
		}
		mc.waitConverged(30 * time.Second)
		for _, mn := range mc.nodes {
			g, err := c.Get(bg, mn.httpAddr, "alice", "stale")
			if err != nil || g.Code != 200 || g.Value != `{"id":1}` {
				t.Errorf("stale get on %s after convergence = %d %s, %v", mn.id, g.Code, g.Raw, err)
			}
		}
	})

	t.Run("ConflictDecidedInFSM", func(t *testing.T) {
		r, err := c.Put(bg, f[1].httpAddr, "bob", "alice@example.com", "x")
		if err != nil || r.Code != http.StatusConflict || r.Error != "conflict" || r.Owner != "alice" {
			t.Fatalf("put of an owned index = %d %s, %v; want 409 owned by alice", r.Code, r.Raw, err)
		}
		mc.waitConverged(30 * time.Second)
		for _, mn := range mc.nodes {
			if _, ok := staleGet(t, mn, "bob"); ok {
				t.Errorf("refused put is visible on %s", mn.id)
			}
			if mn.node.Replica().Version() < r.Version {
				t.Errorf("%s at version %d, the refused command took version %d", mn.id, mn.node.Replica().Version(), r.Version)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		mc.put(l, "gone", "gone@x", "v")
		r, err := c.Delete(bg, f[0].httpAddr, "gone")
		if err != nil || r.Code != 200 || r.Version == 0 {
			t.Fatalf("delete = %d %s, %v", r.Code, r.Raw, err)
		}
		r, err = c.Delete(bg, f[0].httpAddr, "gone")
		if err != nil || r.Code != http.StatusNotFound {
			t.Fatalf("second delete = %d %s, %v; want 404", r.Code, r.Raw, err)
		}
		g, err := c.Get(bg, f[1].httpAddr, "gone", "linearizable")
		if err != nil || g.Code != http.StatusNotFound {
			t.Errorf("get of a deleted key = %d %s, %v; want 404", g.Code, g.Raw, err)
		}
	})

	t.Run("TxnAllOrNothing", func(t *testing.T) {
		r, err := c.Txn(bg, f[0].httpAddr, []cluster.Op{
			{Op: "put", Key: "t1", Index: "t1@x", Value: "1"},
			{Op: "put", Key: "t2", Index: "alice@example.com", Value: "2"}, // owned by alice
		})
		if err != nil || r.Code != http.StatusConflict {
			t.Fatalf("txn with a conflict = %d %s, %v; want 409", r.Code, r.Raw, err)
		}
		if g, _ := c.Get(bg, l.httpAddr, "t1", "linearizable"); g.Code != http.StatusNotFound {
			t.Errorf("first op of a refused txn is visible: %d %s", g.Code, g.Raw)
		}
		r, err = c.Txn(bg, f[1].httpAddr, []cluster.Op{
			{Op: "put", Key: "t1", Index: "t1@x", Value: "1"},
			{Op: "put", Key: "t2", Index: "t2@x", Value: "2"},
			{Op: "delete", Key: "alice"},
		})
		if err != nil || r.Code != 200 {
			t.Fatalf("txn = %d %s, %v", r.Code, r.Raw, err)
		}
		for _, k := range []string{"t1", "t2"} {
			if g, _ := c.Get(bg, f[0].httpAddr, k, "linearizable"); g.Code != 200 || g.Version < r.Version {
				t.Errorf("get %s after txn = %d %s", k, g.Code, g.Raw)
			}
		}
		if g, _ := c.GetByIndex(bg, f[0].httpAddr, "alice@example.com", "linearizable"); g.Code != http.StatusNotFound {
			t.Errorf("index of the key the txn deleted still resolves: %d %s", g.Code, g.Raw)
		}
		// A swap of two index keys is one txn of two puts: consecutive
		// puts apply as one PutAll, which frees the keys its records give up.
		r, err = c.Txn(bg, f[0].httpAddr, []cluster.Op{
			{Op: "put", Key: "t1", Index: "t2@x", Value: "1"},
			{Op: "put", Key: "t2", Index: "t1@x", Value: "2"},
		})
		if err != nil || r.Code != 200 {
			t.Fatalf("swap txn = %d %s, %v; want 200", r.Code, r.Raw, err)
		}
		if g, _ := c.GetByIndex(bg, f[1].httpAddr, "t1@x", "linearizable"); g.Code != 200 || g.Key != "t2" {
			t.Errorf("after the swap, index t1@x = %d %s; want key t2", g.Code, g.Raw)
		}
		r, _ = c.Txn(bg, f[1].httpAddr, []cluster.Op{
			{Op: "put", Key: "t1", Index: "a@x", Value: "1"},
			{Op: "put", Key: "t1", Index: "b@x", Value: "2"},
		})
		if r.Code != http.StatusBadRequest {
			t.Errorf("txn putting one key twice in a run = %d %s; want 400", r.Code, r.Raw)
		}
		r, _ = c.Txn(bg, f[1].httpAddr, []cluster.Op{{Op: "delete", Key: "t1"}, {Op: "delete", Key: "missing"}})
		if r.Code != http.StatusNotFound {
			t.Errorf("txn deleting a missing key = %d %s; want 404", r.Code, r.Raw)
		}
		if g, _ := c.Get(bg, l.httpAddr, "t1", "linearizable"); g.Code != 200 {
			t.Errorf("a refused txn's delete applied: %d %s", g.Code, g.Raw)
		}
	})

	t.Run("Scan", func(t *testing.T) {
		for i := range 5 {
			mc.put(l, fmt.Sprintf("s%d", i), fmt.Sprintf("z%d", 4-i), "v")
		}
		r, err := c.Do(bg, "GET", f[0].httpAddr, "/v1/scan?by=key&from=s1&to=s4&limit=2", nil)
		if err != nil || r.Code != 200 || !strings.Contains(string(r.Raw), `"key":"s1"`) || !strings.Contains(string(r.Raw), `"key":"s2"`) ||
			strings.Contains(string(r.Raw), `"key":"s3"`) || !strings.Contains(string(r.Raw), `"more":true`) {
			t.Errorf("scan by key = %d %s, %v", r.Code, r.Raw, err)
		}
		r, err = c.Do(bg, "GET", f[1].httpAddr, "/v1/scan?by=index&from=z0&to=z2&consistency=stale", nil)
		if err != nil || r.Code != 200 {
			t.Fatalf("scan by index = %d %s, %v", r.Code, r.Raw, err)
		}
		// Stale: may lag, but what it shows is in index order.
		if s := string(r.Raw); strings.Contains(s, "s4") && strings.Contains(s, "s3") && strings.Index(s, "s4") > strings.Index(s, "s3") {
			t.Errorf("scan by index not in index order: %s", s)
		}
	})

	t.Run("Binary", func(t *testing.T) {
		key := []byte{0xff, 0x00, 'k'}
		val := []byte{0xfe, 0xfd}
		path := "/v1/kv/" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(key), "/", "%2F") + "?encoding=base64"
		r, err := c.Do(bg, "PUT", f[0].httpAddr, path, map[string]string{"index": "bin", "value_b64": base64.StdEncoding.EncodeToString(val)})
		if err != nil || r.Code != 200 {
			t.Fatalf("binary put = %d %s, %v", r.Code, r.Raw, err)
		}
		g, err := c.GetByIndex(bg, f[1].httpAddr, "bin", "linearizable")
		if err != nil || g.Code != 200 || g.Key != string(key) || g.Value != string(val) || !strings.Contains(string(g.Raw), "value_b64") {
			t.Errorf("binary record read back as %d %s, %v", g.Code, g.Raw, err)
		}
	})

	t.Run("BadRequests", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"PUT", "/v1/kv/k", map[string]string{"index": "i", "bogus": "x"}},
			{"PUT", "/v1/kv/k", map[string]string{"index": "i", "index_b64": "aQ=="}},
			{"PUT", "/v1/kv/k", map[string]string{"index_b64": "not base64!"}},
			{"GET", "/v1/kv/k?consistency=eventual", nil},
			{"POST", "/v1/txn", map[string]any{"ops": []any{}}},
			{"POST", "/v1/txn", map[string]any{"ops": []any{map[string]string{"op": "upsert", "key": "k"}}}},
			{"GET", "/v1/scan?by=value", nil},
			{"GET", "/v1/scan?limit=0", nil},
			{"POST", "/v1/join", map[string]string{"id": "x", "raft_addr": "nohost", "http_addr": "127.0.0.1:1"}},
		} {
			r, err := c.Do(bg, tc.method, l.httpAddr, tc.path, tc.body)
			if err != nil || r.Code != http.StatusBadRequest || r.Error == "" {
				t.Errorf("%s %s %v = %d %s, %v; want 400 with an error", tc.method, tc.path, tc.body, r.Code, r.Raw, err)
			}
		}
		big := strings.Repeat("k", 70<<10)
		if r, _ := c.Put(bg, l.httpAddr, big, "i", "v"); r.Code != http.StatusBadRequest {
			t.Errorf("put of a 70 KiB key = %d, want 400", r.Code)
		}
	})

	t.Run("JoinTwiceIsHarmless", func(t *testing.T) {
		before := l.node.Replica().Version()
		req := cluster.JoinRequest{ID: f[0].id, RaftAddr: string(f[0].addr), HTTPAddr: f[0].httpAddr}
		for _, via := range []*memNode{f[1], l} {
			r, err := c.Do(bg, "POST", via.httpAddr, "/v1/join", req)
			if err != nil || r.Code != 200 {
				t.Fatalf("join of a member via %s = %d %s, %v", via.id, r.Code, r.Raw, err)
			}
		}
		cf := l.node.Raft().GetConfiguration()
		if err := cf.Error(); err != nil || len(cf.Configuration().Servers) != 3 {
			t.Errorf("configuration after a repeated join: %v, %v", cf.Configuration().Servers, err)
		}
		if v := l.node.Replica().Version(); v != before {
			t.Errorf("a repeated join applied a command: version %d -> %d", before, v)
		}
	})

	t.Run("StatusAndMetrics", func(t *testing.T) {
		hash := mc.waitConverged(30 * time.Second)
		for _, mn := range mc.nodes {
			st, err := c.Status(bg, mn.httpAddr)
			if err != nil {
				t.Fatal(err)
			}
			if st.Leader.ID != l.id || st.Leader.HTTPAddr != l.httpAddr || st.StateHash != hash {
				t.Errorf("status of %s: leader %+v hash %.12s; want %s at %s, hash %.12s", mn.id, st.Leader, st.StateHash, l.id, l.httpAddr, hash)
			}
			if want := map[bool]string{true: "leader", false: "follower"}[mn == l]; st.State != want {
				t.Errorf("status of %s: state %q, want %q", mn.id, st.State, want)
			}
			if r, _ := c.Do(bg, "GET", mn.httpAddr, "/readyz", nil); r.Code != 200 {
				t.Errorf("readyz of %s = %d %s", mn.id, r.Code, r.Raw)
			}
		}
		r, err := c.Do(bg, "GET", l.httpAddr, "/metrics", nil)
		if err != nil || r.Code != 200 {
			t.Fatalf("metrics: %d, %v", r.Code, err)
		}
		for _, m := range []string{"dualdb_cluster_applied_version", "dualdb_commits_total", "dualdb_cluster_is_leader 1",
			`dualdb_cluster_http_requests_total{code="409",route="put"}`} {
			if !strings.Contains(string(r.Raw), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
	})

	t.Run("RemoveNode", func(t *testing.T) {
		gone := f[1]
		r, err := c.Do(bg, "DELETE", f[0].httpAddr, "/v1/nodes/"+gone.id, nil)
		if err != nil || r.Code != 200 {
			t.Fatalf("remove %s via a follower = %d %s, %v", gone.id, r.Code, r.Raw, err)
		}
		cf := l.node.Raft().GetConfiguration()
		if err := cf.Error(); err != nil {
			t.Fatal(err)
		}
		for _, s := range cf.Configuration().Servers {
			if string(s.ID) == gone.id {
				t.Errorf("%s still in the configuration: %v", gone.id, cf.Configuration().Servers)
			}
		}
		if _, ok := l.node.Status().Nodes[gone.id]; ok {
			t.Errorf("the address table still lists %s", gone.id)
		}
		// The two left still make progress.
		mc.put(f[0], "after-remove", "after-remove@x", "v")
	})

	t.Run("NoLeader503", func(t *testing.T) {
		// Take the leader away: the last node of a two-node configuration
		// cannot win an election.
		last := f[0]
		for _, mn := range mc.nodes {
			if mn != last {
				mc.stop(mn)
			}
		}
		waitFor(t, 30*time.Second, last.id+" to give up leadership", func() error {
			if _, id := last.node.Raft().LeaderWithID(); id != "" {
				return fmt.Errorf("still sees leader %q", id)
			}
			return nil
		})
		r, err := c.Put(bg, last.httpAddr, "k503", "i503", "v")
		if err != nil || r.Code != http.StatusServiceUnavailable {
			t.Fatalf("put with no leader = %d %s, %v; want 503", r.Code, r.Raw, err)
		}
		if r, _ := c.Do(bg, "GET", last.httpAddr, "/readyz", nil); r.Code != http.StatusServiceUnavailable {
			t.Errorf("readyz with no leader = %d", r.Code)
		}
		resp, err := http.Get("http://" + last.httpAddr + "/v1/kv/k?consistency=linearizable")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("linearizable read with no leader = %d Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if r, _ := c.Get(bg, last.httpAddr, "t1", "stale"); r.Code != 200 {
			t.Errorf("stale read with no leader = %d %s; want the local record", r.Code, r.Raw)
		}
	})
}

func TestPartition_CutOffLeaderFailsMajorityGoesOn(t *testing.T) {
	rounds := 1
	if longTier() {
		rounds = 10
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round%d", round), testPartition)
	}
}

func testPartition(t *testing.T) {
	mc := newMemCluster(t, 3, nil)
	old := mc.waitLeader()
	mc.put(old, "before", "before@x", "1")
	mc.waitConverged(30 * time.Second)

	mc.isolate(old)
	// A write on the cut-off leader cannot commit: it must not be
	// acknowledged (503 if it stepped down first, outcome unknown if it
	// was sent to its log and then lost leadership).
	r, err := mc.c.Put(bg, old.httpAddr, "lost", "lost@x", "x")
	if err != nil || r.Code == http.StatusOK {
		t.Fatalf("write on a cut-off leader = %d %s, %v; want a failure", r.Code, r.Raw, err)
	}
	t.Logf("write on the cut-off leader: HTTP %d %s", r.Code, strings.TrimSpace(string(r.Raw)))
	_, werr := old.node.Write([]wal.Op{{Kind: wal.OpPut, Key: []byte("lost2"), Index: []byte("lost2@x")}})
	if !errors.Is(werr, cluster.ErrNoLeader) && !errors.Is(werr, cluster.ErrOutcomeUnknown) {
		t.Errorf("Write on a cut-off leader = %v; want ErrNoLeader or ErrOutcomeUnknown", werr)
	}

	majority := mc.followers(old)
	nl := mc.waitLeaderAmong(majority)
	mc.put(majority[0], "after", "after@x", "2")
	mc.put(majority[1], "after2", "after2@x", "3")
	if _, ok := staleGet(t, old, "after"); ok {
		t.Fatalf("the cut-off node has a write it cannot have received")
	}

	mc.connect(old)
	mc.waitConverged(60 * time.Second)
	for _, mn := range mc.nodes {
		for _, k := range []string{"before", "after", "after2"} {
			if _, ok := staleGet(t, mn, k); !ok {
				t.Errorf("%s lacks %s after healing", mn.id, k)
			}
		}
		for _, k := range []string{"lost", "lost2"} {
			if _, ok := staleGet(t, mn, k); ok {
				t.Errorf("%s holds %s, written on a cut-off leader and never committed", mn.id, k)
			}
		}
	}
	if st := old.node.Status(); st.Leader.ID != nl.id && st.State != "leader" {
		t.Logf("leader after healing: %s (was %s, then %s)", st.Leader.ID, old.id, nl.id)
	}
}

func TestLeaderKill_NewLeaderAndRestartCatchesUp(t *testing.T) {
	mc := newMemCluster(t, 3, nil)
	old := mc.waitLeader()
	mc.put(old, "a", "a@x", "1")
	mc.stop(old)
	rest := mc.running()
	nl := mc.waitLeaderAmong(rest)
	if nl == old {
		t.Fatal("the stopped node is leader")
	}
	// Through the follower: forwarded to the new leader.
	mc.put(mc.followers(nl)[0], "b", "b@x", "2")
	for _, mn := range rest {
		if g, err := mc.c.Get(bg, mn.httpAddr, "a", "linearizable"); err != nil || g.Code != 200 || g.Value != "1" {
			t.Errorf("write acknowledged by the old leader, read via %s = %d %s, %v", mn.id, g.Code, g.Raw, err)
		}
	}
	mc.start(old, true, "") // --bootstrap on existing state: harmless
	mc.waitConverged(60 * time.Second)
	if v, ok := staleGet(t, old, "b"); !ok || v != "2" {
		t.Errorf("restarted node lacks the write made while it was down: %q, %v", v, ok)
	}
}

func TestFollowerRestartedPastTrailingLogsCatchesUpBySnapshot(t *testing.T) {
	mc := newMemCluster(t, 3, func(c *cluster.Config) {
		c.SnapshotThreshold = 1 << 20 // snapshots only when the test asks
		c.SnapshotInterval = time.Hour
		c.TrailingLogs = 8
	})
	l := mc.waitLeader()
	f := mc.followers(l)[0]
	mc.put(l, "k-first", "ix-first", "v")
	mc.waitConverged(30 * time.Second)
	mc.stop(f)
	fLast, err := f.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		if _, err := l.node.Write([]wal.Op{{Kind: wal.OpPut, Key: []byte(k), Index: []byte("ix" + k), Value: []byte(k)}}); err != nil {
			t.Fatalf("Write %s: %v", k, err)
		}
	}
	if err := l.node.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	first, err := l.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first <= fLast+1 {
		t.Fatalf("leader's log starts at %d, the stopped follower ends at %d: no snapshot needed, the test proves nothing", first, fLast)
	}
	mc.start(f, false, "")
	mc.waitConverged(60 * time.Second)
	if got := f.node.Restores(); got == 0 {
		t.Errorf("follower caught up without restoring a snapshot (log started at %d, follower at %d)", first, fLast)
	}
	if g := f.node.Replica().Snapshot(); g.Len() != n+1 {
		t.Errorf("follower holds %d records, want %d", g.Len(), n+1)
	}
	if fs := f.node.Replica().Snapshot().Check(0); len(fs) != 0 {
		t.Errorf("restored store fails its check: %v", fs)
	}
}

func TestOpen_ConfigErrorsAndReopenWithSharedRegistry(t *testing.T) {
	for _, cfg := range []cluster.Config{
		{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:1", RaftAddr: "127.0.0.1:2"},
		{ID: "a", HTTPAddr: "127.0.0.1:1", RaftAddr: "127.0.0.1:2"},
		{ID: "a", DataDir: t.TempDir(), RaftAddr: "127.0.0.1:2"},
		{ID: "a", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:1"},
	} {
		if n, err := cluster.Open(cfg); err == nil {
			n.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
	reg := prometheus.NewRegistry()
	logs, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
	dir := t.TempDir()
	for round := range 2 {
		_, tr := raft.NewInmemTransport("solo:1")
		n, err := cluster.Open(cluster.Config{
			ID: "solo", DataDir: dir, HTTPAddr: "127.0.0.1:1", Bootstrap: true, Registry: reg,
			HeartbeatTimeout: testRaftTimeout, ElectionTimeout: testRaftTimeout,
			Logger: slog.New(slog.DiscardHandler), RaftLogOutput: io.Discard,
			Stores: &cluster.Stores{Logs: logs, Stable: logs, Snapshots: snaps, Transport: tr},
		})
		if err != nil {
			t.Fatalf("round %d: Open with a shared registry: %v", round, err)
		}
		waitFor(t, 30*time.Second, "leadership", func() error {
			if n.Raft().State() != raft.Leader {
				return errors.New("not leader")
			}
			return nil
		})
		key := fmt.Sprintf("r%d", round)
		if _, err := n.Write([]wal.Op{{Kind: wal.OpPut, Key: []byte(key), Index: []byte(key)}}); err != nil {
			t.Fatalf("round %d: Write: %v", round, err)
		}
		if got := n.Replica().Snapshot().Len(); got != round+1 {
			t.Errorf("round %d: %d records after restart and a write, want %d", round, got, round+1)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestForward_LostAnswerIsUnknownRefusedConnectionIsNot points the
// replicated address of the leader's API at a fake that reads a forwarded
// request and hangs up: the follower must answer "outcome unknown", never
// 503 (the write may have been applied). A leader address where nothing
// listens gives 503: nothing was sent.
func TestForward_LostAnswerIsUnknownRefusedConnectionIsNot(t *testing.T) {
	mc := newMemCluster(t, 3, nil)
	l := mc.waitLeader()
	f := mc.followers(l)[0]
	c := &mc.c

	fake, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	got := make(chan string, 10)
	go func() {
		for {
			conn, err := fake.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				io.Copy(io.Discard, req.Body)
				got <- req.Method + " " + req.URL.Path + " " + req.Header.Get(cluster.ForwardedHeader)
			}
			conn.Close() // no answer
		}
	}()
	repoint := func(addr string) {
		t.Helper()
		r, err := c.Do(bg, "POST", l.httpAddr, "/v1/join", cluster.JoinRequest{ID: l.id, RaftAddr: string(l.addr), HTTPAddr: addr})
		if err != nil || r.Code != 200 {
			t.Fatalf("re-pointing the leader's address: %d %s, %v", r.Code, r.Raw, err)
		}
		waitFor(t, 30*time.Second, f.id+" to learn the new address", func() error {
			if a := f.node.Status().Leader.HTTPAddr; a != addr {
				return fmt.Errorf("leader's address %q", a)
			}
			return nil
		})
	}

	repoint(fake.Addr().String())
	r, err := c.Put(bg, f.httpAddr, "k", "i", "v")
	if err != nil || r.Code != cluster.StatusOutcomeUnknown || r.Error != "outcome unknown" {
		t.Errorf("write forwarded to a leader that hung up = %d %s, %v; want outcome unknown", r.Code, r.Raw, err)
	}
	select {
	case s := <-got:
		if s != "PUT /v1/kv/k "+f.id {
			t.Errorf("the fake leader received %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fake leader received nothing")
	}
	// A read forwarded there fails safely: 503, retry.
	if r, _ := c.Get(bg, f.httpAddr, "k", "linearizable"); r.Code != http.StatusServiceUnavailable {
		t.Errorf("linearizable read forwarded to a leader that hung up = %d %s; want 503", r.Code, r.Raw)
	}

	closed := freeAddr(t) // nothing listens there
	repoint(closed)
	r, err = c.Put(bg, f.httpAddr, "k", "i", "v")
	if err != nil || r.Code != http.StatusServiceUnavailable {
		t.Errorf("write forwarded to a refused connection = %d %s, %v; want 503", r.Code, r.Raw, err)
	}
}
