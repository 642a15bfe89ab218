package db

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/dualdb/dualdb/snapshot"
)

// Limits of Handler. Each bounds what one operator request can cost the
// application.
const (
	// ScanDefaultLimit is the number of records /v1/scan returns when the
	// request gives no limit.
	ScanDefaultLimit = 1000
	// ScanMaxLimit is the largest limit /v1/scan accepts; a larger one is
	// refused with 400. Page through more with from.
	ScanMaxLimit = 10_000
	// AdminMaxRequests is how many requests Handler serves at once, for
	// one DB (its socket and every mount together); more get 429.
	AdminMaxRequests = 8
	// adminWriteTimeout is how long one write of a streamed answer (scan,
	// export, backup) may block on a slow client before the request is
	// cut off, so that a stalled client cannot pin a version forever.
	adminWriteTimeout = 30 * time.Second
	// adminBufferSize is the write buffer of a streamed answer.
	adminBufferSize = 64 << 10
)

// Headers and media types of Handler's answers.
const (
	// HeaderVersion carries the version an answer was read at.
	HeaderVersion = "X-Dualdb-Version"
	// HeaderTruncated is a trailer of /v1/scan: "true" when the limit cut
	// the scan short, "false" when the range was exhausted.
	HeaderTruncated = "X-Dualdb-Truncated"
	// HeaderNext is a trailer of a truncated /v1/scan: the base64 (standard,
	// padded) key, or index key with by=index, to pass as from_b64 to
	// continue.
	HeaderNext = "X-Dualdb-Next-B64"
	// HeaderRecords is a trailer of /v1/export and /v1/scan: the number of
	// records written. Its presence says the stream is complete.
	HeaderRecords = "X-Dualdb-Records"
	// HeaderLen is a header of /v1/scan: the number of records in the
	// version the scan reads, whatever its range and limit.
	HeaderLen = "X-Dualdb-Len"

	mediaJSON   = "application/json"
	mediaNDJSON = "application/x-ndjson"
)

// liveState is what the operator socket and Handler share for one DB.
type liveState struct {
	inFlight atomic.Int32 // requests being served by Handler
	backup   atomic.Bool  // a /v1/backup is running
	srv      *adminServer // the socket's server, nil if none (socket.go)
	absDir   string       // the store's directory, absolute, taken at Open
}

// Handler returns the operator API of d as an http.Handler, the same one d
// serves on its socket (see the package documentation, "Live operations").
// An application may mount it on its own mux, behind its own
// authentication, under a prefix it strips:
//
//	mux.Handle("/debug/dualdb/", http.StripPrefix("/debug/dualdb", d.Handler()))
//
// Routes (GET unless noted; JSON unless noted):
//
//	/v1/status           {"pid","dir","version","store_id","read_only"}
//	/v1/inspect          Info of the live store (as Inspect describes a store on disk)
//	/v1/verify           VerifyReport: invariants of the live version, the snapshot files, the WAL
//	/v1/get?key=K        one record as a JSON line, or 404; also index=, key_b64=, index_b64=
//	/v1/scan?by=key|index&from=&to=&limit=&reverse=  JSON lines, at most ScanMaxLimit
//	                     (the X-Dualdb-Len header: the records of the version read)
//	/v1/export           every record as JSON lines, the format of `dualdb export`
//	/v1/backup           the Backup file (application/octet-stream); one at a time
//	/v1/changes?from=V&follow=1  the change feed after V as JSON lines (AppendChangeJSON):
//	                     up to the version of the request's start, or, with
//	                     follow=1, then every new commit until the client leaves
//	POST /v1/checkpoint  {"version": N}
//
// Every answer read at a version carries it in the X-Dualdb-Version
// header. Errors are JSON, {"error": "..."}: 400 for a bad parameter, 404
// for an unknown route or record, 405 for a wrong method, 409 for a second
// backup or a checkpoint of a read-only store, 429 when AdminMaxRequests
// requests are already being served, 503 after Close. Binary keys travel
// base64-encoded (standard, padded) in the *_b64 parameters and fields.
//
// The handler reads from a Snapshot and never blocks writers; the only
// request that writes is POST /v1/checkpoint. Streamed answers (scan,
// export, backup) use bounded memory, and a client that stops reading for
// 30 seconds is cut off.
func (d *DB) Handler() http.Handler { return adminHandler{d} }

