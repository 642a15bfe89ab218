package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dualdb/dualdb/cluster"
	"github.com/dualdb/dualdb/internal/testtier"
)

// Timeouts of the in-process clusters: at least 200 ms, since the machine
// running the tests may be loaded (leadership flaps below that).
const testRaftTimeout = 300 * time.Millisecond

// longTier reports whether the long test tier was asked for.
func longTier() bool { return testtier.Long() }

// waitFor polls cond until it returns nil or timeout passes, then fails
// the test with cond's last error. It never asserts on time itself: the
// timeout is a bound for a hung cluster, generous for a slow machine.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memNode is one node of an in-process cluster on raft's in-memory
// transport. Its stores outlive the node, so it can be restarted.
type memNode struct {
	id       string
	addr     raft.ServerAddress
	trans    *raft.InmemTransport
	logs     *raft.InmemStore
	snaps    *raft.InmemSnapshotStore
	dir      string
	httpAddr string
	node     *cluster.Node // nil while stopped
	srv      *http.Server
}

type memCluster struct {
	t     testing.TB
	nodes []*memNode
	cfg   func(*cluster.Config) // adjusts every node's Config
	c     cluster.Client
}

// newMemCluster starts n nodes: the first bootstraps, the others join it
// through the HTTP API.
func newMemCluster(t testing.TB, n int, cfg func(*cluster.Config)) *memCluster {
	t.Helper()
	mc := &memCluster{t: t, cfg: cfg, c: cluster.Client{HTTP: &http.Client{Timeout: 20 * time.Second}}}
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		httpAddr := ln.Addr().String()
		ln.Close()
		// The raft address is only a name on the in-memory transport.
		mn := &memNode{id: id, addr: raft.ServerAddress(id + ":7000"), logs: raft.NewInmemStore(),
			snaps: raft.NewInmemSnapshotStore(), dir: t.TempDir(), httpAddr: httpAddr}
		mc.nodes = append(mc.nodes, mn)
	}
	t.Cleanup(mc.stopAll)
	mc.start(mc.nodes[0], true, "")
	mc.waitLeader()
	for _, mn := range mc.nodes[1:] {
		mc.join(mn)
	}
	mc.waitConverged(60 * time.Second)
	return mc
}

// start starts mn (again), on a new transport connected to every other
// running node.
func (mc *memCluster) start(mn *memNode, bootstrap bool, join string) {
	mc.t.Helper()
	_, mn.trans = raft.NewInmemTransportWithTimeout(mn.addr, 5*time.Second)
	mc.connect(mn)
	cfg := cluster.Config{
		ID: mn.id, DataDir: mn.dir, HTTPAddr: mn.httpAddr, Bootstrap: bootstrap, Join: join,
		HeartbeatTimeout: testRaftTimeout, ElectionTimeout: testRaftTimeout, ApplyTimeout: 5 * time.Second,
		Logger:        slog.New(slog.DiscardHandler),
		RaftLogOutput: io.Discard,
		Stores:        &cluster.Stores{Logs: mn.logs, Stable: mn.logs, Snapshots: mn.snaps, Transport: mn.trans},
	}
	if os.Getenv("DUALDB_RAFT_LOG") != "" {
		cfg.RaftLogOutput, cfg.RaftLogLevel = os.Stderr, "DEBUG"
	}
	if mc.cfg != nil {
		mc.cfg(&cfg)
	}
	node, err := cluster.Open(cfg)
	if err != nil {
		mc.t.Fatalf("Open %s: %v", mn.id, err)
	}
	mn.node = node
	var ln net.Listener
	waitFor(mc.t, 10*time.Second, "listening on "+mn.httpAddr, func() error {
		ln, err = net.Listen("tcp", mn.httpAddr)
		return err
	})
	mn.srv = &http.Server{Handler: node.Handler()}
	go mn.srv.Serve(ln)
}

