package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/dualdb/dualdb/internal/dberr"
)

// Format versions. Part of the on-disk format, never change: a new layout
// gets a new number.
const (
	// FormatVersion is the format this package writes by default: format
	// 2, whose records carry the version of the commit that last wrote
	// them.
	FormatVersion uint32 = 2
	// FormatV1 is the first format, whose records carry no version. It is
	// still read (its records get Version 0, unknown) and written when
	// asked for, for a reader of an older build.
	FormatV1 uint32 = 1
)

// knownFormat reports whether this package reads and writes format f.
func knownFormat(f uint32) bool { return f == FormatV1 || f == FormatVersion }

// TempSuffix is appended to a snapshot file's name while it is being
// written. A file with this suffix is never a valid snapshot file; a
// leftover one (from a crash) may be removed.
const TempSuffix = ".tmp"

// Ext is the extension of a snapshot file name.
const Ext = ".dsnap"

// Sizes of the fixed parts of a file. Part of the on-disk format, never
// change.
const (
	// HeaderSize is the size of the header at the start of a file.
	HeaderSize = 56
	// FooterSize is the size of the footer at the end of a file.
	FooterSize = 52
)

// Magic numbers. Part of the on-disk format, never change.
const (
	headerMagic = "DUALSNAP"
	footerMagic = "DSNAPEND"
)

// Field offsets in the header. Part of the on-disk format, never change.
const (
	hdrMagicOff   = 0
	hdrFormatOff  = 8
	hdrStoreIDOff = 12
	hdrVersionOff = 28
	hdrCountOff   = 36
	hdrFlagsOff   = 44
	hdrCRCOff     = 52
)

// Field offsets in the footer. Part of the on-disk format, never change.
const (
	ftrMagicOff   = 0
	ftrVersionOff = 8
	ftrCountOff   = 16
	ftrRawLenOff  = 24
	ftrCompLenOff = 32
	ftrRawCRCOff  = 40
	ftrCompCRCOff = 44
	ftrCRCOff     = 48
)

// castagnoli is the CRC32C table. The checksum kind is part of the on-disk
// format, never change.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the fixed header of a snapshot file.
type Header struct {
	Format  uint32   // format version; FormatVersion when written (0 given to Write means FormatVersion)
	StoreID [16]byte // id of the store the file belongs to
	Version uint64   // store version the file captures
	Count   uint64   // number of records
}

// Record is one record of a snapshot file: its primary key, its index
// (secondary) key and its value. Write and Encoder.Add only read the slices
// and do not keep them. A Record given to Read's callback owns its slices,
// which share one allocation but cannot grow into each other.
type Record struct {
	Key, Index, Value []byte
	Version           uint64 // commit that last wrote the record; 0 if unknown (always 0 in format 1)
}

// FileName returns the name of the snapshot file of version: the version
// as 20 decimal digits followed by Ext, so that names sort by version.
func FileName(version uint64) string {
	return fmt.Sprintf("%020d%s", version, Ext)
}

