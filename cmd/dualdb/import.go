package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/spf13/cobra"
)

// maxLineSize caps one line of an import file: the largest record the
// default limits allow, base64-encoded, with room to spare.
const maxLineSize = 4*(2*db.DefaultMaxKeySize+db.DefaultMaxValueSize)/3 + 4096

func newImportCmd() *cobra.Command {
	var batch int
	c := &cobra.Command{
		Use:   "import DIR FILE",
		Short: "Load records from a JSON-lines file (the export format)",
		Long: `import loads the records of FILE, in the format export writes, into the store
in DIR. FILE "-" is standard input. A record replaces the stored record
with the same key, so importing a file twice gives the same records. Blank
lines are skipped.

DIR is either an existing store, or a directory that does not exist or is
empty, in which import creates a new store. Any other directory (one that
holds files but no wal.db) is refused before anything is written.

Lines are applied in batches of --batch lines, each in one atomic, durable
commit. Within a batch a later line with the same key wins, and index keys
may move between records: a batch is checked as a whole, once all its
lines are in. A batch that holds a bad line (not a JSON record of the
export format, an empty key, a field over the store's size limits) or a
conflict (an index key that two records would hold: a stored record and a
line, or two lines) is not applied, and import stops there. It names the
batch's first bad line and its first conflict, each with its line number,
and:

  - into an existing store: every batch before that one is applied, and
    stays; nothing of that batch, nor of any line after it, is applied.
    The message says how many lines were applied. Fix the file and import
    it again: the lines already applied are replaced by themselves.
  - into a store import created: the new store is removed (its files and
    the directories import made), so nothing is left behind.

A progress bar is shown on standard error when it is a terminal.`,
		Example: `  dualdb export ./dualdb-demo -o users.jsonl
  dualdb import ./copy users.jsonl`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 {
				return usageErr("--batch must be at least 1")
			}
			return runImport(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1], batch)
		},
	}
	c.Flags().IntVar(&batch, "batch", 1000, "apply `N` lines per atomic batch")
	return c
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lineRecord is a parsed line and its number.
type lineRecord struct {
	line int
	rec  db.Record
}

