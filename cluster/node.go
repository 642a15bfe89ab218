package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
	"github.com/dualdb/dualdb/wal"
)

// Defaults for zero Config fields.
const (
	DefaultHeartbeatTimeout  = 500 * time.Millisecond
	DefaultElectionTimeout   = 500 * time.Millisecond
	DefaultApplyTimeout      = 10 * time.Second
	DefaultSnapshotThreshold = 8192
	DefaultTrailingLogs      = 10240
	DefaultSnapshotInterval  = 30 * time.Second
)

// Files and directories inside a node's data directory.
const (
	RaftLogFile = "raft.db"   // raft's log and stable store (bbolt, raft-boltdb)
	SnapshotDir = "snapshots" // raft's snapshots (raft.FileSnapshotStore)
)

// Config configures a Node. Zero fields mean defaults where one is given.
type Config struct {
	ID       string // this node's raft server id; required
	DataDir  string // raft's log and snapshots (unless Stores is set); required
	RaftAddr string // host:port raft listens on (TCP); required unless Stores is set
	HTTPAddr string // host:port other nodes reach this node's API at; required

	// Bootstrap makes this node a one-node cluster if its data directory
	// holds no raft state yet; with existing state it does nothing.
	Bootstrap bool
	// Join is the HTTP address of any node of a cluster to join. Joining a
	// cluster this node already belongs to changes nothing.
	Join string

	// HeartbeatTimeout and ElectionTimeout are raft's; defaults 500 ms.
	// Below about 200 ms leadership flaps on a loaded machine.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// ApplyTimeout bounds the wait for a write to enter raft; default 10 s.
	ApplyTimeout time.Duration
	// SnapshotThreshold (log entries), SnapshotInterval and TrailingLogs
	// are raft's snapshot settings; defaults 8192, 30 s, 10240.
	SnapshotThreshold, TrailingLogs uint64
	SnapshotInterval                time.Duration

	// Store limits: MaxKeySize and MaxValueSize of db.Options.
	MaxKeySize, MaxValueSize int

	// Logger receives the node's own messages; nil means slog.Default().
	Logger *slog.Logger
	// RaftLogOutput receives raft's log (nil: standard error) at
	// RaftLogLevel ("" means "WARN").
	RaftLogOutput io.Writer
	RaftLogLevel  string

	// Registry, if set, gets the node's Prometheus metrics; nil means a
	// registry of the node's own, served at /metrics either way.
	Registry *prometheus.Registry

	// Stores, if set, replaces the files and the TCP transport: tests run
	// clusters in one process on raft's in-memory transport with it.
	Stores *Stores
}

// Stores are raft's storage and transport, for a Node that does not use
// its data directory and TCP (Config.Stores).
type Stores struct {
	Logs      raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	Transport raft.Transport
}