type adminHandler struct{ d *DB }

// adminRoute is one route: its method and the query parameters it takes.
type adminRoute struct {
	method string
	params []string
	serve  func(d *DB, w http.ResponseWriter, r *http.Request)
}

var adminRoutes = map[string]adminRoute{
	"/v1/status":     {http.MethodGet, nil, (*DB).serveStatus},
	"/v1/inspect":    {http.MethodGet, nil, (*DB).serveInspect},
	"/v1/verify":     {http.MethodGet, nil, (*DB).serveVerify},
	"/v1/get":        {http.MethodGet, []string{"key", "key_b64", "index", "index_b64"}, (*DB).serveGet},
	"/v1/scan":       {http.MethodGet, []string{"by", "from", "from_b64", "to", "to_b64", "limit", "reverse"}, (*DB).serveScan},
	"/v1/export":     {http.MethodGet, nil, (*DB).serveExport},
	"/v1/backup":     {http.MethodGet, nil, (*DB).serveBackup},
	"/v1/changes":    {http.MethodGet, []string{"from", "follow"}, (*DB).serveChanges},
	"/v1/checkpoint": {http.MethodPost, nil, (*DB).serveCheckpoint},
}

// ServeHTTP implements http.Handler.
func (h adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := h.d
	rt, ok := adminRoutes[r.URL.Path]
	if !ok {
		hint := ""
		if i := strings.Index(r.URL.Path, "/v1/"); i > 0 {
			if _, known := adminRoutes[r.URL.Path[i:]]; known {
				hint = fmt.Sprintf(" (is the handler mounted without http.StripPrefix(%q, ...)?)", r.URL.Path[:i])
			}
		}
		adminError(w, http.StatusNotFound, "no such route %q%s; routes: /v1/status, /v1/inspect, /v1/verify, /v1/get, /v1/scan, /v1/export, /v1/backup, /v1/changes, /v1/checkpoint", r.URL.Path, hint)
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		adminError(w, http.StatusMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, rt.method, r.Method)
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	for name := range q {
		if !slices.Contains(rt.params, name) {
			if len(rt.params) == 0 {
				adminError(w, http.StatusBadRequest, "unknown parameter %q: %s takes none", name, r.URL.Path)
			} else {
				adminError(w, http.StatusBadRequest, "unknown parameter %q: %s takes %v", name, r.URL.Path, rt.params)
			}
			return
		}
		if len(q[name]) > 1 {
			adminError(w, http.StatusBadRequest, "parameter %q given %d times", name, len(q[name]))
			return
		}
	}
	if d.closed.Load() {
		adminError(w, http.StatusServiceUnavailable, "%v", ErrClosed)
		return
	}
	if n := d.live.inFlight.Add(1); n > AdminMaxRequests {
		d.live.inFlight.Add(-1)
		w.Header().Set("Retry-After", "1")
		adminError(w, http.StatusTooManyRequests, "%d operator requests are being served already (the limit); retry later", AdminMaxRequests)
		return
	}
	defer d.live.inFlight.Add(-1)
	rt.serve(d, w, r)
}

// parseQuery parses the query string strictly: a malformed one is an error,
// not silently dropped parameters.
func parseQuery(r *http.Request) (map[string][]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %v", err)
	}
	return q, nil
}

// adminError writes {"error": msg} with code.
func adminError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // a client gone away loses only its answer
}

func setVersion(w http.ResponseWriter, v uint64) {
	w.Header().Set(HeaderVersion, strconv.FormatUint(v, 10))
}

// Status is the answer of /v1/status: which process serves the store.
type Status struct {
	PID      int    `json:"pid"`
	Dir      string `json:"dir"`
	Version  uint64 `json:"version"`
	StoreID  string `json:"store_id"` // hex
	ReadOnly bool   `json:"read_only"`
}

func (d *DB) serveStatus(w http.ResponseWriter, _ *http.Request) {
	v := d.Version()
	setVersion(w, v)
	writeJSON(w, http.StatusOK, Status{PID: os.Getpid(), Dir: d.live.absDir, Version: v,
		StoreID: hex.EncodeToString(d.storeID[:]), ReadOnly: d.opts.ReadOnly})
}

