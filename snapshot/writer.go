package snapshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/klauspost/compress/zstd"
)

const (
	// writeBufferSize is the size of the buffer between the encoder and
	// the file.
	writeBufferSize = 256 << 10
	// stageSize is how many bytes of encoded records are gathered before
	// they are checksummed and handed to zstd in one call.
	stageSize = 64 << 10
)

// Encoder writes the bytes of a snapshot file to an io.Writer: the header
// at once, the records given to Add, and the footer at Close. It checks
// neither the key order nor the record count (Write, which builds on it,
// does), so a caller streaming a file to a writer of its own must give the
// records in order and as many as the header says, or the file will not
// verify.
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	w     *bufio.Writer // over the destination: header, compressed stream, footer
	cw    *streamWriter // between zw and w: measures the compressed stream
	zw    *zstd.Encoder // nil once released
	lim   settings
	h     Header
	stage []byte // encoded records not yet given to zw

	rawCRC uint32 // CRC32C of the record stream given to zw
	rawLen int64  // length of the record stream given to zw
	count  uint64 // records added
	size   int64  // bytes of the whole file; set by Close
	err    error  // first write error; sticky
	closed bool
}

// streamWriter passes the compressed stream on to w, counting it and
// computing its CRC32C. zstd may call Write from its own goroutine; the
// fields are read only after the zstd encoder is closed.
type streamWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

// Write implements io.Writer.
func (s *streamWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.crc = crc32.Update(s.crc, castagnoli, p[:n])
	s.n += int64(n)
	return n, err
}

// NewEncoder writes the header h to w and returns an Encoder for the
// records. h.Format 0 means FormatVersion; any other value is written as
// given (Write refuses an unknown one; tests use it to build files of an
// unknown format). Records are encoded in format 1 when h.Format is
// FormatV1 (their Version is dropped), else in the current format. h.Count
// is written as given, whatever number of records follow, and record
// versions are not checked against h.Version.
//
// The Encoder buffers: w receives the bytes late, the last of them in
// Close. Close neither syncs nor closes w.
func NewEncoder(w io.Writer, h Header, opts *Options) (*Encoder, error) {
	lim, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return newEncoder(w, h, lim)
}

// newEncoder is NewEncoder with resolved Options.
func newEncoder(w io.Writer, h Header, lim settings) (*Encoder, error) {
	if h.Format == 0 {
		h.Format = FormatVersion
	}
	e := &Encoder{
		w:     bufio.NewWriterSize(w, writeBufferSize),
		lim:   lim,
		h:     h,
		stage: make([]byte, 0, stageSize+4*binary.MaxVarintLen64),
	}
	e.cw = &streamWriter{w: e.w}
	var hb [HeaderSize]byte
	_, _ = e.w.Write(appendHeader(hb[:0], h)) // buffered: an error of w comes back from Add or Close
	zw, err := getEncoder(e.cw)
	if err != nil {
		return nil, fmt.Errorf("snapshot: zstd encoder: %w", err)
	}
	e.zw = zw
	return e, nil
}

// Add appends r to the record stream. It returns ErrTooLarge, and writes
// nothing, if a field is longer than the Options limit; after a write error
// every call returns that error.
func (e *Encoder) Add(r Record) error {
	if e.closed {
		return ErrClosed
	}
	if e.err != nil {
		return e.err
	}
	if what := e.lim.oversize(r); what != "" {
		return fmt.Errorf("%w: %s", ErrTooLarge, what)
	}
	if e.h.Format != FormatV1 {
		e.stage = binary.AppendUvarint(e.stage, r.Version)
	}
	e.stage = binary.AppendUvarint(e.stage, uint64(len(r.Key)))
	e.stage = append(e.stage, r.Key...)
	e.stage = binary.AppendUvarint(e.stage, uint64(len(r.Index)))
	e.stage = append(e.stage, r.Index...)
	e.stage = binary.AppendUvarint(e.stage, uint64(len(r.Value)))
	if len(r.Value) >= stageSize {
		// A large value goes to zstd directly rather than through the stage.
		e.flushStage()
		e.writeStream(r.Value)
	} else {
		e.stage = append(e.stage, r.Value...)
		if len(e.stage) >= stageSize {
			e.flushStage()
		}
	}
	e.count++
	return e.err
}