func runImport(stdin io.Reader, stdout, stderr io.Writer, dir, file string, batchSize int) (err error) {
	var src io.Reader = stdin
	var total int64 // bytes, 0 if unknown
	name := file
	if file == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(file)
		if err != nil {
			return wrapErr(err, "import")
		}
		defer f.Close() // read-only
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			total = st.Size()
		}
		src = f
	}

	target, err := prepareImportDir(dir)
	if err != nil {
		return err
	}
	d, err := openStore(dir, false, true, stderr)
	if err != nil {
		return target.undo(err)
	}
	defer func() {
		closeStore(d, &err)
		if err != nil {
			err = target.undo(err)
		}
	}()

	cr := &countingReader{r: src}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineSize)
	var bar *progress
	if total > 0 {
		bar = newProgress(stderr, "importing", true, 0)
	}
	defer bar.finish()

	// Lines are read and parsed on another goroutine, a batch ahead of
	// the one being committed: parsing the next batch overlaps the
	// commit (and its fsync) of this one.
	done := make(chan struct{})
	defer close(done)
	pending := make(chan importBatch, 1)
	go readBatches(sc, cr, batchSize, pending, done)

	var (
		batch   []lineRecord
		inBatch int        // non-blank lines of the pending batch, bad ones included
		first   int        // first line of the pending batch
		bad     *lineError // first malformed line of the pending batch
		applied int        // lines applied: the last line of the last applied batch
		records int
		batches int
	)
	// appliedText says what a stopped import left in the store; a store
	// import created is removed (undo says so), so it says nothing.
	appliedText := func() string {
		switch {
		case target.created:
			return ""
		case applied == 0:
			return "; nothing was applied"
		}
		return fmt.Sprintf("; applied: lines 1-%d (%s in %s), not applied: line %d on",
			applied, plural(records, "record", "records"), plural(batches, "batch", "batches"), first)
	}
	var (
		recs   []db.Record        // the pending batch's records, for PutAll
		lastOf = map[string]int{} // key -> its last position in batch
	)
	// flush applies the pending batch in one commit, or, if a line of it
	// is bad, applies nothing and names the first line of each kind of
	// fault: a malformed line (bad, or a record the store's limits
	// refuse) and an index conflict. A batch of good lines goes in by
	// PutAll, the store's bulk path, which checks it as a whole; a key
	// given twice takes its later line. A conflict PutAll finds is named
	// by its line; any other refusal is diagnosed by trying the batch
	// again as one Put per line, which finds every kind of fault.
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		var err error
		var conflict, refused *lineError
		sequential := true
		if bad == nil {
			clear(lastOf)
			for i, lr := range batch {
				lastOf[string(lr.rec.Key)] = i
			}
			recs = recs[:0]
			for i, lr := range batch {
				if lastOf[string(lr.rec.Key)] == i {
					recs = append(recs, lr.rec)
				}
			}
			err = d.PutAll(recs...)
			var ce *db.ConflictError
			switch {
			case errors.As(err, &ce):
				conflict = &lineError{batch[lastOf[string(ce.Key)]].line, err}
				err = errBadBatch
				sequential = false
			case errors.Is(err, db.ErrTooLarge) || errors.Is(err, db.ErrEmptyKey):
			default: // applied, or the commit failed
				sequential = false
			}
		}
		if sequential {
			err = d.Update(func(tx *db.Tx) error {
				for _, lr := range batch {
					err := tx.Put(lr.rec.Key, lr.rec.Index, lr.rec.Value)
					switch {
					case err == nil:
					case errors.Is(err, db.ErrConflict):
						if conflict == nil {
							conflict = &lineError{lr.line, err}
						}
					default:
						if refused == nil {
							refused = &lineError{lr.line, err}
						}
					}
				}
				if bad != nil || conflict != nil || refused != nil {
					return errBadBatch
				}
				return nil
			})
		}
		if errors.Is(err, errBadBatch) {
			if bad == nil || (refused != nil && refused.line < bad.line) {
				bad = refused
			}
			return badBatchErr(name, bad, conflict, appliedText())
		}
		if err != nil {
			// The commit failed, not a line: the outcome of the batch is
			// unknown. The store failed closed, and the next open decides
			// from what reached the disk.
			last := batch[len(batch)-1].line
			if target.created {
				return wrapErr(err, "import stopped: writing lines %d-%d of %s failed", first, last, name)
			}
			return wrapErr(err, "import stopped: writing lines %d-%d of %s failed; applied: lines 1-%d, unknown: lines %d-%d (the store failed closed; check with get or export)",
				first, last, name, applied, first, last)
		}
		applied = batch[len(batch)-1].line
		records += len(batch)
		batches++
		return nil
	}
	for b := range pending {
		batch, inBatch, first, bad = b.lines, b.inBatch, b.first, b.bad
		if b.readErr != nil {
			return userErr(b.readErr, "import stopped at %s line %d: %v%s", name, b.errLine, b.readErr, appliedText())
		}
		if err := flush(); err != nil {
			return err
		}
		bar.set(b.read, total)
	}
	bar.finish()
	fmt.Fprintf(stdout, "imported %s from %s into %s in %s; store version %d, %s\n",
		plural(records, "record", "records"), name, dir, plural(batches, "batch", "batches"),
		d.Version(), plural(d.Stats().Records, "record", "records"))
	return nil
}

// importBatch is one batch of lines as read and parsed, or the error that
// stopped reading.
type importBatch struct {
	lines   []lineRecord // the good lines
	inBatch int          // non-blank lines, bad ones included
	first   int          // first line of the batch
	bad     *lineError   // first malformed line of the batch
	read    int64        // bytes read by the end of the batch, for progress
	readErr error        // reading failed at line errLine; the batch is dropped
	errLine int
}

