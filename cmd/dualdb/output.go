package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// This file holds what the commands share: opening a store with clear
// errors, showing arbitrary bytes safely, the JSON-lines record format of
// export, import, scan --json and get --json, sizes, and progress bars.

// cliError is an error with a message written for the user and an
// underlying cause that errors.Is and errors.As still reach.
type cliError struct {
	msg   string
	cause error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.cause }

// userErr returns an error showing msg that wraps cause.
func userErr(cause error, format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// libPrefix is the origin the store's own errors start with: the
// library's name, which is also the CLI's.
const libPrefix = "dualdb: "

// wrapErr returns cause with the CLI's context, the cause's message left
// as it is. The library's errors start with their origin ("dualdb: ",
// "wal: ", "snapshot: ") and name their file; so that a line names dualdb
// once, an error of the store's own comes first and the context follows
// in parentheses, and any other follows the context: "context: cause".
// A context whose path (a string argument) the cause names already is
// left out: the cause says the operation and the path, and a line names a
// path once.
func wrapErr(cause error, format string, args ...any) error {
	ctx, msg := fmt.Sprintf(format, args...), cause.Error()
	switch {
	case namesArg(msg, args):
		return &cliError{msg: msg, cause: cause}
	case strings.HasPrefix(msg, libPrefix):
		return &cliError{msg: msg + " (" + ctx + ")", cause: cause}
	}
	return &cliError{msg: ctx + ": " + msg, cause: cause}
}

// namesArg reports whether msg names one of the string arguments whole:
// not as the start of a longer path (dir in dir/wal.db).
func namesArg(msg string, args []any) bool {
	for _, a := range args {
		s, ok := a.(string)
		if !ok || strings.TrimSpace(s) == "" {
			continue
		}
		if regexp.MustCompile(`(?:^|[\s("'])` + regexp.QuoteMeta(s) + `(?:$|[\s:;,)"'])`).MatchString(msg) {
			return true
		}
	}
	return false
}

// errLine is the line run prints for err: the CLI's name, once.
func errLine(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, libPrefix) {
		return msg // a store error passed on whole: it starts with the name
	}
	return libPrefix + msg
}

// usageErr is returned for bad arguments; it exits 2 like every error.
func usageErr(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// requireStore checks that dir holds a store, so that a typo gives "not a
// store" rather than an error deep in bbolt, and read-write commands that
// must not create a store (checkpoint) do not.
func requireStore(dir string) error {
	if err := requireDir(dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, db.WALFile)); errors.Is(err, fs.ErrNotExist) {
		// A read-only Open writes nothing and says whether this is a
		// store that lost its wal.db (ErrCorrupt) or not a store at all.
		if _, oerr := db.Open(dir, &db.Options{ReadOnly: true, Logger: slog.New(slog.DiscardHandler)}); oerr != nil {
			return openErr(dir, oerr)
		}
		return userErr(err, "%s is not a dualdb store: it has no %s", dir, db.WALFile)
	} else if err != nil {
		return wrapErr(err, "%s", dir)
	}
	return nil
}

// openStore opens the store in dir. Read-only opens require an existing
// store; so does a read-write open unless create is set. Warnings of the
// library go to stderr.
func openStore(dir string, readOnly, create bool, stderr io.Writer) (*db.DB, error) {
	return openStoreWith(dir, &db.Options{ReadOnly: readOnly}, create, stderr)
}

