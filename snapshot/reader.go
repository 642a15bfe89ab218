package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/dualdb/dualdb/internal/dberr"
)

const (
	// readBufferSize is the size of the buffer between the file and the
	// zstd decoder.
	readBufferSize = 128 << 10
	// recordBufferSize is the size of the buffer of decompressed bytes the
	// records are parsed from. A record that fits in it takes the fast
	// path: one allocation, three copies.
	recordBufferSize = 256 << 10
)

// Read streams the snapshot file at path and calls fn for each record, in
// key order. It returns the file's header.
//
// The slices of each Record are freshly allocated (one allocation per
// record) and belong to fn, which may retain them. If fn returns an error,
// Read stops and returns that error unchanged.
//
// Any damage (bad magic, unknown format, checksum mismatch, records out of
// order, a count that differs between header, stream and footer, a length
// prefix over the Options limits, a truncated file, bytes after the
// footer, a zstd error) is returned as a *dberr.CorruptionError. Read calls
// fn before the file's final checksums are checked: after an error, the
// caller must discard every record it received. Errors of the file system
// are returned wrapped, not as corruption, naming the file once.
//
// Memory stays bounded whatever the size of the file (see the package
// documentation). Read may be called concurrently, on the same file or not.
func Read(path string, opts *Options, fn func(Record) error) (Header, error) {
	lim, err := opts.resolve()
	if err != nil {
		return Header{}, err
	}
	if fn == nil {
		fn = func(Record) error { return nil }
	}
	res, err := decodeFile(path, lim, fn)
	return res.h, err
}

// ReadInto is Read with the memory of the records from alloc: for most
// records (those that lie whole in the reader's buffer), the reader calls
// alloc with the record's version and the lengths of its key, index key
// and value, and places the three fields back to back in the first
// klen+ilen+vlen bytes alloc returns, which the Record's slices then
// alias. Other records get a fresh allocation, as from Read. alloc must
// return at least klen+ilen+vlen bytes; it is called only after the
// lengths are checked against the Options limits.
//
// A bulk loader uses it to lay records out as it keeps them, without a
// copy (btreeidx.Builder.Alloc).
func ReadInto(path string, opts *Options, alloc func(version uint64, klen, ilen, vlen int) []byte, fn func(Record) error) (Header, error) {
	lim, err := opts.resolve()
	if err != nil {
		return Header{}, err
	}
	if fn == nil {
		fn = func(Record) error { return nil }
	}
	res, err := decodeFileInto(path, lim, fn, alloc)
	return res.h, err
}

