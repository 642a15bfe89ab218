package db_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
)

// adminClient sends requests to a DB's operator API, mounted on a mux
// under a prefix (as an application would) or over its socket.
type adminClient struct {
	base string // URL up to /v1
	c    *http.Client
}

// mountedClient serves d.Handler() under /debug/dualdb/ of an httptest
// server.
func mountedClient(t testing.TB, d *db.DB) *adminClient {
	mux := http.NewServeMux()
	mux.Handle("/debug/dualdb/", http.StripPrefix("/debug/dualdb", d.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &adminClient{base: srv.URL + "/debug/dualdb", c: srv.Client()}
}

// socketClient talks HTTP over the Unix socket at path.
func socketClient(path string) *adminClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", path)
	}}
	return &adminClient{base: "http://dualdb", c: &http.Client{Transport: tr}}
}

// answer is one response, read in full.
type answer struct {
	code    int
	header  http.Header
	trailer http.Header
	body    []byte
	err     error // transport error, or a body cut short
}

func (a *adminClient) do(method, path string) answer {
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		return answer{err: err}
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: body, err: err}
}

func (a *adminClient) get(path string) answer { return a.do(http.MethodGet, path) }

// version returns the X-Dualdb-Version of a, failing t if it has none.
func (a answer) version(t testing.TB) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(a.header.Get(db.HeaderVersion), 10, 64)
	if err != nil {
		t.Fatalf("answer without a valid %s header: %v (header %v)", db.HeaderVersion, err, a.header)
	}
	return v
}

// want fails t unless a has status code; for errors it also checks that
// the body is a JSON error containing msg.
func (a answer) want(t testing.TB, what string, code int, msg string) {
	t.Helper()
	if a.err != nil {
		t.Fatalf("%s: %v", what, a.err)
	}
	if a.code != code {
		t.Fatalf("%s: status %d, want %d; body %q", what, a.code, code, a.body[:min(len(a.body), 300)])
	}
	if code >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" {
			t.Fatalf("%s: error body %q is not {\"error\": ...}", what, a.body)
		}
		if !strings.Contains(e.Error, msg) {
			t.Fatalf("%s: error %q does not say %q", what, e.Error, msg)
		}
	}
}

// exportLines is what `dualdb export` writes for s: one JSON line per
// record, in key order.
func exportLines(s *db.Snapshot) []byte {
	var b []byte
	for r := range s.Ascend(nil, nil) {
		b = append(jsonl.AppendRecord(b, r.Key, r.Index, r.Value), '\n')
	}
	return b
}