func openStoreWith(dir string, opts *db.Options, create bool, stderr io.Writer) (*db.DB, error) {
	if opts.ReadOnly || !create {
		if err := requireStore(dir); err != nil {
			return nil, err
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := db.Open(dir, opts)
	if err != nil {
		return nil, openErr(dir, err)
	}
	return d, nil
}

// openErr turns an error of db.Open or db.Inspect into a message that says
// what to do.
func openErr(dir string, err error) error {
	var locked *db.LockedError
	switch {
	case errors.As(err, &locked) && !locked.Writer:
		return userErr(err, "store %s is locked: read-only opens held it for the %v this command waited; "+
			"they release it once they have loaded the store: retry", dir, locked.Waited.Round(time.Millisecond))
	case errors.Is(err, db.ErrLocked):
		return userErr(err, "store %s is locked: another process has it open for writing. "+
			"A store has one writer; inspect, verify, get, scan, export, checkpoint and backup ask it "+
			"through its operator socket %s when one answers there. Stop that process and retry", dir, db.SocketPath(dir))
	case errors.Is(err, db.ErrCorrupt):
		return wrapErr(err, "store %s is damaged: run `dualdb verify %s` for a full report", dir, dir)
	default:
		return wrapErr(err, "open %s", dir)
	}
}

// closeStore closes d and joins a close error to err.
func closeStore(d *db.DB, err *error) {
	if cerr := d.Close(); cerr != nil && *err == nil {
		*err = wrapErr(cerr, "close %s", d.Dir())
	}
}

// isText reports whether b can be shown as it is: valid UTF-8 of printable
// characters (spaces allowed, other white space and control characters
// not) that does not start with a double quote, which marks escaped text.
func isText(b []byte) bool {
	if !utf8.Valid(b) || (len(b) > 0 && b[0] == '"') {
		return false
	}
	for _, r := range string(b) {
		if r != ' ' && !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

// show returns b for a human: as it is if isText, otherwise as a Go
// double-quoted string with \x escapes for bytes that are not UTF-8.
// escaped says which.
func show(b []byte) (s string, escaped bool) {
	if isText(b) {
		return string(b), false
	}
	return strconv.Quote(string(b)), true
}

// escapedNote is printed under human output that holds escaped fields.
const escapedNote = `(fields in double quotes are Go-escaped: they are not plain UTF-8 text)`

// appendJSONRecord appends r as one line of the JSON-lines format of
// export, import, scan --json and get --json (without the newline). The
// encoding is internal/jsonl's, the one the operator API of a running
// store uses too, so that live and offline output are the same bytes.
func appendJSONRecord(b []byte, r db.Record) []byte {
	return jsonl.AppendRecord(b, r.Key, r.Index, r.Value)
}

// size returns n bytes for a human: "512 B", "1.5 KiB", "12.3 MiB".
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	if n%div == 0 {
		return fmt.Sprintf("%d %ciB", n/div, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// count returns n with thousands separators: 100000 -> "100,000".
func count[T ~int | ~int64 | ~uint64](n T) string {
	s := fmt.Sprint(n)
	digits := strings.TrimPrefix(s, "-")
	var b strings.Builder
	b.WriteString(s[:len(s)-len(digits)])
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural returns "1 record" or "2 records".
func plural[T ~int | ~int64 | ~uint64](n T, one, many string) string {
	if n == 1 {
		return count(n) + " " + one
	}
	return count(n) + " " + many
}

// duration rounds d for a human.
func duration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on a terminal, and nothing on anything else.
// It appears only once the work has run for its delay, so that quick work
// on small stores prints nothing. All methods are safe on a nil *progress
// and must be called from one goroutine.
type progress struct {
	w     io.Writer
	desc  string
	bytes bool // count bytes rather than items
	delay time.Duration
	start time.Time
	bar   *progressbar.ProgressBar
	// then, if set, describes the work that follows when done reaches
	// total (verify rebuilds the store after checking its files): the bar
	// gives way to that line until finish.
	then    string
	stopped bool // the bar gave way to then
}

// newProgress returns a progress bar for w described by desc, or nil if w
// is not a terminal. bytes says the counts are bytes.
func newProgress(w io.Writer, desc string, bytes bool, delay time.Duration) *progress {
	if !isTerminal(w) {
		return nil
	}
	return &progress{w: w, desc: desc, bytes: bytes, delay: delay, start: time.Now()}
}

// set shows done of total.
func (p *progress) set(done, total int64) {
	if p == nil || p.stopped {
		return
	}
	if p.bar == nil {
		if time.Since(p.start) < p.delay {
			return
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		}
		if p.bytes {
			opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
		} else {
			opts = append(opts, progressbar.OptionShowCount())
		}
		p.bar = progressbar.NewOptions64(total, opts...)
	}
	if p.bar.GetMax64() != total {
		p.bar.ChangeMax64(total)
	}
	if done >= total && p.then != "" {
		_ = p.bar.Clear()
		p.bar = nil
		p.stopped = true
		fmt.Fprintf(p.w, "\r%s ...", p.then) // a terminal write error only loses the line
		return
	}
	_ = p.bar.Set64(done) // a terminal write error only loses the bar
}

// finish removes the bar.
func (p *progress) finish() {
	switch {
	case p == nil:
	case p.stopped:
		fmt.Fprint(p.w, "\r\033[K") // erase the line
		p.stopped = false
	case p.bar != nil:
		_ = p.bar.Clear()
		p.bar = nil
	}
}