func (d *DB) serveInspect(w http.ResponseWriter, _ *http.Request) {
	s := d.current()
	info, err := d.liveInfo(s)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "inspect: %v", err)
		return
	}
	setVersion(w, s.version)
	writeJSON(w, http.StatusOK, info)
}

func (d *DB) serveVerify(w http.ResponseWriter, _ *http.Request) {
	s := d.current()
	rep, err := d.liveVerify(s)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "verify: %v", err)
		return
	}
	setVersion(w, s.version)
	writeJSON(w, http.StatusOK, rep)
}

// keyParam returns the bytes of parameter name, given as text or as
// name_b64; ok is false if neither is present.
func keyParam(q map[string][]string, name string) (b []byte, ok bool, err error) {
	t, hasText := q[name]
	e, hasB64 := q[name+"_b64"]
	switch {
	case hasText && hasB64:
		return nil, false, fmt.Errorf("give %s or %s_b64, not both", name, name)
	case hasText:
		return []byte(t[0]), true, nil
	case hasB64:
		b, err := base64.StdEncoding.DecodeString(e[0])
		if err != nil {
			return nil, false, fmt.Errorf("%s_b64 is not base64 (standard alphabet, padded): %v", name, err)
		}
		return b, true, nil
	}
	return nil, false, nil
}