// readBatches reads lines from sc, parses them and sends them on out in
// batches of batchSize non-blank lines (the last may be shorter). A line
// too long to read ends its batch as a bad line; any other read error is
// sent alone. It closes out when the input ends, and returns early once
// done is closed.
func readBatches(sc *bufio.Scanner, cr *countingReader, batchSize int, out chan<- importBatch, done <-chan struct{}) {
	defer close(out)
	send := func(b importBatch) bool {
		b.read = cr.n
		select {
		case out <- b:
			return true
		case <-done:
			return false
		}
	}
	var b importBatch
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if b.inBatch == 0 {
			b.first = lineNo
		}
		b.inBatch++
		if rec, err := parseLine(line); err != nil {
			if b.bad == nil {
				b.bad = &lineError{lineNo, err}
			}
		} else {
			b.lines = append(b.lines, lineRecord{line: lineNo, rec: rec})
		}
		if b.inBatch == batchSize {
			if !send(b) {
				return
			}
			b = importBatch{}
		}
	}
	if err := sc.Err(); err != nil {
		if b.inBatch == 0 {
			b.first = lineNo + 1
		}
		if !errors.Is(err, bufio.ErrTooLong) {
			send(importBatch{first: b.first, readErr: err, errLine: lineNo + 1})
			return
		}
		// The batch ends at the line that is too long to read.
		b.inBatch++
		if b.bad == nil {
			b.bad = &lineError{lineNo + 1, fmt.Errorf("line longer than %s", size(maxLineSize))}
		}
	}
	if b.inBatch > 0 {
		send(b)
	}
}

// errBadBatch rolls back the Update of a batch that holds a bad line.
var errBadBatch = errors.New("batch holds a bad line")

// lineError is what is wrong with one line of the input.
type lineError struct {
	line int
	err  error
}

// badBatchErr reports a batch that was not applied: its first malformed
// line and its first index conflict, either of which may be nil, the
// earlier first.
func badBatchErr(name string, bad, conflict *lineError, applied string) error {
	faults := []*lineError{bad, conflict}
	if bad == nil || (conflict != nil && conflict.line < bad.line) {
		faults[0], faults[1] = conflict, bad
	}
	also := ""
	if f := faults[1]; f != nil {
		also = fmt.Sprintf("; also line %d: %s", f.line, putErrText(f.err, false))
	}
	first := faults[0]
	if text := putErrText(first.err, true); text != "" {
		return userErr(first.err, "import stopped at %s line %d: %s%s%s", name, first.line, text, also, applied)
	}
	// A record the store refuses: its error, which says why in full,
	// comes first (it carries the library's name).
	return wrapErr(first.err, "import stopped at %s line %d%s%s", name, first.line, also, applied)
}

// importTarget is the directory import writes to and what import made
// there, so that a failed import into a new store leaves nothing behind.
type importTarget struct {
	dir     string
	created bool     // import creates the store: dir was missing or empty
	made    []string // directories import created, dir first, then its missing parents
}

// prepareImportDir checks dir before anything is written: import creates
// a store only in a directory that does not exist (it makes it) or is
// empty, and otherwise writes only to an existing store (a directory
// holding wal.db). Anything else is refused.
func prepareImportDir(dir string) (*importTarget, error) {
	t := &importTarget{dir: dir}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
			if _, err := os.Lstat(p); err == nil {
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, wrapErr(err, "import")
			}
			t.made = append(t.made, p)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, wrapErr(err, "import: create %s", dir)
		}
		t.created = true
		return t, nil
	case err != nil:
		return nil, wrapErr(err, "import")
	case !st.IsDir():
		return nil, userErr(fs.ErrExist, "import: %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, wrapErr(err, "import")
	}
	if len(entries) == 0 {
		t.created = true
		return t, nil
	}
	for _, e := range entries {
		if e.Name() == db.WALFile {
			return t, nil // an existing store
		}
	}
	names := make([]string, 0, 4)
	for _, e := range entries[:min(len(entries), 4)] {
		names = append(names, e.Name())
	}
	if n := len(entries) - len(names); n > 0 {
		names = append(names, fmt.Sprintf("%d more", n))
	}
	return nil, userErr(fs.ErrExist, "import: %s is not empty and is not a dualdb store (it holds %s and no %s); "+
		"import creates a store only in a new or empty directory", dir, strings.Join(names, ", "), db.WALFile)
}