// oversize names the first field of r longer than its limit, with its
// length and the limit, or returns "" when r fits.
func (l *settings) oversize(r Record) string {
	switch {
	case uint64(len(r.Key)) > l.maxKey:
		return fmt.Sprintf("key of %d bytes, limit %d", len(r.Key), l.maxKey)
	case uint64(len(r.Index)) > l.maxIndex:
		return fmt.Sprintf("index key of %d bytes, limit %d", len(r.Index), l.maxIndex)
	case uint64(len(r.Value)) > l.maxValue:
		return fmt.Sprintf("value of %d bytes, limit %d", len(r.Value), l.maxValue)
	}
	return ""
}

// flushStage hands the staged records to zstd.
func (e *Encoder) flushStage() {
	if len(e.stage) > 0 {
		e.writeStream(e.stage)
		e.stage = e.stage[:0]
	}
}

// writeStream hands p, a piece of the record stream, to zstd.
func (e *Encoder) writeStream(p []byte) {
	if e.err != nil {
		return
	}
	e.rawCRC = crc32.Update(e.rawCRC, castagnoli, p)
	e.rawLen += int64(len(p))
	if _, err := e.zw.Write(p); err != nil {
		e.err = err
	}
}

// Close ends the compressed stream, writes the footer (the number of
// records added, the lengths and the checksums)
// and flushes everything to the underlying writer. It does not close or
// sync that writer. Later calls return ErrClosed.
func (e *Encoder) Close() error {
	if e.closed {
		return ErrClosed
	}
	e.closed = true
	e.flushStage()
	if e.err == nil {
		if err := e.zw.Close(); err != nil {
			e.err = err
		}
	}
	e.release()
	if e.err != nil {
		return e.err
	}
	f := footer{
		Version: e.h.Version,
		Count:   e.count,
		RawLen:  uint64(e.rawLen),
		CompLen: uint64(e.cw.n),
		RawCRC:  e.rawCRC,
		CompCRC: e.cw.crc,
	}
	var fb [FooterSize]byte
	if _, err := e.w.Write(appendFooter(fb[:0], f)); err != nil {
		e.err = err
		return err
	}
	if err := e.w.Flush(); err != nil {
		e.err = err
		return err
	}
	e.size = HeaderSize + e.cw.n + FooterSize
	return nil
}

// abort gives up the file being written: it releases the zstd encoder and
// makes later calls fail. Nothing more reaches the underlying writer.
func (e *Encoder) abort() {
	if !e.closed {
		e.closed = true
		if e.err == nil {
			e.err = ErrClosed
		}
		e.release()
	}
}

// release returns the zstd encoder to the pool.
func (e *Encoder) release() {
	if e.zw != nil {
		putEncoder(e.zw)
		e.zw = nil
	}
}

// Size returns the number of bytes of the file after a successful Close,
// and 0 before.
func (e *Encoder) Size() int64 { return e.size }

// RawSize returns the length of the uncompressed record stream written so
// far, in bytes.
func (e *Encoder) RawSize() int64 { return e.rawLen + int64(len(e.stage)) }

// Count returns the number of records added so far.
func (e *Encoder) Count() uint64 { return e.count }