func (d *DB) serveGet(w http.ResponseWriter, r *http.Request) {
	q, _ := parseQuery(r)
	key, byKey, err := keyParam(q, "key")
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	index, byIndex, err := keyParam(q, "index")
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if byKey == byIndex {
		adminError(w, http.StatusBadRequest, "give exactly one of key, key_b64, index, index_b64")
		return
	}
	what, k := "key", key
	if byIndex {
		what, k = "index key", index
	}
	if len(k) > d.opts.MaxKeySize {
		adminError(w, http.StatusBadRequest, "%s of %d bytes is over the store's limit of %d", what, len(k), d.opts.MaxKeySize)
		return
	}
	s := d.current()
	setVersion(w, s.version)
	var rec Record
	var found bool
	if byIndex {
		r, ok := s.view.GetByIndex(index)
		rec, found = Record(r), ok
	} else {
		r, ok := s.view.Get(key)
		rec, found = Record(r), ok
	}
	if !found {
		adminError(w, http.StatusNotFound, "no record with %s %q at version %d", what, k, s.version)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	_, _ = w.Write(append(jsonl.AppendRecord(nil, rec.Key, rec.Index, rec.Value), '\n'))
}

func (d *DB) serveScan(w http.ResponseWriter, r *http.Request) {
	q, _ := parseQuery(r)
	byIndex := false
	if by, ok := q["by"]; ok {
		switch by[0] {
		case "key":
		case "index":
			byIndex = true
		default:
			adminError(w, http.StatusBadRequest, "by=%q: want key or index", by[0])
			return
		}
	}
	from, _, err := keyParam(q, "from")
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	to, _, err := keyParam(q, "to")
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	limit := ScanDefaultLimit
	if l, ok := q["limit"]; ok {
		n, err := strconv.Atoi(l[0])
		switch {
		case err != nil || n <= 0:
			adminError(w, http.StatusBadRequest, "limit=%q: want a whole number from 1 to %d", l[0], ScanMaxLimit)
			return
		case n > ScanMaxLimit:
			adminError(w, http.StatusBadRequest, "limit %d is over the maximum of %d records per request; page on with from_b64 (the %s trailer)", n, ScanMaxLimit, HeaderNext)
			return
		}
		limit = n
	}
	reverse := false
	if rv, ok := q["reverse"]; ok {
		b, err := strconv.ParseBool(rv[0])
		if err != nil {
			adminError(w, http.StatusBadRequest, "reverse=%q: want true or false", rv[0])
			return
		}
		reverse = b
	}
	s := d.Snapshot()
	var seq func(func(Record) bool)
	switch {
	case byIndex && reverse:
		seq = s.DescendIndex(from, to)
	case byIndex:
		seq = s.AscendIndex(from, to)
	case reverse:
		seq = s.Descend(from, to)
	default:
		seq = s.Ascend(from, to)
	}
	setVersion(w, s.version)
	w.Header().Set(HeaderLen, strconv.Itoa(s.Len()))
	w.Header().Set("Trailer", HeaderTruncated+", "+HeaderNext+", "+HeaderRecords)
	st := newStream(w, mediaNDJSON)
	n, truncated := 0, false
	var next []byte
	var line []byte
	for rec := range seq {
		if n == limit {
			truncated = true
			next = rec.Key
			if byIndex {
				next = rec.Index
			}
			break
		}
		line = append(jsonl.AppendRecord(line[:0], rec.Key, rec.Index, rec.Value), '\n')
		if err := st.write(line); err != nil {
			st.abort(d, "scan", err)
		}
		n++
	}
	if err := st.flush(); err != nil {
		st.abort(d, "scan", err)
	}
	w.Header().Set(HeaderTruncated, strconv.FormatBool(truncated))
	if truncated {
		w.Header().Set(HeaderNext, base64.StdEncoding.EncodeToString(next))
	}
	w.Header().Set(HeaderRecords, strconv.Itoa(n))
}

func (d *DB) serveExport(w http.ResponseWriter, r *http.Request) {
	s := d.current()
	setVersion(w, s.version)
	w.Header().Set("Trailer", HeaderRecords)
	st := newStream(w, mediaNDJSON)
	var line []byte
	n := 0
	for rec := range s.view.Ascend(nil, nil) {
		if n%backupCheckEvery == 0 && r.Context().Err() != nil {
			st.abort(d, "export", r.Context().Err())
		}
		line = append(jsonl.AppendRecord(line[:0], rec.Key, rec.Index, rec.Value), '\n')
		if err := st.write(line); err != nil {
			st.abort(d, "export", err)
		}
		n++
	}
	if err := st.flush(); err != nil {
		st.abort(d, "export", err)
	}
	w.Header().Set(HeaderRecords, strconv.Itoa(n))
}

func (d *DB) serveBackup(w http.ResponseWriter, r *http.Request) {
	if !d.live.backup.CompareAndSwap(false, true) {
		adminError(w, http.StatusConflict, "a backup of this store is already being written; one runs at a time, retry when it is done")
		return
	}
	defer d.live.backup.Store(false)
	s := d.current()
	setVersion(w, s.version)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", snapshot.FileName(s.version)))
	st := newStream(w, "application/octet-stream")
	if err := d.backup(r.Context(), st, s); err != nil {
		st.abort(d, "backup", err)
	}
	if err := st.flush(); err != nil {
		st.abort(d, "backup", err)
	}
}

// serveChanges streams the change feed after ?from= (default 0). Without
// follow=1 it ends at the version current when the request began, as
// `dualdb watch` on a stopped store does; with it, it goes on until the
// client leaves. A version the WAL no longer holds is 410 Gone before
// anything is sent; an error once lines are sent cuts the connection, so
// a client never takes a cut feed for a whole one.
func (d *DB) serveChanges(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var from uint64
	if v := q.Get("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, "from: %q is not a version (a whole number)", v)
			return
		}
		from = n
	}
	follow := false
	switch v := q.Get("follow"); v {
	case "", "0", "false":
	case "1", "true":
		follow = true
	default:
		adminError(w, http.StatusBadRequest, "follow: %q is neither 1 nor 0", v)
		return
	}
	last := d.Version()
	setVersion(w, last)
	if !follow && from >= last {
		newStream(w, mediaNDJSON) // nothing after from: an empty answer
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var st *stream
	var line []byte
	for c, err := range d.Changes(ctx, from) {
		if err != nil {
			if st == nil {
				code := http.StatusInternalServerError
				switch {
				case errors.Is(err, ErrCompacted):
					code = http.StatusGone
				case errors.Is(err, ErrClosed):
					code = http.StatusServiceUnavailable
				case r.Context().Err() != nil:
					return // the client left
				}
				adminError(w, code, "changes: %v", err)
				return
			}
			if r.Context().Err() != nil || (!follow && errors.Is(err, context.Canceled)) {
				break
			}
			st.abort(d, "changes", err)
		}
		if st == nil {
			st = newStream(w, mediaNDJSON)
		}
		if !follow && c.Version > last {
			break
		}
		line = AppendChangeJSON(line[:0], c)
		if err := st.write(line); err != nil {
			st.abort(d, "changes", err)
		}
		if follow || c.Version == last {
			// A follower sees each commit as it comes; the last line of a
			// bounded answer goes out at once.
			if err := st.flush(); err != nil {
				st.abort(d, "changes", err)
			}
			if err := st.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				st.abort(d, "changes", err)
			}
		}
		if !follow && c.Version >= last {
			break
		}
	}
	if st == nil {
		return // the client left before the first change
	}
	if err := st.flush(); err != nil {
		st.abort(d, "changes", err)
	}
}