// undo removes what import created if it created the store, and adds to
// cause what became of it. The store is closed by then.
func (t *importTarget) undo(cause error) error {
	if !t.created {
		return cause
	}
	if err := removeStore(t.dir, nil, t.made); err != nil {
		return userErr(cause, "%s; removing the store import created in %s failed: %v", cause.Error(), t.dir, err)
	}
	return userErr(cause, "%s; nothing was kept: the store import created in %s was removed", cause.Error(), t.dir)
}

// storeFiles lists the files of the store in dir, in the order to remove
// them: wal.db first (the directory stops being a store at once), then
// the snapshot files (and their temporary files), then those of extra
// that exist. It fails, naming the first, if dir holds anything else, so
// that a caller removes all or nothing.
func storeFiles(dir string, extra ...string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var wal, snaps, others []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == db.WALFile && e.Type().IsRegular():
			wal = append(wal, filepath.Join(dir, name))
		case slices.Contains(extra, name) && e.Type().IsRegular():
			others = append(others, filepath.Join(dir, name))
		case name == db.SocketFile && e.Type()&fs.ModeSocket != 0:
			// The operator socket: callers hold the store or have closed
			// it, so this one was left by a process that was killed.
			others = append(others, filepath.Join(dir, name))
		case name == db.SnapDir && e.IsDir():
			list, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			for _, s := range list {
				_, ok := snapshot.ParseFileName(strings.TrimSuffix(s.Name(), snapshot.TempSuffix))
				if !ok || !s.Type().IsRegular() {
					return nil, fmt.Errorf("it holds %s, which is not a snapshot file", filepath.Join(name, s.Name()))
				}
				snaps = append(snaps, filepath.Join(dir, name, s.Name()))
			}
		default:
			return nil, fmt.Errorf("it holds %s, which is not a file of a dualdb store", name)
		}
	}
	return slices.Concat(wal, snaps, others), nil
}

// removeStore removes the store in dir: the files storeFiles lists (if it
// lists them all, or nothing), the snapshot directory, then each of dirs,
// which must be empty by then, in order.
func removeStore(dir string, extra, dirs []string) error {
	files, err := storeFiles(dir, extra...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never made
	}
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, db.SnapDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil {
			return err
		}
	}
	return nil
}

// putErrText explains in the CLI's words why a line was not applied: a
// malformed line, an index conflict, or a record the store refuses. For a
// refusal it returns "" when whole is set, for the caller to show the
// store's error itself, and else a short reason.
func putErrText(err error, whole bool) string {
	var ce *db.ConflictError
	switch {
	case errors.As(err, &ce):
		idx, _ := show(ce.Index)
		owner, _ := show(ce.Owner)
		return fmt.Sprintf("conflict: index key %s belongs to key %s", idx, owner)
	case !strings.HasPrefix(err.Error(), libPrefix):
		return err.Error() // the CLI's own: a malformed line
	case whole:
		return ""
	case errors.Is(err, db.ErrTooLarge):
		return "key, index key or value too large for the store"
	case errors.Is(err, db.ErrEmptyKey):
		return "empty key"
	}
	return "refused by the store"
}

