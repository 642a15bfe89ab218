// Package snapshot writes, reads and verifies dualdb's snapshot files:
// every record of a store at one version, in primary-key order, in one
// zstd-compressed file. (The db package calls writing one a checkpoint;
// its Snapshot type is a read view in memory, not a file.)
//
// # What it guarantees
//
// Write makes a snapshot file atomically: the records go to a temporary
// file (name + TempSuffix) that is fsynced, closed, renamed to its final
// name and made durable with an fsync of the directory. A crash leaves
// either no file, a stale temporary file, or the complete snapshot file,
// never a partial file under the final name. On any error Write removes
// what it created and returns the error.
//
// Read streams a file and hands each record to a callback. Memory stays
// bounded whatever the size of the file: two read buffers (384 KiB, pooled),
// the zstd window (capped by Options.DecoderMaxMemory) and one allocation
// per record. A length prefix is checked against Options.MaxKeySize,
// MaxIndexSize and MaxValueSize before anything is allocated, and a field
// larger than the read buffer is allocated in steps as its bytes arrive, so
// a lying prefix costs at most about twice the bytes really present.
//
// Every byte of a file is covered by a checksum: the header by its own
// CRC32C, the compressed stream by a CRC32C in the footer, the footer by its
// own CRC32C. The footer also carries the record count and a CRC32C of the
// uncompressed record stream, so a file cut at a zstd frame boundary, which
// the zstd frame checksum alone would not notice, is caught. Any damage is
// reported as a *dberr.CorruptionError (errors.Is(err, dberr.ErrCorrupt))
// naming the file and the position: a byte offset in the file for the
// header and footer; for damage inside the compressed stream, the offset
// where the stream starts, with the record number and the offset in the
// uncompressed stream in the reason.
//
// # Caveats
//
// Read calls its callback before the end-of-file checksums can be checked:
// a file whose damage is found only in the footer has already delivered
// some or all of its records. A caller must discard everything it received
// when Read returns an error.
//
// The checks of a snapshot file cover the order of primary keys, not the
// uniqueness of index keys: that is a store invariant, checked when the
// secondary index is rebuilt on load and by the CLI's verify.
//
// Output is deterministic for one build: equal headers and record
// sequences give byte-identical files (one zstd level, the fastest, and
// settings that do not depend on the machine). A newer zstd library may
// compress differently; the format stays readable.
//
// # Errors
//
// Damage in a file is a *dberr.CorruptionError (the db package's
// CorruptionError), whose message starts with "dualdb: corrupt" and names
// the file and the position. Every other error of this package starts with
// "snapshot: ": bad input to Write (ErrOrder, ErrCount and ErrTooLarge,
// wrapped with the record at fault; ErrFormat, ErrVersion) and errors of the file
// system, which name the file once.
//
// # Lifetime of returned slices
//
// The Key, Index and Value slices of a Record passed to Read's callback
// are freshly allocated (one allocation per record, sliced three ways) and
// belong to the callback: it may retain and even modify them. Key, Index
// and Value lie back to back, in this order, in that one allocation: a
// guarantee the db package relies on to keep the memory without a copy
// (TestRead_RecordsAreOneAllocation holds it).
//
// # File format
//
// All integers of the header and footer are big-endian. Versions and
// lengths inside the record stream are unsigned varints
// (encoding/binary.AppendUvarint).
//
//	+--------------------------------------------------------------+
//	| header, HeaderSize = 56 bytes                                |
//	|   0  magic "DUALSNAP"                               8 bytes  |
//	|   8  format version (FormatVersion = 2; 1 is read) u32      |
//	|  12  store id                                      16 bytes |
//	|  28  store version the snapshot captures           u64      |
//	|  36  record count                                  u64      |
//	|  44  flags, reserved, must be 0                    u64      |
//	|  52  CRC32C (Castagnoli) of bytes 0..51            u32      |
//	+--------------------------------------------------------------+
//	| compressed stream: one or more zstd frames whose             |
//	| concatenated content is the record stream:                   |
//	|   record 0, record 1, ... in strictly ascending key order,   |
//	|   each:  uvarint version    (format 2 only)                  |
//	|          uvarint len(key)   | key                            |
//	|          uvarint len(index) | index                          |
//	|          uvarint len(value) | value                          |
//	+--------------------------------------------------------------+
//	| footer, FooterSize = 52 bytes, the last bytes of the file    |
//	|   0  magic "DSNAPEND"                               8 bytes  |
//	|   8  store version (equals the header's)            u64      |
//	|  16  record count (equals the header's)             u64      |
//	|  24  length of the uncompressed record stream       u64      |
//	|  32  length of the compressed stream                u64      |
//	|  40  CRC32C of the uncompressed record stream       u32      |
//	|  44  CRC32C of the compressed stream                u32      |
//	|  48  CRC32C of footer bytes 0..47                   u32      |
//	+--------------------------------------------------------------+
//
// A record's version is the version of the commit that last wrote it, at
// most the snapshot's version (a larger one is corruption); 0 means
// unknown. Format 1, the first, is the same layout without the record
// versions: Read gives its records Version 0, and Write produces it when
// Header.Format asks for FormatV1.
//
// The compressed stream starts at HeaderSize and ends FooterSize bytes
// before the end of the file; its length is recorded in the footer, so a
// file with bytes appended or cut off fails the check. This package writes
// one frame, with the zstd content checksum; a reader accepts any number of
// frames, with or without it.
//
// File names are FileName(version): the version as 20 decimal digits and
// the extension ".dsnap", so that names sort by version.
package snapshot
