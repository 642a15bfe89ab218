package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
)

// The live forms of the commands: each asks the serving process and
// prints what the offline command prints, through the same printers.

func (ls *liveStore) inspect(stdout, stderr io.Writer, asJSON bool) error {
	var info db.Info
	v, err := ls.getJSON("/v1/inspect", &info)
	if err != nil {
		return err
	}
	srv := info.Dir
	info.Dir = ls.dir
	info.WAL.File = ls.localPath(srv, info.WAL.File)
	for i := range info.Snapshots {
		info.Snapshots[i].File = ls.localPath(srv, info.Snapshots[i].File)
	}
	ls.announce(stderr, v)
	if asJSON {
		return writeJSON(stdout, toInspectJSON(&info))
	}
	return printInspect(stdout, &info, "")
}

func (ls *liveStore) verify(stdout, stderr io.Writer, target string, o verifyFlags) error {
	var rep db.VerifyReport
	v, err := ls.getJSON("/v1/verify", &rep)
	if err != nil {
		return err
	}
	srv := rep.Dir
	rep.Dir = ls.dir
	for i := range rep.Findings {
		rep.Findings[i].File = ls.localPath(srv, rep.Findings[i].File)
	}
	limit := o.maxFindings
	if limit == 0 {
		limit = 1000 // db.VerifyOptions' default, which the server applies too
	}
	if len(rep.Findings) > limit {
		rep.Findings = rep.Findings[:limit]
	}
	ls.announce(stderr, v)
	if o.asJSON {
		if err := writeJSON(stdout, toVerifyJSON(&rep, false)); err != nil {
			return err
		}
	} else if err := printVerify(stdout, &rep, target, false, o.maxFindings); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		return errFindings
	}
	return nil
}

func (ls *liveStore) get(stdout, stderr io.Writer, q []byte, byIndex, asJSON bool) error {
	name, what := "key_b64", "key"
	if byIndex {
		name, what = "index_b64", "index key"
	}
	resp, err := ls.do(context.Background(), http.MethodGet, "/v1/get",
		url.Values{name: {base64.StdEncoding.EncodeToString(q)}})
	var he *liveHTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound && he.Read {
		// The store was read, the key is not there (a 404 of an unknown
		// route carries no version).
		ls.announce(stderr, he.Version)
		s, _ := show(q)
		fmt.Fprintf(stderr, "dualdb: no record has %s %s (store version %d)\n", what, s, he.Version)
		return errFindings
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	v, err := ls.version(resp)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return fmt.Errorf("%s/v1/get: %w", ls.via, err)
	}
	r, err := parseLine(bytes.TrimSuffix(body, []byte("\n")))
	if err != nil {
		return fmt.Errorf("%s/v1/get: bad answer: %w", ls.via, err)
	}
	ls.announce(stderr, v)
	if asJSON {
		_, err = stdout.Write(append(jsonl.AppendRecord(nil, r.Key, r.Index, r.Value), '\n'))
		return err
	}
	return printRecord(stdout, r)
}

// scan asks /v1/scan for the records; when they are more than one answer
// may hold (db.ScanMaxLimit) and the command wants them all, it reads the
// whole store at one version from /v1/export instead and picks the range
// itself, so that the output is of one version, as offline.
func (ls *liveStore) scan(stdout, stderr io.Writer, o scanOptions, from, to []byte) error {
	want := o.limit
	if want == 0 || want > db.ScanMaxLimit {
		want = db.ScanMaxLimit
	}
	recs, v, total, truncated, err := ls.scanPage(o, from, to, want)
	if err != nil {
		return err
	}
	if truncated && (o.limit == 0 || o.limit > want) {
		if recs, v, total, err = ls.scanExport(o, from, to); err != nil {
			return err
		}
	}
	ls.announce(stderr, v)
	return printScan(stdout, o, slices.Values(recs), total, v)
}