// ReadHeader reads and checks the header of the snapshot file at path: its
// magic, format version and checksum. It reads nothing else, so it is cheap
// and does not detect damage further in the file; Verify does.
func ReadHeader(path string, opts *Options) (Header, error) {
	lim, err := opts.resolve()
	if err != nil {
		return Header{}, err
	}
	f, err := lim.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return Header{}, dberr.WrapFile("snapshot", "open", path, err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	src := &ioErrReader{r: f}
	var hb [HeaderSize]byte
	if n, err := io.ReadFull(src, hb[:]); err != nil {
		if src.err != nil {
			return Header{}, dberr.WrapFile("snapshot", "read", path, src.err)
		}
		return Header{}, dberr.AtOffset(path, int64(n), "file ends at %d bytes, inside the %d-byte header: truncated", n, HeaderSize)
	}
	return parseHeader(path, hb[:])
}

// result is what decodeFile learned about a file.
type result struct {
	h      Header
	size   int64 // file size
	rawLen int64 // length of the uncompressed record stream
}

// decodeFile reads and checks the whole file at path. It calls fn, if not
// nil, with each record in a fresh allocation; with a nil fn it allocates
// nothing per record (Verify).
func decodeFile(path string, lim settings, fn func(Record) error) (res result, err error) {
	return decodeFileInto(path, lim, fn, nil)
}

// decodeFileInto is decodeFile with the records' memory from alloc, if not
// nil (ReadInto).
func decodeFileInto(path string, lim settings, fn func(Record) error, alloc func(version uint64, klen, ilen, vlen int) []byte) (res result, err error) {
	f, err := lim.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return res, dberr.WrapFile("snapshot", "open", path, err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	st, err := f.Stat()
	if err != nil {
		return res, dberr.WrapFile("snapshot", "stat", path, err)
	}
	res.size = st.Size()
	src := &ioErrReader{r: f}
	ioErr := func(err error) error {
		return dberr.WrapFile("snapshot", "read", path, err)
	}
	bufs := getReadBuffers(src)
	defer putReadBuffers(bufs) // deferred first, so it runs after the decoder is stopped
	br := bufs.br

	// Header.
	var hb [HeaderSize]byte
	if n, err := io.ReadFull(br, hb[:]); err != nil {
		if src.err != nil {
			return res, ioErr(src.err)
		}
		return res, dberr.AtOffset(path, int64(n), "file ends at %d bytes, inside the %d-byte header: truncated", n, HeaderSize)
	}
	h, err := parseHeader(path, hb[:])
	if err != nil {
		return res, err
	}
	res.h = h
	if res.size < HeaderSize+FooterSize {
		return res, dberr.AtOffset(path, res.size, "file is %d bytes, too short for a header and a footer (%d bytes): truncated", res.size, HeaderSize+FooterSize)
	}
	footerOff := res.size - FooterSize
	compLen := footerOff - HeaderSize

	// Compressed stream.
	sr := &streamReader{r: br, left: compLen}
	dec, err := getDecoder(sr, lim.maxMemory)
	if err != nil {
		return res, fmt.Errorf("snapshot: zstd decoder: %w", err)
	}
	// stopDecoder stops the decoder's goroutines, which read sr and br,
	// and returns it to the pool. It must run before the fields of sr or
	// src are read, and before the buffers go back to their pool.
	stopDecoder := sync.OnceFunc(func() { putDecoder(dec) })
	defer stopDecoder()
	rr := &recReader{
		src:      dec,
		buf:      bufs.rec,
		maxKey:   lim.maxKey,
		maxIndex: lim.maxIndex,
		maxValue: lim.maxValue,

		versions:   h.Format != FormatV1,
		maxVersion: h.Version,
		alloc:      alloc,
	}
	streamErr := func(rec uint64, off int64, format string, args ...any) error {
		return &dberr.CorruptionError{
			File:    path,
			Offset:  HeaderSize,
			Version: h.Version,
			Reason:  fmt.Sprintf("compressed stream from offset %d, record %d at uncompressed offset %d: ", HeaderSize, rec, off) + fmt.Sprintf(format, args...),
		}
	}
	var (
		n    uint64 // records read
		prev []byte // previous key (a copy: fn may modify what it gets)
	)
	for {
		start := rr.offset()
		// Records beyond the header's count are parsed, to report how many
		// there are, but not allocated nor given to fn.
		rec, err := rr.next(fn != nil && n < h.Count)
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *streamError
			if errors.As(err, &se) {
				stopDecoder()
				return res, streamErr(n, start, "%s", se.reason)
			}
			// An error of the decoder. Stop it before looking at what its
			// goroutines wrote.
			stopDecoder()
			if src.err != nil {
				return res, ioErr(src.err)
			}
			hint := ""
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF):
				hint = " (the stream is cut short: file truncated?)"
			case n >= h.Count && start == rr.offset():
				hint = " (after the last record: bytes after the zstd data, a damaged footer or garbage appended?)"
			}
			return res, streamErr(n, start, "zstd: %v%s", err, hint)
		}
		if n > 0 && bytes.Compare(rec.Key, prev) <= 0 {
			stopDecoder()
			return res, streamErr(n, start, "key %q is not after the previous key %q: records out of order", clip(rec.Key), clip(prev))
		}
		prev = append(prev[:0], rec.Key...)
		if fn != nil && n < h.Count {
			if err := fn(rec); err != nil {
				stopDecoder()
				return res, err
			}
		}
		n++
	}
	stopDecoder()
	res.rawLen = rr.raw
	if src.err != nil {
		return res, ioErr(src.err)
	}
	if n != h.Count {
		return res, streamErr(n, rr.raw, "the stream holds %d records, the header says %d", n, h.Count)
	}
	if sr.left != 0 {
		return res, dberr.AtOffset(path, footerOff-sr.left, "the zstd stream ends at offset %d, %d bytes before the footer at offset %d", footerOff-sr.left, sr.left, footerOff)
	}

	// Footer.
	var fb [FooterSize]byte
	if _, err := io.ReadFull(br, fb[:]); err != nil {
		if src.err != nil {
			return res, ioErr(src.err)
		}
		return res, dberr.AtOffset(path, footerOff, "file shrank while being read: no footer")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if src.err != nil {
			return res, ioErr(src.err)
		}
		return res, dberr.AtOffset(path, res.size, "file grew while being read: bytes after the footer")
	}
	ft, err := parseFooter(path, footerOff, fb[:])
	if err != nil {
		return res, err
	}
	switch {
	case ft.CompLen != uint64(compLen):
		return res, dberr.AtOffset(path, footerOff+ftrCompLenOff, "the footer gives the compressed stream as %d bytes, the file holds %d: bytes cut out or added", ft.CompLen, compLen)
	case ft.Version != h.Version:
		return res, dberr.AtOffset(path, footerOff+ftrVersionOff, "footer version %d differs from header version %d", ft.Version, h.Version)
	case ft.Count != h.Count:
		return res, dberr.AtOffset(path, footerOff+ftrCountOff, "footer count %d differs from header count %d (the stream holds %d records)", ft.Count, h.Count, n)
	case ft.CompCRC != sr.crc:
		return res, dberr.AtOffset(path, HeaderSize, "compressed stream checksum mismatch: footer at offset %d stores %08x, the %d bytes from offset %d give %08x", footerOff, ft.CompCRC, compLen, HeaderSize, sr.crc)
	case ft.RawLen != uint64(rr.raw):
		return res, dberr.AtOffset(path, footerOff+ftrRawLenOff, "the footer gives the record stream as %d bytes, the stream decompresses to %d", ft.RawLen, rr.raw)
	case ft.RawCRC != rr.crc:
		return res, dberr.AtOffset(path, footerOff+ftrRawCRCOff, "record stream checksum mismatch: footer stores %08x, the %d decompressed bytes give %08x", ft.RawCRC, rr.raw, rr.crc)
	}
	return res, nil
}

