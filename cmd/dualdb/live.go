package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/dualdb/dualdb/db"
)

// Live operations: a store held by a process is read through the
// operator API that process serves (db.Handler), on the Unix socket in the
// store directory or at the URL of a mounted handler. The commands print
// on stdout exactly what they print offline; one line on stderr says the
// answer is live and who gave it.

const (
	// liveProbeTimeout bounds the /v1/status request that decides whether
	// a process serves the store: a process that does not answer in this
	// time is reported, not waited for.
	liveProbeTimeout = 5 * time.Second
	// liveDialTimeout bounds connecting to the socket or the URL's host.
	liveDialTimeout = 3 * time.Second
	// liveErrorBody is how much of an error answer is read and shown.
	liveErrorBody = 4 << 10
)

// liveHelp ends the help of every command that works on a live store.
const liveHelp = `A store that a process holds is read through that process: the command asks
it over the store's operator socket (DIR/dualdb.sock) and prints the same
output as on a stopped store; one line on standard error says the answer is
live, which process gave it and at which version. A socket that no process
listens on is stale: the command says so and reads the store from disk.
Instead of DIR, the URL under which an application mounts the operator
handler (db.Handler) may be given, e.g. http://127.0.0.1:8080/debug/dualdb.`

// liveStore is a store served by the process that holds it.
type liveStore struct {
	client *http.Client
	base   string // URL the routes are appended to, without a trailing slash
	via    string // what the user is shown: the socket's path or the URL
	// dir is the store's directory as the user named it, or for a URL the
	// store's directory in the serving process (from /v1/status): paths in
	// answers are shown under it, as the offline command shows them.
	dir    string
	status db.Status
}

// isURL reports whether target names a mounted handler rather than a
// directory.
func isURL(target string) bool {
	return strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://")
}

// findLive returns the process serving the store target names, or nil if
// the command is to read the store from disk. target is either the URL of
// a mounted handler, which must answer, or a store directory: if the
// directory's operator socket answers, the process behind it serves the
// store; a socket nobody listens on is stale and the store is read from
// disk, with a note on stderr.
func findLive(target string, stderr io.Writer) (*liveStore, error) {
	if isURL(target) {
		return dialURL(target)
	}
	sock := db.SocketPath(target)
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return nil, nil // no socket (or a file that is not one, which the library leaves alone too)
	}
	ls := &liveStore{
		base: "http://dualdb",
		via:  sock,
		dir:  target,
		client: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := net.Dialer{Timeout: liveDialTimeout}
				return d.DialContext(ctx, "unix", sock)
			},
			DisableCompression: true,
			DisableKeepAlives:  true, // a command makes a few requests; no idle connection outlives it
		}},
	}
	if err := ls.probe(); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			fmt.Fprintf(stderr, "dualdb: note: %s is stale (no process listens on it): reading the store from disk\n", sock)
		} else {
			fmt.Fprintf(stderr, "dualdb: note: reading the store from disk: %v\n", err)
		}
		return nil, nil
	}
	return ls, nil
}

// dialURL returns the handler mounted at raw, which must answer.
func dialURL(raw string) (*liveStore, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("bad URL: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad URL %q: no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bad URL %q: give the prefix the handler is mounted under, without a query or fragment", u.Redacted())
	}
	shown := *u
	shown.User = nil // never print a password
	ls := &liveStore{
		base: strings.TrimRight(u.String(), "/"),
		via:  strings.TrimRight(shown.String(), "/"),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: liveDialTimeout}).DialContext,
			TLSHandshakeTimeout: liveDialTimeout,
			DisableCompression:  true,
			DisableKeepAlives:   true,
		}},
	}
	if err := ls.probe(); err != nil {
		return nil, err
	}
	ls.dir = ls.status.Dir
	return ls, nil
}