func (d *DB) serveCheckpoint(w http.ResponseWriter, _ *http.Request) {
	v, err := d.Checkpoint()
	switch {
	case errors.Is(err, ErrReadOnly):
		adminError(w, http.StatusConflict, "checkpoint: the store is open read-only in this process")
		return
	case errors.Is(err, ErrClosed):
		adminError(w, http.StatusServiceUnavailable, "checkpoint: %v", err)
		return
	case err != nil:
		adminError(w, http.StatusInternalServerError, "checkpoint: %v", err)
		return
	}
	setVersion(w, v)
	writeJSON(w, http.StatusOK, struct {
		Version uint64 `json:"version"`
	}{v})
}

// stream writes a streamed answer through a buffer, giving every write to
// the client adminWriteTimeout.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf *bufio.Writer
}

func newStream(w http.ResponseWriter, media string) *stream {
	w.Header().Set("Content-Type", media)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	st := &stream{w: w, rc: http.NewResponseController(w)}
	st.buf = bufio.NewWriterSize(deadlineWriter{st}, adminBufferSize)
	return st
}

// deadlineWriter sets the write deadline before each write to the client.
type deadlineWriter struct{ st *stream }

func (dw deadlineWriter) Write(p []byte) (int, error) {
	_ = dw.st.rc.SetWriteDeadline(time.Now().Add(adminWriteTimeout)) // unsupported by some writers: no deadline then
	return dw.st.w.Write(p)
}

func (st *stream) Write(p []byte) (int, error) { return st.buf.Write(p) }
func (st *stream) write(p []byte) error        { _, err := st.buf.Write(p); return err }
func (st *stream) flush() error                { return st.buf.Flush() }

var _ io.Writer = (*stream)(nil)

// abort ends a streamed answer that failed after its header was sent: the
// connection is cut, so that the client sees an error rather than a short
// answer that looks complete.
func (st *stream) abort(d *DB, what string, err error) {
	d.logger.Debug("dualdb: operator request stopped", "request", what, "err", err)
	panic(http.ErrAbortHandler)
}

// liveInfo describes the open store: the version and records of s, the
// WAL's extent, the kept snapshot files (each read in full), the files of
// the directory and, as Inspect does, those dualdb did not write.
func (d *DB) liveInfo(s *state) (*Info, error) {
	m, err := d.liveMeta()
	if err != nil {
		return nil, err
	}
	info := &Info{
		Dir: d.dir, StoreID: hex.EncodeToString(d.storeID[:]), Format: m.Format,
		MaxKeySize: m.MaxKeySize, MaxValueSize: m.MaxValueSize,
		Version: s.version, Records: s.view.Len(),
	}
	st := d.Stats()
	info.WAL = WALInfo{File: d.walPath(), First: st.WALFirst, Last: st.WALLast, Records: int(st.WALRecords)}
	if fi, err := os.Stat(d.walPath()); err == nil {
		info.WAL.Bytes = fi.Size()
	}
	for _, ver := range m.Snapshots {
		sn, err := d.snapshotInfo(ver)
		if isNotExist(err) && !d.stillListed(ver) {
			continue // a checkpoint replaced it meanwhile
		}
		info.Snapshots = append(info.Snapshots, sn)
	}
	sv, err := surveyDir(d.opts.FS, d.dir)
	if err != nil {
		return nil, err
	}
	info.Strangers = strangers(m, sv)
	err = filepath.WalkDir(d.dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // a temp file renamed or removed meanwhile
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if isNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.dir, path)
		info.Files = append(info.Files, FileInfo{Name: rel, Bytes: fi.Size()})
		return nil
	})
	sort.Slice(info.Files, func(i, j int) bool { return info.Files[i].Name < info.Files[j].Name })
	return info, err
}