// readBufferSet are the buffers of one read, pooled: a small file should
// not pay for allocating and zeroing them.
type readBufferSet struct {
	br  *bufio.Reader // over the file
	rec []byte        // decompressed bytes, recordBufferSize
}

var readBuffers sync.Pool // of *readBufferSet

// getReadBuffers returns a buffer set whose reader reads r.
func getReadBuffers(r io.Reader) *readBufferSet {
	if b, ok := readBuffers.Get().(*readBufferSet); ok {
		b.br.Reset(r)
		return b
	}
	return &readBufferSet{br: bufio.NewReaderSize(r, readBufferSize), rec: make([]byte, recordBufferSize)}
}

// putReadBuffers returns b to the pool, dropping its reference to the file.
func putReadBuffers(b *readBufferSet) {
	b.br.Reset(nil)
	readBuffers.Put(b)
}

// clip shortens a key for an error message.
func clip(b []byte) []byte {
	const max = 64
	if len(b) > max {
		return b[:max]
	}
	return b
}

// ioErrReader remembers the first error, other than io.EOF, of the file it
// reads, so that a failing disk is not reported as a corrupt file.
type ioErrReader struct {
	r   io.Reader
	err error
}

// Read implements io.Reader.
func (x *ioErrReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF && x.err == nil {
		x.err = err
	}
	return n, err
}

// streamReader gives the zstd decoder exactly the compressed stream (left
// bytes) and computes its CRC32C. The decoder may call Read from its own
// goroutine; the fields are read only after the decoder is stopped.
type streamReader struct {
	r    io.Reader
	left int64
	crc  uint32
}

// Read implements io.Reader.
func (s *streamReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.crc = crc32.Update(s.crc, castagnoli, p[:n])
	s.left -= int64(n)
	return n, err
}