// fillUsers puts n records user:NNNN / mail:NNNN, and one with binary
// key, index and value.
func fillUsers(t testing.TB, d *db.DB, n int) {
	t.Helper()
	err := d.Update(func(tx *db.Tx) error {
		for i := range n {
			if err := tx.Put(fmt.Appendf(nil, "user:%04d", i), fmt.Appendf(nil, "mail:%04d", n-i), fmt.Appendf(nil, `{"id":%d}`, i)); err != nil {
				return err
			}
		}
		return tx.Put([]byte{0xff, 0x00, 'k'}, []byte{0xfe, 'i'}, []byte{0x80, 0x81})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandler_Routes(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	fillUsers(t, d, 50)
	c := mountedClient(t, d)
	v := d.Version()

	// status
	a := c.get("/v1/status")
	a.want(t, "status", http.StatusOK, "")
	var st db.Status
	if err := json.Unmarshal(a.body, &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.Version != v || st.ReadOnly || len(st.StoreID) != 32 || !strings.HasSuffix(st.Dir, "store") {
		t.Fatalf("status = %+v, want pid %d, version %d, a 32-digit store id, the store's dir", st, os.Getpid(), v)
	}

	// get by key, index, and their base64 forms; 404
	for _, q := range []string{"key=user:0007", "index=mail:0043", "key_b64=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("user:0007")))} {
		a := c.get("/v1/get?" + q)
		a.want(t, "get "+q, http.StatusOK, "")
		if want := `{"key":"user:0007","index":"mail:0043","value":"{\"id\":7}"}` + "\n"; string(a.body) != want {
			t.Fatalf("get %s = %s, want %s", q, a.body, want)
		}
		if a.version(t) != v {
			t.Fatalf("get %s at version %d, want %d", q, a.version(t), v)
		}
	}
	a = c.get("/v1/get?index_b64=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte{0xfe, 'i'})))
	a.want(t, "get binary", http.StatusOK, "")
	if want := `{"key_b64":"/wBr","index_b64":"/mk=","value_b64":"gIE="}` + "\n"; string(a.body) != want {
		t.Fatalf("get binary = %s, want %s", a.body, want)
	}
	c.get("/v1/get?key=nobody").want(t, "get missing", http.StatusNotFound, `no record with key "nobody"`)

	// export equals what dualdb export writes
	a = c.get("/v1/export")
	a.want(t, "export", http.StatusOK, "")
	if want := exportLines(d.Snapshot()); !bytes.Equal(a.body, want) {
		t.Fatalf("export differs from the export lines:\n%s\nwant\n%s", a.body, want)
	}
	if a.trailer.Get(db.HeaderRecords) != "51" {
		t.Fatalf("export trailer %s = %q, want 51", db.HeaderRecords, a.trailer.Get(db.HeaderRecords))
	}

	// inspect and verify of the live store
	a = c.get("/v1/inspect")
	a.want(t, "inspect", http.StatusOK, "")
	var info db.Info
	if err := json.Unmarshal(a.body, &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != v || info.Records != 51 || info.StoreID != st.StoreID || info.WAL.Last != v {
		t.Fatalf("inspect = %+v, want version %d, 51 records, WAL up to %d", info, v, v)
	}
	a = c.get("/v1/verify")
	a.want(t, "verify", http.StatusOK, "")
	var rep db.VerifyReport
	if err := json.Unmarshal(a.body, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !rep.Loaded || rep.Version != v || rep.Records != 51 || rep.WALRecords != int(v) {
		t.Fatalf("verify = %+v, want no findings at version %d, 51 records, %d WAL records", rep, v, v)
	}

	// checkpoint, then inspect and verify see the snapshot file
	a = c.do(http.MethodPost, "/v1/checkpoint")
	a.want(t, "checkpoint", http.StatusOK, "")
	if string(bytes.TrimSpace(a.body)) != fmt.Sprintf(`{
  "version": %d
}`, v) {
		t.Fatalf("checkpoint = %s, want version %d", a.body, v)
	}
	a = c.get("/v1/verify")
	if err := json.Unmarshal(a.body, &rep); err != nil || !rep.OK() || rep.Snapshots != 1 {
		t.Fatalf("verify after checkpoint = %+v (%v), want 1 snapshot checked, no findings", rep, err)
	}
	a = c.get("/v1/inspect")
	if err := json.Unmarshal(a.body, &info); err != nil || len(info.Snapshots) != 1 || info.Snapshots[0].Err != "" || info.Snapshots[0].Records != 51 {
		t.Fatalf("inspect after checkpoint = %+v (%v), want one good snapshot of 51 records", info, err)
	}
	if len(info.Strangers) != 0 {
		t.Fatalf("inspect names strangers in a store of dualdb's files only: %v", info.Strangers)
	}

	// A file dualdb did not write is named, as Inspect names it.
	if err := os.WriteFile(filepath.Join(d.Dir(), "notes.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	a = c.get("/v1/inspect")
	info = db.Info{}
	if err := json.Unmarshal(a.body, &info); err != nil || !slices.Equal(info.Strangers, []string{"notes.txt"}) {
		t.Fatalf("inspect with notes.txt in the store: strangers %v (%v), want [notes.txt]", info.Strangers, err)
	}
}

func TestHandler_Scan(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	fillUsers(t, d, 50)
	c := mountedClient(t, d)
	s := d.Snapshot()

	lines := func(seq func(func(db.Record) bool)) string {
		var b []byte
		for r := range seq {
			b = append(jsonl.AppendRecord(b, r.Key, r.Index, r.Value), '\n')
		}
		return string(b)
	}
	for _, c2 := range []struct {
		q    string
		want string
	}{
		{"by=key&from=user:0010&to=user:0013", lines(s.Ascend([]byte("user:0010"), []byte("user:0013")))},
		{"by=index&reverse=true&from=mail:0005", lines(s.DescendIndex([]byte("mail:0005"), nil))},
		{"reverse=1&to=user:0047", lines(s.Descend(nil, []byte("user:0047")))},
		{"by=index&to_b64=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("mail:0003"))), lines(s.AscendIndex(nil, []byte("mail:0003")))},
	} {
		a := c.get("/v1/scan?" + c2.q)
		a.want(t, "scan "+c2.q, http.StatusOK, "")
		if string(a.body) != c2.want {
			t.Fatalf("scan %s =\n%s\nwant\n%s", c2.q, a.body, c2.want)
		}
		if a.trailer.Get(db.HeaderTruncated) != "false" {
			t.Fatalf("scan %s: trailer %s = %q, want false", c2.q, db.HeaderTruncated, a.trailer.Get(db.HeaderTruncated))
		}
		if got, want := a.header.Get(db.HeaderLen), fmt.Sprint(s.Len()); got != want {
			t.Fatalf("scan %s: header %s = %q, want the store's %s records", c2.q, db.HeaderLen, got, want)
		}
	}

	// Paging by limit and the next-key trailer walks the whole index.
	var got []byte
	q := "by=index&limit=7"
	pages := 0
	for {
		a := c.get("/v1/scan?" + q)
		a.want(t, "scan page", http.StatusOK, "")
		got = append(got, a.body...)
		pages++
		if a.trailer.Get(db.HeaderTruncated) != "true" {
			break
		}
		next := a.trailer.Get(db.HeaderNext)
		if next == "" {
			t.Fatalf("truncated scan without a %s trailer", db.HeaderNext)
		}
		q = "by=index&limit=7&from_b64=" + url.QueryEscape(next)
	}
	if want := lines(s.AscendIndex(nil, nil)); string(got) != want || pages != 8 {
		t.Fatalf("paged scan (%d pages) =\n%s\nwant (8 pages)\n%s", pages, got, want)
	}
}

// Bad and hostile requests get a 4xx with a message saying what is wrong,
// and nothing in the store changes.
func TestHandler_BadRequests(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	fillUsers(t, d, 10)
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	c := mountedClient(t, d)
	before := dirFingerprint(t, d.Dir())
	long := strings.Repeat("k", db.DefaultMaxKeySize+1)
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/v1/nothing", 404, `no such route "/v1/nothing"`},
		{"GET", "/v2/status", 404, "no such route"},
		{"GET", "/", 404, "no such route"},
		{"GET", "/debug/dualdb/v1/status", 404, `mounted without http.StripPrefix("/debug/dualdb", ...)`},
		{"POST", "/v1/status", 405, "/v1/status takes GET, not POST"},
		{"GET", "/v1/checkpoint", 405, "takes POST"},
		{"DELETE", "/v1/get?key=a", 405, "takes GET"},
		{"GET", "/v1/status?x=1", 400, `unknown parameter "x"`},
		{"GET", "/v1/get", 400, "exactly one of key"},
		{"GET", "/v1/get?key=a&index=b", 400, "exactly one of key"},
		{"GET", "/v1/get?key=a&key_b64=YQ==", 400, "key or key_b64, not both"},
		{"GET", "/v1/get?key=a&key=b", 400, `parameter "key" given 2 times`},
		{"GET", "/v1/get?key_b64=***", 400, "key_b64 is not base64"},
		{"GET", "/v1/get?key=" + long, 400, "over the store's limit"},
		{"GET", "/v1/get?key=%zz", 400, "malformed query string"},
		{"GET", "/v1/scan?by=value", 400, `by="value": want key or index`},
		{"GET", "/v1/scan?limit=0", 400, "want a whole number from 1 to 10000"},
		{"GET", "/v1/scan?limit=-5", 400, "want a whole number"},
		{"GET", "/v1/scan?limit=ten", 400, "want a whole number"},
		{"GET", "/v1/scan?limit=99999999999999999999", 400, "want a whole number"},
		{"GET", "/v1/scan?limit=10001", 400, "limit 10001 is over the maximum of 10000"},
		{"GET", "/v1/scan?reverse=maybe", 400, `reverse="maybe"`},
		{"GET", "/v1/scan?from_b64=%%%", 400, "malformed query string"},
		{"GET", "/v1/export?limit=5", 400, `unknown parameter "limit"`},
	} {
		a := c.do(tc.method, tc.path)
		a.want(t, tc.method+" "+tc.path[:min(len(tc.path), 60)], tc.code, tc.msg)
	}
	if after := dirFingerprint(t, d.Dir()); after != before {
		t.Fatalf("bad requests changed the store's files:\nbefore %s\nafter  %s", before, after)
	}
}

// Only POST /v1/checkpoint writes: every other route leaves the files as
// they were.
func TestHandler_ReadsNeverWrite(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true, CheckpointEvery: -1})
	fillUsers(t, d, 20)
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "after", "iafter", "x") // a WAL record after the snapshot
	c := mountedClient(t, d)
	before := dirFingerprint(t, d.Dir())
	for _, p := range []string{"/v1/status", "/v1/inspect", "/v1/verify", "/v1/get?key=after", "/v1/scan", "/v1/export", "/v1/backup"} {
		c.get(p).want(t, p, http.StatusOK, "")
	}
	if after := dirFingerprint(t, d.Dir()); after != before {
		t.Fatalf("read requests changed the store's files:\nbefore %s\nafter  %s", before, after)
	}
	c.do(http.MethodPost, "/v1/checkpoint").want(t, "checkpoint", http.StatusOK, "")
	if after := dirFingerprint(t, d.Dir()); after == before {
		t.Fatal("checkpoint changed no file: the fingerprint cannot see a write")
	}
}

// dirFingerprint hashes every regular file under dir with its name and
// mode.
func dirFingerprint(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %x; ", strings.TrimPrefix(path, dir), fi.Mode(), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// blockingWriter is a response body reader that the test drains only when
// told: it keeps a streamed answer (a backup) in flight.
func startBlockedGet(t *testing.T, c *adminClient, path string) (resp *http.Response, release func() []byte) {
	t.Helper()
	r, err := c.c.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	return r, func() []byte {
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return b
	}
}

// One backup at a time: a second one while the first streams gets 409;
// once the first is done, another runs.
func TestHandler_OneBackupAtATime(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	// Enough data that the first backup cannot finish into the socket
	// buffers while nobody reads it.
	fillBig(t, d, 2000, 4<<10)
	c := mountedClient(t, d)
	resp, release := startBlockedGet(t, c, "/v1/backup")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first backup: status %d", resp.StatusCode)
	}
	c.get("/v1/backup").want(t, "second backup", http.StatusConflict, "already being written")
	first := release()
	checkBackupBytes(t, first, d.Snapshot())
	a := c.get("/v1/backup")
	a.want(t, "backup after the first ended", http.StatusOK, "")
	if !bytes.Equal(a.body, first) {
		t.Fatal("two backups of the same version differ")
	}
}

// At most AdminMaxRequests requests are served at once; more get 429.
func TestHandler_BoundedRequests(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true})
	fillBig(t, d, 2000, 4<<10)
	c := mountedClient(t, d)
	var releases []func() []byte
	for i := range db.AdminMaxRequests {
		resp, rel := startBlockedGet(t, c, "/v1/export")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export %d: status %d", i, resp.StatusCode)
		}
		releases = append(releases, rel)
	}
	c.get("/v1/status").want(t, "one request over the limit", http.StatusTooManyRequests, "being served already")
	want := exportLines(d.Snapshot())
	for _, rel := range releases {
		if !bytes.Equal(rel(), want) {
			t.Fatal("a held export differs from the export lines")
		}
	}
	c.get("/v1/status").want(t, "status once the exports are done", http.StatusOK, "")
}

func TestHandler_AfterClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	c := mountedClient(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	c.get("/v1/status").want(t, "status after Close", http.StatusServiceUnavailable, "closed")
}

func TestHandler_ReadOnly(t *testing.T) {
	d := openTest(t, nil)
	fillUsers(t, d, 5)
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	dir := d.Dir()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Lstat(db.SocketPath(dir)); err == nil {
		t.Fatal("a read-only DB made an operator socket")
	}
	c := mountedClient(t, ro)
	c.do(http.MethodPost, "/v1/checkpoint").want(t, "checkpoint of a read-only DB", http.StatusConflict, "read-only")
	a := c.get("/v1/verify")
	var rep db.VerifyReport
	if err := json.Unmarshal(a.body, &rep); err != nil || !rep.OK() || rep.Snapshots != 1 || rep.Records != 6 {
		t.Fatalf("verify of a read-only DB = %+v (%v)", rep, err)
	}
	a = c.get("/v1/status")
	var st db.Status
	if err := json.Unmarshal(a.body, &st); err != nil || !st.ReadOnly {
		t.Fatalf("status of a read-only DB = %s (%v)", a.body, err)
	}
}

// Live verify reports damage of a snapshot file, naming the file.
func TestHandler_VerifyFindsDamage(t *testing.T) {
	d := openTest(t, &db.Options{NoAdminSocket: true, CheckpointEvery: -1})
	fillUsers(t, d, 200)
	v, err := d.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir(), db.SnapDir, fmt.Sprintf("%020d.dsnap", v))
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x40
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	c := mountedClient(t, d)
	var rep db.VerifyReport
	if err := json.Unmarshal(c.get("/v1/verify").body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Findings[0].File != path {
		t.Fatalf("verify of a damaged snapshot = %+v, want a finding naming %s", rep, path)
	}
	t.Logf("finding: %s", rep.Findings[0])
	// Put it back for the harness's check at cleanup.
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fillBig puts n records with incompressible values of size bytes.
func fillBig(t testing.TB, d *db.DB, n, size int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, size)
	for i := 0; i < n; i += 500 {
		err := d.Update(func(tx *db.Tx) error {
			for j := i; j < min(n, i+500); j++ {
				for k := range val {
					val[k] = byte(rng.Uint32())
				}
				if err := tx.Put(fmt.Appendf(nil, "big:%06d", j), fmt.Appendf(nil, "ix:%06d", j), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkBackupBytes checks that b is a good backup holding exactly s.
func checkBackupBytes(t testing.TB, b []byte, s *db.Snapshot) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.dsnap")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := db.VerifySnapshot(path, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("VerifySnapshot of a backup: %+v, %v", rep, err)
	}
	if rep.Version != s.Version() || rep.Records != s.Len() {
		t.Fatalf("backup holds version %d with %d records, want %d with %d", rep.Version, rep.Records, s.Version(), s.Len())
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := db.Restore(dir, bytes.NewReader(b)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	r, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if diff := snapDump(s).diff(snapDump(r.Snapshot())); diff != "" {
		t.Fatalf("restored store differs: %s", diff)
	}
}