// Node is one member of a replicated dualdb cluster: a raft instance whose
// state machine is a db.Replica, and the HTTP API over it (Handler). Its
// methods are safe for concurrent use.
type Node struct {
	cfg    Config
	logger *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	logs   raft.LogStore
	reg    *prometheus.Registry
	col    *metrics.Collector // the replica's store metrics, registered in reg
	m      *nodeMetrics
	client *http.Client // forwards to the leader and joins

	closers []io.Closer // stores and transport opened here, closed last

	// readyTerm is the raft term in which this node, as leader, has
	// committed an entry (a barrier): linearizable reads need one.
	readyTerm atomic.Uint64
	// readyMu serializes the barrier of a new term.
	readyMu sync.Mutex

	stop     chan struct{}   // closed by Close
	ctx      context.Context // canceled by Close: ends outgoing joins
	cancel   context.CancelFunc
	bg       sync.WaitGroup
	closeErr error
	closed   sync.Once
}

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if o.ID == "" {
		return o, errors.New("cluster: Config.ID is empty")
	}
	if o.HTTPAddr == "" {
		return o, errors.New("cluster: Config.HTTPAddr is empty")
	}
	if o.DataDir == "" {
		return o, errors.New("cluster: Config.DataDir is empty")
	}
	if o.Stores == nil && o.RaftAddr == "" {
		return o, errors.New("cluster: Config.RaftAddr is empty")
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.ElectionTimeout == 0 {
		o.ElectionTimeout = DefaultElectionTimeout
	}
	if o.ApplyTimeout == 0 {
		o.ApplyTimeout = DefaultApplyTimeout
	}
	if o.SnapshotThreshold == 0 {
		o.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if o.TrailingLogs == 0 {
		o.TrailingLogs = DefaultTrailingLogs
	}
	if o.SnapshotInterval == 0 {
		o.SnapshotInterval = DefaultSnapshotInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RaftLogOutput == nil {
		o.RaftLogOutput = os.Stderr
	}
	if o.RaftLogLevel == "" {
		o.RaftLogLevel = "WARN"
	}
	return o, nil
}

// Open starts a node: it opens (or creates) raft's files in DataDir,
// restores the newest snapshot and replays the log after it into a fresh
// in-memory replica, and joins the cluster: by bootstrapping a new one
// (Config.Bootstrap, on an empty data directory), by asking Config.Join,
// or, with existing raft state, by itself. Open returns before the node
// has caught up; Status and /readyz say when it has.
func Open(cfg Config) (*Node, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: c, logger: c.Logger.With("node", c.ID), stop: make(chan struct{}),
		client: &http.Client{Timeout: c.ApplyTimeout + 5*time.Second}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.reg = c.Registry
	if n.reg == nil {
		n.reg = prometheus.NewRegistry()
	}
	col, err := metrics.New(n.reg, nil)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("cluster: metrics: %w", err)
	}
	n.col = col
	stores := c.Stores
	if stores == nil {
		if stores, err = n.openFiles(); err != nil {
			n.closeStores()
			return nil, err
		}
	}
	n.logs = stores.Logs
	dir := c.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		n.closeStores()
		return nil, fmt.Errorf("cluster: create %s: %w", dir, err)
	}
	n.fsm = newFSM(dir, col, &db.Options{Observer: col, MaxKeySize: c.MaxKeySize, MaxValueSize: c.MaxValueSize, Logger: c.Logger})
	if err := os.Remove(filepath.Join(dir, restoreFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.closeStores()
		return nil, fmt.Errorf("cluster: removing a stale %s: %w", restoreFile, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	// Not used for reads (they confirm leadership with a quorum); a lease
	// as long as the heartbeat timeout keeps a loaded leader from stepping
	// down needlessly.
	rc.LeaderLeaseTimeout = c.HeartbeatTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.LogOutput = c.RaftLogOutput
	rc.LogLevel = c.RaftLogLevel

	existing, err := raft.HasExistingState(stores.Logs, stores.Stable, stores.Snapshots)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("cluster: reading raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, stores.Logs, stores.Stable, stores.Snapshots, stores.Transport)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("cluster: starting raft: %w", err)
	}
	n.raft = r
	n.m = newNodeMetrics(n)
	if err := n.reg.Register(n.m); err != nil {
		_ = r.Shutdown().Error()
		n.closeStores()
		return nil, fmt.Errorf("cluster: metrics: %w", err)
	}
	if c.Bootstrap && !existing {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: rc.LocalID, Address: stores.Transport.LocalAddr()},
		}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			_ = r.Shutdown().Error()
			n.closeStores()
			return nil, fmt.Errorf("cluster: bootstrap: %w", err)
		}
	}
	n.bg.Add(1)
	go n.announce(string(stores.Transport.LocalAddr()))
	return n, nil
}

// openFiles opens raft's log, stable store and snapshots in DataDir and
// its TCP transport.
func (n *Node) openFiles() (*Stores, error) {
	c := n.cfg
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: create %s: %w", c.DataDir, err)
	}
	bs, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(c.DataDir, RaftLogFile),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: open %s: %w", filepath.Join(c.DataDir, RaftLogFile), err)
	}
	n.closers = append(n.closers, bs)
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(c.DataDir, SnapshotDir), 2, c.RaftLogOutput)
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshots in %s: %w", c.DataDir, err)
	}
	addr, err := net.ResolveTCPAddr("tcp", c.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: raft address %q: %w", c.RaftAddr, err)
	}
	tr, err := raft.NewTCPTransport(c.RaftAddr, addr, 4, 10*time.Second, c.RaftLogOutput)
	if err != nil {
		return nil, fmt.Errorf("cluster: raft transport on %s: %w", c.RaftAddr, err)
	}
	n.closers = append(n.closers, tr)
	return &Stores{Logs: bs, Stable: bs, Snapshots: snaps, Transport: tr}, nil
}

// closeStores closes what Open opened, and unregisters the metrics.
func (n *Node) closeStores() {
	n.cancel()
	if n.m != nil {
		n.reg.Unregister(n.m)
	}
	n.reg.Unregister(n.col)
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i].Close(); err != nil && n.closeErr == nil {
			n.closeErr = err
		}
	}
	n.closers = nil
}