// liveMeta returns the store's meta data: read from wal.db by a writer (a
// short bbolt read transaction), from memory by a read-only DB, which has
// released wal.db and takes no checkpoints.
func (d *DB) liveMeta() (storeMeta, error) {
	if !d.opts.ReadOnly {
		m, _, err := d.readMeta()
		return m, err
	}
	d.ckpt.mu.Lock()
	snaps := append([]uint64(nil), d.ckpt.snapshots...)
	unlisted := append([]uint64(nil), d.ckpt.unlisted...)
	d.ckpt.mu.Unlock()
	return storeMeta{Format: storeFormat, StoreID: d.storeID, MaxKeySize: d.opts.MaxKeySize,
		MaxValueSize: d.opts.MaxValueSize, Snapshots: snaps, Unlisted: unlisted}, nil
}

// stillListed reports whether meta still lists the snapshot of version v.
func (d *DB) stillListed(v uint64) bool {
	m, err := d.liveMeta()
	return err != nil || slices.Contains(m.Snapshots, v)
}

// liveVerify checks the open store without a lock and without copying it:
// the invariants of version s in memory (Snapshot.Check), every kept
// snapshot file in full (header, store id, version, checksums, order,
// count; not the uniqueness of its index keys, which would need the file's
// records in memory), and, for a writer, every WAL record (CRC, contiguous
// versions, reaching back to the oldest kept snapshot).
func (d *DB) liveVerify(s *state) (*VerifyReport, error) {
	v := newVerifier(d.dir, nil)
	v.rep.Loaded, v.rep.Version, v.rep.Records = true, s.version, s.view.Len()
	for _, f := range s.view.Check(v.opts.MaxFindings) {
		v.add(Finding{File: d.dir, Offset: -1, Version: s.version, Check: "invariant", Reason: f})
	}
	m, err := d.liveMeta()
	if err != nil {
		return nil, err
	}
	for _, ver := range m.Snapshots {
		path := filepath.Join(d.snapPath(), snapshot.FileName(ver))
		err := d.checkSnapshotFile(path, ver)
		if isNotExist(err) && !d.stillListed(ver) {
			continue // a checkpoint replaced it meanwhile
		}
		v.rep.Snapshots++
		switch {
		case isNotExist(err):
			v.add(Finding{File: path, Offset: -1, Version: ver, Check: "snapshot-missing", Reason: "listed in wal.db meta but the file does not exist"})
		case err != nil:
			check := "snapshot"
			var sd *snapDefect
			if errors.As(err, &sd) {
				check = sd.check
			}
			v.addErr(check, path, err)
		}
	}
	if !d.opts.ReadOnly {
		d.verifyLiveWAL(v, m)
	}
	return v.rep, nil
}

// checkSnapshotFile checks one snapshot file in full without keeping its
// records: its header must carry this store's id and the version its name
// gives.
func (d *DB) checkSnapshotFile(path string, version uint64) error {
	h, err := snapshot.ReadHeader(path, d.snapOptions())
	if err != nil {
		return err
	}
	switch {
	case h.StoreID != d.storeID:
		return &snapDefect{"snapshot-store-id", &CorruptionError{File: path, Offset: 0, Version: version,
			Reason: fmt.Sprintf("store id %x is not this store's %x (a file from another store)", h.StoreID, d.storeID)}}
	case h.Version != version:
		return &CorruptionError{File: path, Offset: 0, Version: version,
			Reason: fmt.Sprintf("header says version %d, file name and meta say %d", h.Version, version)}
	}
	_, err = snapshot.Verify(path, d.snapOptions())
	return err
}

// verifyLiveWAL checks the WAL of a writer. A checkpoint may truncate it
// between reading meta, its bounds and its records; findings that such a
// race can cause are believed only when meta and the bounds did not move
// meanwhile.
func (d *DB) verifyLiveWAL(v *verifier, m storeMeta) {
	for attempt := 0; ; attempt++ {
		first, last, _, err := d.log.Bounds()
		if err != nil {
			v.addErr("wal", d.walPath(), err)
			return
		}
		try := newVerifier(d.dir, &v.opts)
		try.checkWAL(d, m, first, last)
		if len(try.rep.Findings) > 0 && attempt < 3 {
			m2, err := d.liveMeta()
			f2, _, _, err2 := d.log.Bounds()
			if err == nil && err2 == nil && (f2 != first || !slices.Equal(m2.Snapshots, m.Snapshots)) {
				m = m2
				continue
			}
		}
		v.rep.WALRecords = try.rep.WALRecords
		for _, f := range try.rep.Findings {
			v.add(f)
		}
		return
	}
}