// probe asks /v1/status who serves the store.
func (ls *liveStore) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), liveProbeTimeout)
	defer cancel()
	resp, err := ls.do(ctx, http.MethodGet, "/v1/status", nil)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s does not answer: no answer to /v1/status within %v", ls.via, liveProbeTimeout)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: reading /v1/status: %w", ls.via, err)
	}
	if err := json.Unmarshal(body, &ls.status); err != nil || ls.status.PID <= 0 || ls.status.StoreID == "" {
		return fmt.Errorf("%s is not a dualdb operator API: /v1/status answered %s", ls.via, excerpt(body))
	}
	return nil
}

// do sends one request and returns the response if its status is 2xx;
// any other status becomes an error that quotes the server's message.
func (ls *liveStore) do(ctx context.Context, method, route string, q url.Values) (*http.Response, error) {
	u := ls.base + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ls.via, err)
	}
	resp, err := ls.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is named once, below
		}
		return nil, fmt.Errorf("%s does not answer: %w", ls.via, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, answerErr(ls.via+route, resp)
}

// liveHTTPError is an answer with an error status.
type liveHTTPError struct {
	Code    int
	Message string
	Version uint64 // X-Dualdb-Version
	Read    bool   // the answer carries X-Dualdb-Version: the store was read
}

func (e *liveHTTPError) Error() string { return e.Message }

// answerErr reads an error answer: the {"error": ...} of db.Handler, or
// an excerpt of whatever else answered.
func answerErr(where string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, liveErrorBody)) // a short read only shortens the message
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = fmt.Sprintf("%s answered %s: %s", where, resp.Status, e.Error)
	} else {
		msg = fmt.Sprintf("%s answered %s (not a dualdb operator API answer): %s", where, resp.Status, excerpt(body))
	}
	v, err := strconv.ParseUint(resp.Header.Get(db.HeaderVersion), 10, 64)
	return &liveHTTPError{Code: resp.StatusCode, Message: msg, Version: v, Read: err == nil}
}

// excerpt returns the start of b for a message: printable, one line.
func excerpt(b []byte) string {
	const limit = 200
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	if s == "" {
		return "an empty body"
	}
	return strconv.Quote(s)
}

// version returns the version an answer was read at.
func (ls *liveStore) version(resp *http.Response) (uint64, error) {
	h := resp.Header.Get(db.HeaderVersion)
	v, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: the answer of %s carries no valid %s header (%q)", ls.via, resp.Request.URL.Path, db.HeaderVersion, h)
	}
	return v, nil
}

// announce prints the line that says the answer is live: which process
// holds the store, how it was reached, and the version it answered at.
func (ls *liveStore) announce(stderr io.Writer, version uint64) {
	fmt.Fprintf(stderr, "dualdb: live: process %d holds store %s; answered through %s at version %d\n",
		ls.status.PID, ls.status.Dir, ls.via, version)
}

// getJSON sends a GET to route and decodes its JSON answer into v; it
// returns the version the answer was read at.
func (ls *liveStore) getJSON(route string, v any) (uint64, error) {
	resp, err := ls.do(context.Background(), http.MethodGet, route, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	ver, err := ls.version(resp)
	if err != nil {
		return 0, err
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return 0, fmt.Errorf("%s%s: bad answer: %w", ls.via, route, err)
	}
	return ver, nil
}

// localPath returns path, a path in the serving process under its store
// directory serverDir, as the same file under ls.dir: the name the
// offline command shows.
func (ls *liveStore) localPath(serverDir, path string) string {
	if path == serverDir {
		return ls.dir
	}
	if rel, ok := strings.CutPrefix(path, serverDir+string(filepath.Separator)); ok {
		return filepath.Join(ls.dir, rel)
	}
	return path
}

// checkTrailer returns the trailer name of a streamed answer read to its
// end; its absence means the answer is incomplete (db.Handler cuts the
// connection of an answer that fails midway, but a proxy in between might
// end it cleanly).
func checkTrailer(ls *liveStore, resp *http.Response, name string) (string, error) {
	v := resp.Trailer.Get(name)
	if v == "" {
		return "", fmt.Errorf("%s%s: the answer ended without its %s trailer: it is incomplete", ls.via, resp.Request.URL.Path, name)
	}
	return v, nil
}