// Close stops the node: background work, raft, then its files. A write in
// flight may get an unknown outcome.
func (n *Node) Close() error {
	n.closed.Do(func() {
		close(n.stop)
		n.cancel()
		n.bg.Wait()
		if err := n.raft.Shutdown().Error(); err != nil {
			n.closeErr = err
		}
		n.closeStores()
	})
	return n.closeErr
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Raft returns the node's raft instance, for tests and tools.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Replica returns the node's state machine store; read it, never apply to it.
func (n *Node) Replica() *db.Replica { return n.fsm.rep }

// Restores returns the number of snapshots the node's state machine has
// restored since Open (at start, or sent by a leader to catch up).
func (n *Node) Restores() uint64 { return n.fsm.restores.Load() }

// announce makes sure the cluster knows this node: it joins through
// Config.Join when given, and keeps the replicated table of HTTP addresses
// right for this node (after a restart with a new address, too). It stops
// when the table holds this node's address, or at Close.
func (n *Node) announce(raftAddr string) {
	defer n.bg.Done()
	joined := n.cfg.Join == ""
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-n.stop:
				return
			case <-time.After(time.Second):
			}
		}
		if !joined {
			if err := n.postJoin(n.cfg.Join, raftAddr); err != nil {
				if attempt%10 == 0 {
					n.logger.Warn("cluster: join failed, retrying", "via", n.cfg.Join, "err", err)
				}
				continue
			}
			joined = true
		}
		if a, ok := n.fsm.nodeAddr(n.cfg.ID); ok && a == n.cfg.HTTPAddr {
			return
		}
		if n.raft.State() == raft.Leader {
			if _, err := n.propose(encodeNode(nodeCmd{ID: n.cfg.ID, HTTP: n.cfg.HTTPAddr})); err != nil {
				n.logger.Warn("cluster: recording this node's HTTP address", "err", err)
			}
			continue
		}
		if addr, ok := n.leaderHTTP(); ok && n.inConfiguration() {
			if err := n.postJoin(addr, raftAddr); err != nil && attempt%10 == 0 {
				n.logger.Warn("cluster: announcing this node to the leader", "leader", addr, "err", err)
			}
		}
	}
}

// inConfiguration reports whether this node is in raft's configuration.
func (n *Node) inConfiguration() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.ID) {
			return true
		}
	}
	return false
}

// leaderHTTP returns the HTTP address of the current leader, if known.
func (n *Node) leaderHTTP() (string, bool) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", false
	}
	if string(id) == n.cfg.ID {
		return n.cfg.HTTPAddr, true
	}
	return n.fsm.nodeAddr(string(id))
}

// Errors of writes and reads, mapped to HTTP statuses by the API.
var (
	// ErrNoLeader is returned when the cluster has no leader this node
	// knows of, or this node lost leadership before the command was sent:
	// nothing was applied; retry later.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrOutcomeUnknown is returned when a command was sent but its
	// outcome could not be learned (leadership lost, node shutting down,
	// connection to the leader lost): it may or may not be applied.
	ErrOutcomeUnknown = errors.New("cluster: outcome unknown")
)

// propose applies cmd through raft on this node, which must be the leader.
func (n *Node) propose(cmd []byte) (*applyResult, error) {
	start := time.Now()
	f := n.raft.Apply(cmd, n.cfg.ApplyTimeout)
	err := f.Error()
	n.m.observeApply(time.Since(start), err)
	if err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
			errors.Is(err, raft.ErrEnqueueTimeout):
			// Refused before it reached the log.
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, err)
		default:
			// ErrLeadershipLost, ErrRaftShutdown, ErrAbortedByRestore: sent,
			// outcome open.
			return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
		}
	}
	res, ok := f.Response().(*applyResult)
	if !ok {
		return nil, fmt.Errorf("%w: unexpected state machine response %T", ErrOutcomeUnknown, f.Response())
	}
	return res, nil
}

// Write applies ops atomically on the leader (this node must be it) and
// returns the version they were applied at. A refused command (an index
// key owned by another record, a delete of a missing key) returns its
// error (*db.ConflictError, db.ErrNotFound), decided alike on every node.
func (n *Node) Write(ops []wal.Op) (uint64, error) {
	res, err := n.propose(encodeOps(ops))
	if err != nil {
		return 0, err
	}
	return res.Version, res.Err
}

// ReadBarrier waits until a read of this node's replica is linearizable:
// this node is the leader, has committed an entry in its current term,
// confirms with a quorum that it still is the leader after reading its
// commit index, and has applied every command up to that index. It
// returns ErrNoLeader if this node is not the leader.
func (n *Node) ReadBarrier(ctx context.Context) error {
	if n.raft.State() != raft.Leader {
		return ErrNoLeader
	}
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		// A new leader's commit index may not yet cover entries of earlier
		// terms: commit one of our own first (raft's no-op may not be
		// committed yet), once per term.
		n.readyMu.Lock()
		if n.readyTerm.Load() != term {
			if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
				n.readyMu.Unlock()
				return fmt.Errorf("%w: %v", ErrNoLeader, err)
			}
			if n.raft.CurrentTerm() == term {
				n.readyTerm.Store(term)
			}
		}
		n.readyMu.Unlock()
		if n.readyTerm.Load() != term {
			return ErrNoLeader
		}
	}
	ci := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	}
	if n.raft.CurrentTerm() != term {
		return ErrNoLeader
	}
	return n.waitApplied(ctx, ci)
}

