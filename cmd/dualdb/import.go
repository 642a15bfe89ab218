package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/dualdb/dualdb/db"
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
in DIR, creating the store if it does not exist. FILE "-" is standard input.
A record replaces the stored record with the same key, so importing a file
twice gives the same records. Blank lines are skipped.

Lines are applied in batches of --batch lines, each in one atomic, durable
Update. When import stops at a bad line (not a JSON record of the export
format, an empty key, a field over the store's size limits) or at a
conflict (the line's index key belongs to another record, stored or from
an earlier line), it names the line, and:

  - every batch before the one holding that line is applied, and stays;
  - nothing of that batch, nor of any line after it, is applied.

The message says how many lines were applied. Fix the file and import it
again: the lines already applied are replaced by themselves.

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
			return userErr(err, "import: %s", errText(err))
		}
		defer f.Close() // read-only
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			total = st.Size()
		}
		src = f
	}

	d, err := openStore(dir, false, true, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)

	cr := &countingReader{r: src}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineSize)
	var bar *progress
	if total > 0 {
		bar = newProgress(stderr, "importing", true, 0)
	}
	defer bar.finish()

	var (
		batch    []lineRecord
		lineNo   int
		applied  int // lines applied: the last line of the last applied batch
		records  int
		batches  int
		firstErr error
	)
	// appliedText says what a stopped import left in the store.
	appliedText := func(firstNotApplied int) string {
		if applied == 0 {
			return "nothing was applied"
		}
		return fmt.Sprintf("applied: lines 1-%d (%s in %s), not applied: line %d on",
			applied, plural(records, "record", "records"), plural(batches, "batch", "batches"), firstNotApplied)
	}
	stopped := func(line int, cause error, format string, args ...any) error {
		return userErr(cause, "import stopped at %s line %d: %s; %s",
			name, line, fmt.Sprintf(format, args...), appliedText(batch0(batch, line)))
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var bad lineRecord
		err := d.Update(func(tx *db.Tx) error {
			for _, lr := range batch {
				if err := tx.Put(lr.rec.Key, lr.rec.Index, lr.rec.Value); err != nil {
					bad = lr
					return err
				}
			}
			return nil
		})
		if err != nil {
			if bad.line == 0 {
				// The commit failed, not a line: the whole batch is unknown.
				// Its outcome is unknown: the store failed closed, and the
				// next open decides from what reached the disk.
				return userErr(err, "import stopped: writing lines %d-%d of %s failed: %s; applied: lines 1-%d, unknown: lines %d-%d (the store failed closed; check with get or export)",
					batch[0].line, batch[len(batch)-1].line, name, errText(err), applied, batch[0].line, batch[len(batch)-1].line)
			}
			return stopped(bad.line, err, "%s", putErrText(err))
		}
		applied = batch[len(batch)-1].line
		records += len(batch)
		batches++
		batch = batch[:0]
		bar.set(cr.n, total)
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := parseLine(line)
		if err != nil {
			firstErr = stopped(lineNo, err, "%v", err)
			break
		}
		batch = append(batch, lineRecord{line: lineNo, rec: rec})
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return stopped(lineNo+1, err, "line longer than %s", size(maxLineSize))
		}
		return userErr(err, "import stopped: read %s at line %d: %s; %s", name, lineNo+1, errText(err), appliedText(batch0(batch, lineNo+1)))
	}
	if err := flush(); err != nil {
		return err
	}
	bar.finish()
	fmt.Fprintf(stdout, "imported %s from %s into %s in %s; store version %d, %s\n",
		plural(records, "record", "records"), name, dir, plural(batches, "batch", "batches"),
		d.Version(), plural(d.Stats().Records, "record", "records"))
	return nil
}

// batch0 returns the first line of the pending batch, or line if it is
// empty: the first line that is not applied.
func batch0(batch []lineRecord, line int) int {
	if len(batch) > 0 {
		return batch[0].line
	}
	return line
}

// putErrText explains why Tx.Put refused a record.
func putErrText(err error) string {
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		idx, _ := show(ce.Index)
		owner, _ := show(ce.Owner)
		return fmt.Sprintf("conflict: index key %s belongs to key %s", idx, owner)
	}
	return errText(err)
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