// connect links mn's transport with every running node, both ways.
func (mc *memCluster) connect(mn *memNode) {
	for _, o := range mc.nodes {
		if o == mn || o.node == nil {
			continue
		}
		mn.trans.Connect(o.addr, o.trans)
		o.trans.Connect(mn.addr, mn.trans)
	}
}

// isolate cuts mn off from every other node (raft traffic only).
func (mc *memCluster) isolate(mn *memNode) {
	mn.trans.DisconnectAll()
	for _, o := range mc.nodes {
		if o != mn && o.node != nil {
			o.trans.Disconnect(mn.addr)
		}
	}
}

// stop shuts mn down (its stores survive).
func (mc *memCluster) stop(mn *memNode) {
	if mn.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = mn.srv.Shutdown(ctx)
	if err := mn.node.Close(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
		mc.t.Errorf("Close %s: %v", mn.id, err)
	}
	for _, o := range mc.nodes {
		if o != mn && o.node != nil {
			o.trans.Disconnect(mn.addr)
		}
	}
	mn.node = nil
}

func (mc *memCluster) stopAll() {
	for _, mn := range mc.nodes {
		mc.stop(mn)
	}
}

func (mc *memCluster) join(mn *memNode) {
	mc.t.Helper()
	mc.start(mn, false, mc.nodes[0].httpAddr)
}

// leader waits for a running node that is leader and that every other
// running, connected node follows; it returns it.
func (mc *memCluster) waitLeader() *memNode {
	mc.t.Helper()
	var l *memNode
	waitFor(mc.t, 30*time.Second, "a leader", func() error {
		l = nil
		for _, mn := range mc.nodes {
			if mn.node != nil && mn.node.Raft().State() == raft.Leader {
				l = mn
			}
		}
		if l == nil {
			return errors.New("no node is leader")
		}
		return nil
	})
	return l
}

// running returns the nodes that are up.
func (mc *memCluster) running() []*memNode {
	var out []*memNode
	for _, mn := range mc.nodes {
		if mn.node != nil {
			out = append(out, mn)
		}
	}
	return out
}

// waitConverged waits until every running node has applied the same
// version and reports the same state hash, and returns that hash.
func (mc *memCluster) waitConverged(timeout time.Duration) string {
	mc.t.Helper()
	var hash string
	waitFor(mc.t, timeout, "equal state hashes on every node", func() error {
		var first cluster.Status
		for i, mn := range mc.running() {
			st := mn.node.Status()
			if i == 0 {
				first = st
				continue
			}
			if st.AppliedVersion != first.AppliedVersion || st.StateHash != first.StateHash {
				return fmt.Errorf("%s at version %d hash %.12s, %s at version %d hash %.12s",
					first.ID, first.AppliedVersion, first.StateHash, st.ID, st.AppliedVersion, st.StateHash)
			}
			if len(st.Nodes) != len(mc.nodes) {
				return fmt.Errorf("%s knows %d nodes' addresses, want %d", st.ID, len(st.Nodes), len(mc.nodes))
			}
		}
		hash = first.StateHash
		return nil
	})
	return hash
}

// put writes through node mn's HTTP API and fails the test unless it is
// acknowledged.
func (mc *memCluster) put(mn *memNode, key, index, value string) cluster.Response {
	mc.t.Helper()
	var r cluster.Response
	waitFor(mc.t, 30*time.Second, "put "+key, func() error {
		var err error
		r, err = mc.c.Put(context.Background(), mn.httpAddr, key, index, value)
		if err != nil {
			return err
		}
		if r.Code == http.StatusServiceUnavailable {
			return fmt.Errorf("HTTP 503: %s", r.Raw) // no leader yet: nothing applied, retry
		}
		return nil
	})
	if r.Code != http.StatusOK {
		mc.t.Fatalf("put %s via %s: HTTP %d: %s", key, mn.id, r.Code, r.Raw)
	}
	return r
}

func decodeInto(b []byte, v any) error {
	return json.Unmarshal(b, v)
}