// ParseFileName returns the version named by a snapshot file name made by
// FileName. It returns ok == false for any other name, including temporary
// files (FileName + TempSuffix) and names with a directory part.
func ParseFileName(name string) (version uint64, ok bool) {
	digits, found := strings.CutSuffix(name, Ext)
	if !found || len(digits) != 20 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// appendHeader appends the encoded header to b.
func appendHeader(b []byte, h Header) []byte {
	start := len(b)
	b = append(b, headerMagic...)
	b = binary.BigEndian.AppendUint32(b, h.Format)
	b = append(b, h.StoreID[:]...)
	b = binary.BigEndian.AppendUint64(b, h.Version)
	b = binary.BigEndian.AppendUint64(b, h.Count)
	b = binary.BigEndian.AppendUint64(b, 0) // flags
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseHeader decodes and checks a header read from path. b holds
// HeaderSize bytes.
func parseHeader(path string, b []byte) (Header, error) {
	var h Header
	if string(b[hdrMagicOff:hdrMagicOff+len(headerMagic)]) != headerMagic {
		return h, dberr.AtOffset(path, hdrMagicOff, "bad magic %q, want %q: not a snapshot file", b[hdrMagicOff:hdrMagicOff+len(headerMagic)], headerMagic)
	}
	// The format is checked before the checksum: a later format may lay
	// its header out differently, and "unknown format" is the useful news.
	h.Format = binary.BigEndian.Uint32(b[hdrFormatOff:])
	if !knownFormat(h.Format) {
		return h, dberr.AtOffset(path, hdrFormatOff, "unknown format version %d (this build reads %d and %d)", h.Format, FormatV1, FormatVersion)
	}
	if got, want := crc32.Checksum(b[:hdrCRCOff], castagnoli), binary.BigEndian.Uint32(b[hdrCRCOff:]); got != want {
		return h, dberr.AtOffset(path, hdrCRCOff, "header checksum mismatch: stored %08x, computed %08x", want, got)
	}
	copy(h.StoreID[:], b[hdrStoreIDOff:])
	h.Version = binary.BigEndian.Uint64(b[hdrVersionOff:])
	h.Count = binary.BigEndian.Uint64(b[hdrCountOff:])
	if flags := binary.BigEndian.Uint64(b[hdrFlagsOff:]); flags != 0 {
		return h, dberr.AtOffset(path, hdrFlagsOff, "unknown header flags %#x", flags)
	}
	return h, nil
}

// footer is the decoded footer.
type footer struct {
	Version uint64
	Count   uint64
	RawLen  uint64
	CompLen uint64
	RawCRC  uint32
	CompCRC uint32
}

// appendFooter appends the encoded footer to b.
func appendFooter(b []byte, f footer) []byte {
	start := len(b)
	b = append(b, footerMagic...)
	b = binary.BigEndian.AppendUint64(b, f.Version)
	b = binary.BigEndian.AppendUint64(b, f.Count)
	b = binary.BigEndian.AppendUint64(b, f.RawLen)
	b = binary.BigEndian.AppendUint64(b, f.CompLen)
	b = binary.BigEndian.AppendUint32(b, f.RawCRC)
	b = binary.BigEndian.AppendUint32(b, f.CompCRC)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseFooter decodes and checks the footer found at file offset off. b
// holds FooterSize bytes. Only the footer's own integrity is checked here;
// the caller compares its fields with the header and the stream.
func parseFooter(path string, off int64, b []byte) (footer, error) {
	var f footer
	if string(b[ftrMagicOff:ftrMagicOff+len(footerMagic)]) != footerMagic {
		return f, dberr.AtOffset(path, off+ftrMagicOff, "bad footer magic %q, want %q: file truncated, extended or damaged", b[ftrMagicOff:ftrMagicOff+len(footerMagic)], footerMagic)
	}
	if got, want := crc32.Checksum(b[:ftrCRCOff], castagnoli), binary.BigEndian.Uint32(b[ftrCRCOff:]); got != want {
		return f, dberr.AtOffset(path, off+ftrCRCOff, "footer checksum mismatch: stored %08x, computed %08x", want, got)
	}
	f.Version = binary.BigEndian.Uint64(b[ftrVersionOff:])
	f.Count = binary.BigEndian.Uint64(b[ftrCountOff:])
	f.RawLen = binary.BigEndian.Uint64(b[ftrRawLenOff:])
	f.CompLen = binary.BigEndian.Uint64(b[ftrCompLenOff:])
	f.RawCRC = binary.BigEndian.Uint32(b[ftrRawCRCOff:])
	f.CompCRC = binary.BigEndian.Uint32(b[ftrCompCRCOff:])
	return f, nil
}

// crc32Update adds p to the CRC32C crc.
func crc32Update(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }
