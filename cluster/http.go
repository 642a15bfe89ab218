package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// ForwardedHeader marks a request a node forwarded to the leader; a node
// that is not the leader answers it with 503 instead of forwarding again.
const ForwardedHeader = "X-Dualdb-Forwarded"

// StatusOutcomeUnknown is the HTTP status of a write whose outcome is
// unknown: it was sent to the log, and leadership (or the connection to
// the leader) was lost before its result was known. It may or may not be
// applied; the API never retries it by itself.
const StatusOutcomeUnknown = http.StatusInternalServerError

const (
	maxBodySize  = 64 << 20
	maxTxnOps    = 10_000
	defaultLimit = 1000
	maxLimit     = 100_000
)

// Handler returns the node's HTTP API (v1, JSON), with /readyz and
// /metrics.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.HandlerFunc) {
		mux.Handle(pattern, n.m.instrument(route, h))
	}
	handle("PUT /v1/kv/{key...}", "put", n.handlePut)
	handle("DELETE /v1/kv/{key...}", "delete", n.handleDelete)
	handle("GET /v1/kv/{key...}", "get", n.handleGet)
	handle("GET /v1/index/{index...}", "get_index", n.handleGet)
	handle("POST /v1/txn", "txn", n.handleTxn)
	handle("GET /v1/scan", "scan", n.handleScan)
	handle("GET /v1/status", "status", n.handleStatus)
	handle("POST /v1/join", "join", n.handleJoin)
	handle("DELETE /v1/nodes/{id}", "remove", n.handleRemove)
	handle("GET /readyz", "readyz", n.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string, extra ...any) {
	body := map[string]any{"error": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

// putBytes sets name (UTF-8 text) or name_b64 (base64) in m, as dualdb
// export writes fields.
func putBytes(m map[string]any, name string, b []byte) {
	if utf8.Valid(b) {
		m[name] = string(b)
	} else {
		m[name+"_b64"] = base64.StdEncoding.EncodeToString(b)
	}
}

// recordJSON is the answer for one record read at the store version
// version: "version" is that version, "record_version" the commit that last
// wrote the record (its raft index).
func recordJSON(r db.Record, version uint64) map[string]any {
	m := map[string]any{"version": version, "record_version": r.Version}
	putBytes(m, "key", r.Key)
	putBytes(m, "index", r.Index)
	putBytes(m, "value", r.Value)
	return m
}

// textOrB64 returns the bytes of a field given as text or as *_b64.
func textOrB64(name string, text, b64 *string) ([]byte, error) {
	switch {
	case text != nil && b64 != nil:
		return nil, fmt.Errorf("both %q and %q given", name, name+"_b64")
	case b64 != nil:
		b, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%s_b64: %v", name, err)
		}
		return b, nil
	case text != nil:
		return []byte(*text), nil
	}
	return nil, nil
}

// pathBytes returns path segment name, base64-decoded with ?encoding=base64.
func pathBytes(r *http.Request, name string) ([]byte, error) {
	v := r.PathValue(name)
	if r.URL.Query().Get("encoding") == "base64" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s in path: %v", name, err)
		}
		return b, nil
	}
	return []byte(v), nil
}

// readBody reads a request body of at most maxBodySize bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodySize))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return nil, false
	}
	return b, true
}

type opJSON struct {
	Op       string  `json:"op"` // put, delete
	Key      *string `json:"key"`
	KeyB64   *string `json:"key_b64"`
	Index    *string `json:"index"`
	IndexB64 *string `json:"index_b64"`
	Value    *string `json:"value"`
	ValueB64 *string `json:"value_b64"`
}

func (o opJSON) fields() (index, value []byte, err error) {
	if index, err = textOrB64("index", o.Index, o.IndexB64); err != nil {
		return nil, nil, err
	}
	value, err = textOrB64("value", o.Value, o.ValueB64)
	return index, value, err
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("request body: %v", err)
	}
	return nil
}

func (n *Node) handlePut(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if n.forwardWrite(w, r, body) {
		return
	}
	key, err := pathBytes(r, "key")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var o opJSON
	if err := decodeJSON(body, &o); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if o.Op != "" || o.Key != nil || o.KeyB64 != nil {
		writeError(w, http.StatusBadRequest, `request body: only "index" and "value" belong here; the key is in the path`)
		return
	}
	index, value, err := o.fields()
	if err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return
	}
	n.write(w, []wal.Op{{Kind: wal.OpPut, Key: key, Index: index, Value: value}})
}

func (n *Node) handleDelete(w http.ResponseWriter, r *http.Request) {
	if n.forwardWrite(w, r, nil) {
		return
	}
	key, err := pathBytes(r, "key")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n.write(w, []wal.Op{{Kind: wal.OpDelete, Key: key}})
}

// handleTxn applies a list of puts and deletes atomically: in order, all
// or none. An op that fails (an index key owned by a record outside the
// transaction, a delete of a missing key) refuses the whole transaction.
// Consecutive puts apply as one Tx.PutAll: index keys the run's own
// records give up are free for it, so swapping two index keys is one
// transaction of two puts.
func (n *Node) handleTxn(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if n.forwardWrite(w, r, body) {
		return
	}
	var req struct {
		Ops []opJSON `json:"ops"`
	}
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Ops) == 0 || len(req.Ops) > maxTxnOps {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a transaction needs 1 to %d ops, got %d", maxTxnOps, len(req.Ops)))
		return
	}
	ops := make([]wal.Op, 0, len(req.Ops))
	for i, o := range req.Ops {
		key, err := textOrB64("key", o.Key, o.KeyB64)
		if err == nil && len(key) == 0 {
			err = errors.New("no key")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("op %d: %v", i, err), "op", i)
			return
		}
		switch o.Op {
		case "put":
			index, value, err := o.fields()
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("op %d: %v", i, err), "op", i)
				return
			}
			// Consecutive puts apply as one PutAll, which refuses a key
			// named twice: say so before the transaction reaches the log.
			for j := len(ops) - 1; j >= 0 && ops[j].Kind == wal.OpPut; j-- {
				if bytes.Equal(ops[j].Key, key) {
					writeError(w, http.StatusBadRequest, fmt.Sprintf("op %d: key %q is put twice in one run of puts (ops %d and %d), which apply as one PutAll", i, key, j, i), "op", i)
					return
				}
			}
			ops = append(ops, wal.Op{Kind: wal.OpPut, Key: key, Index: index, Value: value})
		case "delete":
			if o.Index != nil || o.IndexB64 != nil || o.Value != nil || o.ValueB64 != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("op %d: a delete takes only a key", i), "op", i)
				return
			}
			ops = append(ops, wal.Op{Kind: wal.OpDelete, Key: key})
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("op %d: unknown op %q (want put or delete)", i, o.Op), "op", i)
			return
		}
	}
	n.write(w, ops)
}

// write applies ops on this node, the leader, and writes the response.
func (n *Node) write(w http.ResponseWriter, ops []wal.Op) {
	for i, op := range ops {
		if err := n.checkOp(op); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "op", i)
			return
		}
	}
	version, err := n.Write(ops)
	res := map[string]any{}
	var ce *db.ConflictError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"version": version})
	case errors.As(err, &ce):
		res["error"] = "conflict"
		putBytes(res, "owner", ce.Owner)
		putBytes(res, "index", ce.Index)
		putBytes(res, "key", ce.Key)
		res["version"] = version
		writeJSON(w, http.StatusConflict, res)
	case errors.Is(err, db.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found", "version", version)
	case errors.Is(err, ErrNoLeader):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrOutcomeUnknown):
		writeError(w, StatusOutcomeUnknown, "outcome unknown", "detail", err.Error())
	case errors.Is(err, db.ErrTooLarge), errors.Is(err, db.ErrEmptyKey), errors.Is(err, db.ErrDuplicateKey):
		writeError(w, http.StatusBadRequest, err.Error(), "version", version)
	default:
		writeError(w, http.StatusInternalServerError, err.Error(), "version", version)
	}
}