// scanPage reads one answer of /v1/scan.
func (ls *liveStore) scanPage(o scanOptions, from, to []byte, limit int) (recs []db.Record, version uint64, total int, truncated bool, err error) {
	q := url.Values{"by": {o.by}, "limit": {strconv.Itoa(limit)}, "reverse": {strconv.FormatBool(o.reverse)}}
	if from != nil {
		q.Set("from_b64", base64.StdEncoding.EncodeToString(from))
	}
	if to != nil {
		q.Set("to_b64", base64.StdEncoding.EncodeToString(to))
	}
	resp, err := ls.do(context.Background(), http.MethodGet, "/v1/scan", q)
	if err != nil {
		return nil, 0, 0, false, err
	}
	defer resp.Body.Close()
	if version, err = ls.version(resp); err != nil {
		return nil, 0, 0, false, err
	}
	if total, err = strconv.Atoi(resp.Header.Get(db.HeaderLen)); err != nil || total < 0 {
		return nil, 0, 0, false, fmt.Errorf("%s/v1/scan: the answer carries no valid %s header (%q); is the serving process's dualdb older than this command?", ls.via, db.HeaderLen, resp.Header.Get(db.HeaderLen))
	}
	err = readLines(resp.Body, func(r db.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("%s/v1/scan: %w", ls.via, err)
	}
	n, err := checkTrailer(ls, resp, db.HeaderRecords)
	if err != nil {
		return nil, 0, 0, false, err
	}
	if n != strconv.Itoa(len(recs)) {
		return nil, 0, 0, false, fmt.Errorf("%s/v1/scan: the answer holds %d records but says %s", ls.via, len(recs), n)
	}
	return recs, version, total, resp.Trailer.Get(db.HeaderTruncated) == "true", nil
}

// scanExport reads every record from /v1/export and returns those of the
// range, in the scan's order, with the version and the store's count.
func (ls *liveStore) scanExport(o scanOptions, from, to []byte) (recs []db.Record, version uint64, total int, err error) {
	resp, err := ls.do(context.Background(), http.MethodGet, "/v1/export", nil)
	if err != nil {
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	if version, err = ls.version(resp); err != nil {
		return nil, 0, 0, err
	}
	err = readLines(resp.Body, func(r db.Record) error {
		total++
		k := r.Key
		if o.by == "index" {
			k = r.Index
		}
		if inRange(k, from, to, o.reverse) {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s/v1/export: %w", ls.via, err)
	}
	if _, err := checkTrailer(ls, resp, db.HeaderRecords); err != nil {
		return nil, 0, 0, err
	}
	if o.by == "index" {
		slices.SortFunc(recs, func(a, b db.Record) int { return bytes.Compare(a.Index, b.Index) })
	}
	if o.reverse {
		slices.Reverse(recs)
	}
	return recs, version, total, nil
}

// inRange reports whether k is in the range of a scan: from inclusive and
// to exclusive in the direction of the scan, nil bounds open.
func inRange(k, from, to []byte, reverse bool) bool {
	if reverse {
		return (from == nil || bytes.Compare(k, from) <= 0) && (to == nil || bytes.Compare(k, to) > 0)
	}
	return (from == nil || bytes.Compare(k, from) >= 0) && (to == nil || bytes.Compare(k, to) < 0)
}

// readLines calls fn with each record of a JSON-lines answer.
func readLines(r io.Reader, fn func(db.Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("line %d is cut short (no newline): the answer is incomplete", n)
		}
		if err != nil {
			return fmt.Errorf("after %d lines: %w", n-1, err)
		}
		rec, err := parseLine(line[:len(line)-1])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// export copies /v1/export to stdout or to the file out; the lines are
// those of the offline export, byte for byte (both encode with jsonl).
func (ls *liveStore) export(stdout, stderr io.Writer, out string) error {
	resp, err := ls.do(context.Background(), http.MethodGet, "/v1/export", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	v, err := ls.version(resp)
	if err != nil {
		return err
	}
	ls.announce(stderr, v)
	copyAll := func(w io.Writer) (int, error) {
		cw := &lineCounter{w: w, ended: true}
		if _, err := io.Copy(cw, resp.Body); err != nil {
			return cw.lines, fmt.Errorf("%s/v1/export: %w", ls.via, err)
		}
		n, err := checkTrailer(ls, resp, db.HeaderRecords)
		if err != nil {
			return cw.lines, err
		}
		if n != strconv.Itoa(cw.lines) || !cw.ended {
			return cw.lines, fmt.Errorf("%s/v1/export: the answer holds %d lines but says %s records", ls.via, cw.lines, n)
		}
		return cw.lines, nil
	}
	if out == "" || out == "-" {
		_, err := copyAll(stdout)
		return err
	}
	n, err := writeFileAtomic(out, copyAll)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s at version %d to %s\n", plural(n, "record", "records"), v, out)
	return nil
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w     io.Writer
	lines int
	ended bool // the last byte written is a newline (or nothing was written)
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.lines += bytes.Count(p[:n], []byte("\n"))
	if n > 0 {
		c.ended = p[n-1] == '\n'
	}
	return n, err
}

// checkpoint asks the process for a checkpoint and describes the snapshot
// as the offline command does, from /v1/inspect before and after.
func (ls *liveStore) checkpoint(stdout, stderr io.Writer) error {
	var before db.Info
	if _, err := ls.getJSON("/v1/inspect", &before); err != nil {
		return err
	}
	resp, err := ls.do(context.Background(), http.MethodPost, "/v1/checkpoint", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ans struct {
		Version *uint64 `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || ans.Version == nil {
		return fmt.Errorf("%s/v1/checkpoint: bad answer (want {\"version\": N}): %v", ls.via, err)
	}
	v := *ans.Version
	ls.announce(stderr, v)
	if v == 0 {
		return printCheckpoint(stdout, ls.dir, "", 0, 0, 0)
	}
	var after db.Info
	if _, err := ls.getJSON("/v1/inspect", &after); err != nil {
		return err
	}
	what := "wrote"
	if slices.ContainsFunc(before.Snapshots, func(s db.SnapshotInfo) bool { return s.Version == v }) {
		what = "already had"
	}
	i := slices.IndexFunc(after.Snapshots, func(s db.SnapshotInfo) bool { return s.Version == v })
	if i < 0 {
		return fmt.Errorf("%s: checkpoint at version %d done, but the store no longer lists its snapshot (later checkpoints replaced it)", ls.via, v)
	}
	s := after.Snapshots[i]
	return printCheckpoint(stdout, ls.dir, what, v, s.Records, s.Bytes)
}

// backup copies /v1/backup to w and returns the version it holds.
func (ls *liveStore) backup(stderr io.Writer, w io.Writer) (uint64, error) {
	resp, err := ls.do(context.Background(), http.MethodGet, "/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	v, err := ls.version(resp)
	if err != nil {
		return 0, err
	}
	ls.announce(stderr, v)
	if _, err := io.Copy(w, resp.Body); err != nil {
		return v, fmt.Errorf("%s/v1/backup: %w", ls.via, err)
	}
	return v, nil
}