// Write writes a snapshot file of the records recs, described by h, to
// dir/FileName(h.Version) and returns its path and size.
//
// recs must yield exactly h.Count records in strictly ascending key order,
// each within the Options limits and none with a Version after h.Version;
// otherwise Write returns an error wrapping ErrCount, ErrOrder, ErrTooLarge
// or ErrVersion that names the record at fault, and leaves no file.
// h.Format must be 0 or FormatVersion, or FormatV1 for a file an older
// build can read (the records' versions are then not stored; else
// ErrFormat). dir must exist.
//
// The file is written under the temporary name FileName+TempSuffix,
// fsynced, closed, renamed to its final name (replacing any file of that
// name), and the directory is fsynced. On any error the temporary file is
// removed (and the final one, if the rename happened but the directory
// fsync failed), and the error is returned. Files are created with mode
// 0600.
//
// Write may be called concurrently for different versions.
func Write(dir string, h Header, recs iter.Seq[Record], opts *Options) (path string, size int64, err error) {
	lim, err := opts.resolve()
	if err != nil {
		return "", 0, err
	}
	switch h.Format {
	case 0:
		h.Format = FormatVersion
	case FormatVersion, FormatV1:
	default:
		return "", 0, fmt.Errorf("%w: %d", ErrFormat, h.Format)
	}
	fsys := lim.fs
	path = filepath.Join(dir, FileName(h.Version))
	tmp := path + TempSuffix
	fileErr := func(op, name string, err error) error { return dberr.WrapFile("snapshot", op, name, err) }

	// A temporary file left by a crash is garbage; O_EXCL below then
	// guarantees the file is new, with mode 0600.
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", 0, fileErr("remove stale", tmp, err)
	}
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, fileErr("create", tmp, err)
	}
	// Until done, any way out (an error, or a panic in recs) removes the
	// temporary file.
	done, fileOpen := false, true
	defer func() {
		if done {
			return
		}
		if fileOpen {
			// The write already failed; a close error adds nothing.
			_ = f.Close()
		}
		if rerr := fsys.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err != nil {
			err = errors.Join(err, fileErr("remove", tmp, rerr))
		}
	}()

	enc, err := newEncoder(f, h, lim)
	if err != nil {
		return "", 0, err
	}
	defer enc.abort() // releases the zstd encoder if Close is not reached
	if err := addAll(enc, h, recs); err != nil {
		if errors.Is(err, ErrOrder) || errors.Is(err, ErrCount) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrVersion) {
			return "", 0, err // the records are at fault, not the file
		}
		return "", 0, fileErr("write", tmp, err)
	}
	if err := enc.Close(); err != nil {
		return "", 0, fileErr("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return "", 0, fileErr("sync", tmp, err)
	}
	fileOpen = false
	if err := f.Close(); err != nil {
		return "", 0, fileErr("close", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return "", 0, fileErr("rename", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		// The rename may or may not be durable: take it back, so that an
		// error always means no snapshot file.
		err = fileErr("sync directory", dir, err)
		if rerr := fsys.Remove(path); rerr != nil {
			err = errors.Join(err, fileErr("remove", path, rerr))
		}
		return "", 0, err
	}
	done = true
	return path, enc.Size(), nil
}

// addAll adds recs to enc, checking that they come in strictly ascending
// key order, that each fits the limits, that there are exactly h.Count of
// them and that none is newer than h.Version. Any other error is one of
// writing the file.
func addAll(enc *Encoder, h Header, recs iter.Seq[Record]) error {
	count := h.Count
	var prev []byte // copy of the previous key: recs may reuse its buffers
	var n uint64
	for r := range recs {
		if n == count {
			return fmt.Errorf("%w: more than the header's %d records", ErrCount, count)
		}
		if n > 0 && bytes.Compare(r.Key, prev) <= 0 {
			return fmt.Errorf("%w: record %d has key %q after %q", ErrOrder, n, clip(r.Key), clip(prev))
		}
		if what := enc.lim.oversize(r); what != "" {
			return fmt.Errorf("%w: record %d: %s", ErrTooLarge, n, what)
		}
		if r.Version > h.Version {
			return fmt.Errorf("%w: record %d (key %q) has version %d, the snapshot %d", ErrVersion, n, clip(r.Key), r.Version, h.Version)
		}
		if err := enc.Add(r); err != nil {
			return err
		}
		prev = append(prev[:0], r.Key...)
		n++
	}
	if n != count {
		return fmt.Errorf("%w: %d records, header says %d", ErrCount, n, count)
	}
	return nil
}
