package cluster

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
	"github.com/dualdb/dualdb/wal"
)

// Kinds of commands in raft's log: the first byte of an entry's data.
// Part of the log format: never change.
const (
	cmdOps  byte = 'o' // a wal record (wal.AppendRecord at version 0): ops applied atomically
	cmdNode byte = 'n' // JSON nodeCmd: set or remove a node's HTTP address
)

// nodeCmd records where a node serves HTTP, so that every node can find
// the leader's API to forward to.
type nodeCmd struct {
	ID     string `json:"id"`
	HTTP   string `json:"http,omitempty"`
	Remove bool   `json:"remove,omitempty"`
}

// encodeOps encodes ops as one command. The wal record's CRC32C covers
// the entry: raft's log store does not checksum what it stores.
func encodeOps(ops []wal.Op) []byte {
	return wal.AppendRecord([]byte{cmdOps}, 0, ops)
}

func encodeNode(c nodeCmd) []byte {
	b, _ := json.Marshal(c) // a struct of strings and a bool always marshals
	return append([]byte{cmdNode}, b...)
}

// applyResult is what the FSM returns for a command, to the node that
// proposed it (ApplyFuture.Response).
type applyResult struct {
	Version uint64 // the raft index the command was applied at
	Err     error  // nil, or why the command changed nothing (the same on every node)
	OpIndex int    // with Err: the op that failed
}

// fsm is raft's state machine: a db.Replica whose version is the raft
// index of the last command applied, and the replicated table of nodes'
// HTTP addresses.
type fsm struct {
	rep     *db.Replica
	dir     string             // where a snapshot being restored is staged
	metrics *metrics.Collector // may be nil

	// mu guards nodes.
	mu    sync.Mutex
	nodes map[string]string // node id -> HTTP address

	restores atomic.Uint64 // snapshots restored since start

	// appliedMu guards appliedCh, closed and replaced after every Apply
	// and Restore so that readers can wait for the next one.
	appliedMu sync.Mutex
	appliedCh chan struct{}
}

func newFSM(dir string, m *metrics.Collector, opts *db.Options) *fsm {
	return &fsm{rep: db.NewReplica(opts), dir: dir, metrics: m, nodes: map[string]string{}, appliedCh: make(chan struct{})}
}

// changed wakes everyone waiting for the replica to move.
func (f *fsm) changed() {
	f.appliedMu.Lock()
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.appliedMu.Unlock()
}

// waitCh returns a channel closed at the next change of the replica.
func (f *fsm) waitCh() <-chan struct{} {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.appliedCh
}

// Apply implements raft.FSM. It runs on raft's FSM goroutine, one entry at
// a time, in log order, on every node.
func (f *fsm) Apply(l *raft.Log) any {
	defer f.changed()
	if len(l.Data) == 0 {
		return &applyResult{Version: l.Index, Err: fmt.Errorf("empty command at index %d", l.Index)}
	}
	start := time.Now()
	switch l.Data[0] {
	case cmdOps:
		ops, err := wal.DecodeRecord(0, l.Data[1:])
		if err != nil {
			// Every node decodes the same bytes and refuses them alike.
			_ = f.rep.Apply(l.Index, func(*db.Tx) error { return nil })
			return &applyResult{Version: l.Index, Err: fmt.Errorf("undecodable command at index %d: %v", l.Index, err)}
		}
		res := &applyResult{Version: l.Index}
		// Ops apply in order, all or nothing. A run of consecutive puts is
		// one Tx.PutAll, so that a batch may hand index keys between its
		// own records in any order (a swap of two index keys is two puts).
		err = f.rep.Apply(l.Index, func(tx *db.Tx) error {
			for i := 0; i < len(ops); {
				var err error
				n := 1
				switch ops[i].Kind {
				case wal.OpPut:
					for i+n < len(ops) && ops[i+n].Kind == wal.OpPut {
						n++
					}
					recs := make([]db.Record, n)
					for j, op := range ops[i : i+n] {
						recs[j] = db.Record{Key: op.Key, Index: op.Index, Value: op.Value}
					}
					err = tx.PutAll(recs...)
				case wal.OpDelete:
					err = tx.Delete(ops[i].Key)
				default:
					err = fmt.Errorf("unknown op kind %d", ops[i].Kind)
				}
				if err != nil {
					res.OpIndex = refusedOp(ops, i, n, err)
					return err
				}
				i += n
			}
			return nil
		})
		res.Err = err
		if f.metrics != nil && err == nil {
			f.metrics.Commit(db.CommitEvent{Version: l.Index, Ops: len(ops), Latency: time.Since(start), Err: err})
		}
		return res
	case cmdNode:
		var c nodeCmd
		err := json.Unmarshal(l.Data[1:], &c)
		if err == nil && c.ID == "" {
			err = errors.New("node command without an id")
		}
		if err == nil {
			f.mu.Lock()
			if c.Remove {
				delete(f.nodes, c.ID)
			} else {
				f.nodes[c.ID] = c.HTTP
			}
			f.mu.Unlock()
		}
		if aerr := f.rep.Apply(l.Index, func(*db.Tx) error { return nil }); aerr != nil && err == nil {
			err = aerr
		}
		return &applyResult{Version: l.Index, Err: err}
	default:
		_ = f.rep.Apply(l.Index, func(*db.Tx) error { return nil })
		return &applyResult{Version: l.Index, Err: fmt.Errorf("unknown command kind %q at index %d", l.Data[0], l.Index)}
	}
}