// jsonField names the fields of a line; the _b64 forms carry base64.
var jsonFields = map[string]struct {
	slot int
	b64  bool
}{
	"key": {0, false}, "key_b64": {0, true},
	"index": {1, false}, "index_b64": {1, true},
	"value": {2, false}, "value_b64": {2, true},
}

var slotNames = [3]string{"key", "index", "value"}

// parseLine parses one line of the export format:
//
//	{"key":"…","index":"…","value":"…"}
//
// Each of key, index and value must appear exactly once, either as a JSON
// string or, under the name with "_b64" appended, as standard padded
// base64. Nothing else may be in the line. The key must not be empty. The
// line must be valid UTF-8 and its strings must not hold lone surrogate
// escapes (\ud800), which JSON decoders silently turn into U+FFFD: every
// accepted line means exactly one record.
func parseLine(line []byte) (db.Record, error) {
	if !utf8.Valid(line) {
		return db.Record{}, errors.New("not valid UTF-8 (bytes that are not text go in a _b64 field)")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return db.Record{}, errors.New(`not a JSON object: want {"key":…,"index":…,"value":…}`)
	}
	var (
		fields [3][]byte
		seen   [3]string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return db.Record{}, fmt.Errorf("bad JSON: %v", err)
		}
		name, _ := tok.(string)
		f, ok := jsonFields[name]
		if !ok {
			return db.Record{}, fmt.Errorf("unknown field %q (want key, index, value or their _b64 forms)", name)
		}
		if seen[f.slot] != "" {
			return db.Record{}, fmt.Errorf("field %q given twice (as %q and %q)", slotNames[f.slot], seen[f.slot], name)
		}
		seen[f.slot] = name
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return db.Record{}, fmt.Errorf("bad JSON in field %q: %v", name, err)
		}
		if len(raw) == 0 || raw[0] != '"' {
			return db.Record{}, fmt.Errorf("field %q is not a JSON string", name)
		}
		if err := checkSurrogates(raw); err != nil {
			return db.Record{}, fmt.Errorf("field %q: %v", name, err)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return db.Record{}, fmt.Errorf("field %q: %v", name, err)
		}
		if f.b64 {
			b, err := base64.StdEncoding.Strict().DecodeString(s)
			if err != nil {
				return db.Record{}, fmt.Errorf("field %q is not standard padded base64: %v", name, err)
			}
			fields[f.slot] = b
		} else {
			fields[f.slot] = []byte(s)
		}
	}
	if _, err := dec.Token(); err != nil {
		return db.Record{}, fmt.Errorf("bad JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return db.Record{}, errors.New("text after the JSON object")
	}
	for i, s := range seen {
		if s == "" {
			return db.Record{}, fmt.Errorf("field %q is missing", slotNames[i])
		}
	}
	if len(fields[0]) == 0 {
		return db.Record{}, errors.New("empty key")
	}
	return db.Record{Key: fields[0], Index: fields[1], Value: fields[2]}, nil
}

// checkSurrogates reports a \u escape in the JSON string literal raw (quotes
// included, already known to be valid JSON) that is a lone UTF-16
// surrogate.
func checkSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue // \" \\ \n …: the escaped byte is skipped by i++ above
		}
		r, ok := hex4(raw[i+1:])
		if !ok {
			return errors.New(`bad \u escape`)
		}
		i += 4
		switch {
		case r >= 0xDC00 && r < 0xE000:
			return fmt.Errorf(`lone low surrogate \u%04x`, r)
		case r >= 0xD800 && r < 0xDC00:
			// It must be followed by \u and a low surrogate.
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return fmt.Errorf(`lone high surrogate \u%04x`, r)
			}
			lo, ok := hex4(raw[i+3:])
			if !ok || lo < 0xDC00 || lo >= 0xE000 {
				return fmt.Errorf(`lone high surrogate \u%04x`, r)
			}
			i += 6
		}
	}
	return nil
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