// checkOp refuses, before it reaches the log, what the replica would
// refuse for its size.
func (n *Node) checkOp(op wal.Op) error {
	maxKey, maxVal := n.cfg.MaxKeySize, n.cfg.MaxValueSize
	if maxKey <= 0 {
		maxKey = db.DefaultMaxKeySize
	}
	if maxVal <= 0 {
		maxVal = db.DefaultMaxValueSize
	}
	switch {
	case len(op.Key) == 0:
		return db.ErrEmptyKey
	case len(op.Key) > maxKey || len(op.Index) > maxKey:
		return fmt.Errorf("%w: key or index key over %d bytes", db.ErrTooLarge, maxKey)
	case len(op.Value) > maxVal:
		return fmt.Errorf("%w: value over %d bytes", db.ErrTooLarge, maxVal)
	}
	return nil
}

// readView returns a snapshot to read as the request's consistency asks:
// "linearizable" (default) on the leader after ReadBarrier, forwarding from
// a follower; "stale" from this node's replica. ok false: the response is
// written.
func (n *Node) readView(w http.ResponseWriter, r *http.Request) (*db.Snapshot, bool) {
	switch c := r.URL.Query().Get("consistency"); c {
	case "stale":
		return n.fsm.rep.Snapshot(), true
	case "", "linearizable":
		if n.forwardRead(w, r) {
			return nil, false
		}
		ctx, cancel := context.WithTimeout(r.Context(), n.cfg.ApplyTimeout)
		defer cancel()
		if err := n.ReadBarrier(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, "linearizable read: "+err.Error())
			return nil, false
		}
		return n.fsm.rep.Snapshot(), true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown consistency %q (want linearizable or stale)", c))
		return nil, false
	}
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	byIndex := strings.HasPrefix(r.URL.Path, "/v1/index/")
	name := "key"
	if byIndex {
		name = "index"
	}
	k, err := pathBytes(r, name)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snap, ok := n.readView(w, r)
	if !ok {
		return
	}
	var rec db.Record
	if byIndex {
		rec, err = snap.GetByIndex(k)
	} else {
		rec, err = snap.Get(k)
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "not found", "version", snap.Version())
		return
	}
	writeJSON(w, http.StatusOK, recordJSON(rec, snap.Version()))
}

func (n *Node) handleScan(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = "key"
	}
	if by != "key" && by != "index" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown by=%q (want key or index)", by))
		return
	}
	bound := func(name string) ([]byte, error) {
		var text, b64 *string
		if q.Has(name) {
			v := q.Get(name)
			text = &v
		}
		if q.Has(name + "_b64") {
			v := q.Get(name + "_b64")
			b64 = &v
		}
		b, err := textOrB64(name, text, b64)
		if b != nil && len(b) == 0 {
			b = nil // an empty bound is an open end
		}
		return b, err
	}
	from, err := bound("from")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	to, err := bound("to")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit=%q: want 1 to %d", s, maxLimit))
			return
		}
	}
	snap, ok := n.readView(w, r)
	if !ok {
		return
	}
	seq := snap.Ascend(from, to)
	if by == "index" {
		seq = snap.AscendIndex(from, to)
	}
	recs := []map[string]any{}
	more := false
	for rec := range seq {
		if len(recs) == limit {
			more = true
			break
		}
		m := map[string]any{}
		putBytes(m, "key", rec.Key)
		putBytes(m, "index", rec.Index)
		putBytes(m, "value", rec.Value)
		recs = append(recs, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": snap.Version(), "records": recs, "more": more})
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, n.Status())
}