// nodeAddr returns the HTTP address recorded for node id.
func (f *fsm) nodeAddr(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.nodes[id]
	return a, ok
}

func (f *fsm) nodeTable() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.nodes)
}

// Snapshot implements raft.FSM: an O(1) capture of the replica and a copy
// of the node table; Persist streams them while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{rep: f.rep, snap: f.rep.Snapshot(), nodes: f.nodeTable()}, nil
}

// Raft snapshot stream: raftSnapMagic, a big-endian u32 length, that many
// bytes of JSON snapMeta, then a dualdb snapshot file (package snapshot)
// holding the records. Part of the snapshot format: never change.
const (
	raftSnapMagic   = "DDBRAFT1"
	maxSnapMetaSize = 16 << 20
	// restoreFile is the name, in the data directory, under which Restore
	// stages the records of a snapshot. Only Restore creates it.
	restoreFile = "restore.dsnap.tmp"
)

type snapMeta struct {
	Version uint64            `json:"version"`
	Nodes   map[string]string `json:"nodes"`
}

type fsmSnapshot struct {
	rep   *db.Replica
	snap  *db.Snapshot
	nodes map[string]string
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel() // the write error is the one to report
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	meta, err := json.Marshal(snapMeta{Version: s.snap.Version(), Nodes: s.nodes})
	if err != nil {
		return err
	}
	// A bufio.Writer keeps its first error: WriteSnapshot or Flush
	// reports a failure of the writes before them.
	bw := bufio.NewWriter(w)
	bw.WriteString(raftSnapMagic)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(meta)))
	bw.Write(n[:])
	bw.Write(meta)
	if err := s.rep.WriteSnapshot(bw, s.snap, [16]byte{}); err != nil {
		return err
	}
	return bw.Flush()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it replaces the state with a snapshot
// stream. The records are staged in a file of the data directory and read
// back with every check of the snapshot format; a damaged stream is an
// error and leaves the state as it was.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReader(rc)
	head := make([]byte, len(raftSnapMagic)+4)
	if _, err := io.ReadFull(br, head); err != nil {
		return fmt.Errorf("cluster: restore: reading snapshot header: %w", err)
	}
	if string(head[:len(raftSnapMagic)]) != raftSnapMagic {
		return fmt.Errorf("cluster: restore: not a dualdb raft snapshot (magic %q)", head[:len(raftSnapMagic)])
	}
	n := binary.BigEndian.Uint32(head[len(raftSnapMagic):])
	if n > maxSnapMetaSize {
		return fmt.Errorf("cluster: restore: snapshot meta data of %d bytes exceeds %d", n, maxSnapMetaSize)
	}
	mb := make([]byte, n)
	if _, err := io.ReadFull(br, mb); err != nil {
		return fmt.Errorf("cluster: restore: reading snapshot meta data: %w", err)
	}
	var meta snapMeta
	if err := json.Unmarshal(mb, &meta); err != nil {
		return fmt.Errorf("cluster: restore: snapshot meta data: %w", err)
	}
	path := filepath.Join(f.dir, restoreFile)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	tmp, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	defer os.Remove(path) // staged copy: ours, never needed again
	_, err = io.Copy(tmp, br)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cluster: restore: staging %s: %w", path, err)
	}
	h, err := f.rep.RestoreSnapshot(path)
	if err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	if h.Version != meta.Version {
		return fmt.Errorf("cluster: restore: snapshot records are at version %d, its meta data says %d", h.Version, meta.Version)
	}
	if meta.Nodes == nil {
		meta.Nodes = map[string]string{}
	}
	f.mu.Lock()
	f.nodes = meta.Nodes
	f.mu.Unlock()
	f.restores.Add(1)
	f.changed()
	return nil
}

// StateHash returns a SHA-256 digest, in hex, of s: its version, every
// record in key order and every (index key, key) pair in index order. Two
// stores with equal hashes hold the same records, indexed the same way,
// at the same version.
func StateHash(s *db.Snapshot) string {
	h := sha256.New()
	var b []byte
	b = binary.BigEndian.AppendUint64(b, s.Version())
	b = binary.BigEndian.AppendUint64(b, uint64(s.Len()))
	field := func(p []byte) {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	flush := func() {
		if len(b) > 32<<10 {
			h.Write(b)
			b = b[:0]
		}
	}
	b = append(b, 'K')
	for r := range s.Ascend(nil, nil) {
		field(r.Key)
		field(r.Index)
		field(r.Value)
		flush()
	}
	b = append(b, 'I')
	for r := range s.AscendIndex(nil, nil) {
		field(r.Index)
		field(r.Key)
		flush()
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// refusedOp names the op of ops[i:i+n] that err refused: the record a
// *db.ConflictError names, else the first op of the run.
func refusedOp(ops []wal.Op, i, n int, err error) int {
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		for j := i; j < i+n; j++ {
			if bytes.Equal(ops[j].Key, ce.Key) {
				return j
			}
		}
	}
	return i
}