// waitApplied waits until the replica holds every command up to raft
// index ci. Entries that are not commands (raft's no-ops, barriers,
// configuration changes) never reach the replica, so it is caught up when
// none of the entries after its version, up to ci, is a command.
func (n *Node) waitApplied(ctx context.Context, ci uint64) error {
	for {
		ch := n.fsm.waitCh()
		v := n.fsm.rep.Version()
		if v >= ci || !n.commandBetween(v, ci) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return ErrNoLeader
		}
	}
}

// commandBetween reports whether raft's log holds a command in (after, upto].
// An entry missing from the log was compacted into a snapshot, which the
// replica already holds.
func (n *Node) commandBetween(after, upto uint64) bool {
	var l raft.Log
	for i := upto; i > after; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand {
			return true
		}
	}
	return false
}

// join adds (or re-adds) a server to raft's configuration and records its
// HTTP address. This node must be the leader. Joining twice with the same
// id and address changes nothing.
func (n *Node) join(id, raftAddr, httpAddr string) error {
	if n.raft.State() != raft.Leader {
		return ErrNoLeader
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	}
	member := false
	for _, s := range cf.Configuration().Servers {
		switch {
		case s.ID == raft.ServerID(id) && s.Address == raft.ServerAddress(raftAddr):
			member = true
		case s.ID == raft.ServerID(id) || s.Address == raft.ServerAddress(raftAddr):
			// Same id at a new address, or a new id at an old address:
			// the old entry goes first.
			if err := n.raft.RemoveServer(s.ID, 0, n.cfg.ApplyTimeout).Error(); err != nil {
				return fmt.Errorf("%w: removing %s: %v", ErrOutcomeUnknown, s.ID, err)
			}
		}
	}
	if !member {
		if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, n.cfg.ApplyTimeout).Error(); err != nil {
			return fmt.Errorf("%w: adding %s: %v", ErrOutcomeUnknown, id, err)
		}
	}
	if a, ok := n.fsm.nodeAddr(id); !ok || a != httpAddr {
		res, err := n.propose(encodeNode(nodeCmd{ID: id, HTTP: httpAddr}))
		if err != nil {
			return err
		}
		if res.Err != nil {
			return res.Err
		}
	}
	return nil
}

// remove takes a server out of raft's configuration and forgets its HTTP
// address. This node must be the leader.
func (n *Node) remove(id string) error {
	if n.raft.State() != raft.Leader {
		return ErrNoLeader
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("%w: removing %s: %v", ErrOutcomeUnknown, id, err)
	}
	if _, ok := n.fsm.nodeAddr(id); ok {
		res, err := n.propose(encodeNode(nodeCmd{ID: id, Remove: true}))
		if err != nil {
			return err
		}
		return res.Err
	}
	return nil
}

// Status is what GET /v1/status returns.
type Status struct {
	ID             string            `json:"id"`
	State          string            `json:"state"` // leader, follower, candidate, shutdown
	Leader         LeaderInfo        `json:"leader"`
	AppliedVersion uint64            `json:"applied_version"` // raft index of the last command applied
	StateHash      string            `json:"state_hash"`      // StateHash at applied_version
	Records        int               `json:"records"`
	RaftApplied    uint64            `json:"raft_applied_index"` // includes no-ops and configuration entries
	CommitIndex    uint64            `json:"commit_index"`
	Term           uint64            `json:"term"`
	Nodes          map[string]string `json:"nodes"` // id -> HTTP address, as replicated
	Restores       uint64            `json:"snapshot_restores"`
}

// LeaderInfo names the leader as this node knows it; empty if none.
type LeaderInfo struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
}

// Status returns the node's view of the cluster and its replica's version
// and state hash, read at one version.
func (n *Node) Status() Status {
	snap := n.fsm.rep.Snapshot()
	_, lid := n.raft.LeaderWithID()
	st := Status{
		ID:             n.cfg.ID,
		State:          stateName(n.raft.State()),
		Leader:         LeaderInfo{ID: string(lid)},
		AppliedVersion: snap.Version(),
		StateHash:      StateHash(snap),
		Records:        snap.Len(),
		RaftApplied:    n.raft.AppliedIndex(),
		CommitIndex:    n.raft.CommitIndex(),
		Term:           n.raft.CurrentTerm(),
		Nodes:          n.fsm.nodeTable(),
		Restores:       n.fsm.restores.Load(),
	}
	if lid != "" {
		st.Leader.HTTPAddr, _ = n.leaderHTTP()
	}
	return st
}

func stateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	default:
		return "shutdown"
	}
}