// JoinRequest is the body of POST /v1/join.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req JoinRequest
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.ID == "" {
		writeError(w, http.StatusBadRequest, "join: no id")
		return
	}
	for _, a := range []struct{ name, v string }{{"raft_addr", req.RaftAddr}, {"http_addr", req.HTTPAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("join: %s %q: %v", a.name, a.v, err))
			return
		}
	}
	if n.forwardWrite(w, r, body) {
		return
	}
	n.adminResult(w, n.join(req.ID, req.RaftAddr, req.HTTPAddr))
}

func (n *Node) handleRemove(w http.ResponseWriter, r *http.Request) {
	if n.forwardWrite(w, r, nil) {
		return
	}
	n.adminResult(w, n.remove(r.PathValue("id")))
}

func (n *Node) adminResult(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case errors.Is(err, ErrNoLeader):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrOutcomeUnknown):
		writeError(w, StatusOutcomeUnknown, "outcome unknown", "detail", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// handleReady answers 200 when the node is a voter of a cluster with a
// known leader, 503 otherwise.
func (n *Node) handleReady(w http.ResponseWriter, r *http.Request) {
	st := n.raft.State()
	_, lid := n.raft.LeaderWithID()
	switch {
	case lid == "":
		writeError(w, http.StatusServiceUnavailable, "no leader")
	case st != raft.Leader && st != raft.Follower:
		writeError(w, http.StatusServiceUnavailable, "state "+stateName(st))
	case !n.inConfiguration():
		writeError(w, http.StatusServiceUnavailable, "not a member of the cluster yet")
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "leader": string(lid)})
	}
}

// forwardWrite sends a write to the leader when this node is not it, and
// writes the leader's response. It returns false when this node should
// handle the request itself.
func (n *Node) forwardWrite(w http.ResponseWriter, r *http.Request, body []byte) bool {
	return n.forward(w, r, body, true)
}

func (n *Node) forwardRead(w http.ResponseWriter, r *http.Request) bool {
	return n.forward(w, r, nil, false)
}

func (n *Node) forward(w http.ResponseWriter, r *http.Request, body []byte, write bool) bool {
	if n.raft.State() == raft.Leader {
		return false
	}
	if r.Header.Get(ForwardedHeader) != "" {
		writeError(w, http.StatusServiceUnavailable, "no leader: forwarded to a node that is not the leader")
		return true
	}
	addr, ok := n.leaderHTTP()
	if !ok || addr == n.cfg.HTTPAddr {
		writeError(w, http.StatusServiceUnavailable, "no leader")
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.ApplyTimeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "forwarding: "+err.Error())
		return true
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ForwardedHeader, n.cfg.ID)
	n.m.forwarded.Inc()
	resp, err := n.client.Do(req)
	if err != nil {
		if !write || isDialError(err) {
			// Nothing reached the leader, or a read: safe to retry.
			writeError(w, http.StatusServiceUnavailable, "no leader: forwarding to "+addr+": "+err.Error())
		} else {
			writeError(w, StatusOutcomeUnknown, "outcome unknown", "detail", "forwarding to the leader at "+addr+": "+err.Error())
		}
		return true
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1<<20))
	if err != nil {
		if write {
			writeError(w, StatusOutcomeUnknown, "outcome unknown", "detail", "reading the leader's answer: "+err.Error())
		} else {
			writeError(w, http.StatusServiceUnavailable, "no leader: reading the leader's answer: "+err.Error())
		}
		return true
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(b)
	return true
}

// isDialError reports whether err happened while connecting, before any
// byte of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// postJoin asks the node at httpAddr to add this node to its cluster.
func (n *Node) postJoin(httpAddr, raftAddr string) error {
	b, _ := json.Marshal(JoinRequest{ID: n.cfg.ID, RaftAddr: raftAddr, HTTPAddr: n.cfg.HTTPAddr})
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/v1/join", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("join via %s: %s: %s", httpAddr, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
