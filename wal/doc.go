// Package wal is dualdb's write-ahead log, kept in a bbolt file (wal.db).
//
// # What it guarantees
//
// Append writes a batch of versioned records in ONE bbolt read-write
// transaction: either every record of the batch is durable when Append
// returns nil (unless the log was opened with NoSync), or none is visible
// after a crash. bbolt's copy-on-write pages and double meta page make the
// commit atomic, so the log never has a torn tail to repair. Versions are
// contiguous: Append refuses a batch that does not continue the log, and
// Replay reports a gap as corruption naming the missing version.
//
// A failed Append leaves the outcome unknown (bbolt may have written its
// meta page before the error). The caller must not retry; dualdb fails the
// store closed and lets the next Open decide from what is on disk.
//
// # Damaged pages
//
// bbolt panics when it reads a damaged page. Every method of Log, and
// Open, recovers such a panic and returns a *dberr.CorruptionError naming
// the file instead, so a damaged wal.db never crashes its host. One
// limit: when the panic comes from inside bbolt's own Open after it mapped
// the file (a damaged freelist page), the mapping cannot be released, and
// this process keeps the file's lock until it exits; later Opens of that
// file in the same process return ErrLocked.
//
// # Errors
//
// Errors of this package start with "wal: " and name the file once. A
// damaged file gives a *dberr.CorruptionError (errors.Is(err,
// dberr.ErrCorrupt)) naming the file and the version or offset; a file
// held by another writer gives an error wrapping dberr.ErrLocked. Those
// two are the store's own error kinds, re-exported by the db package, and
// start with "dualdb: ".
//
// # File layout
//
// Bucket "log": key = 8-byte big-endian version, value = one record.
// Bucket "meta": small values the db package owns (format, store id,
// options fixed at creation, the list of snapshot files).
//
// # Record format
//
// Part of the on-disk format: never change; add a new record format byte
// instead.
//
//	+--------+-----------+------------------------------+-----------+
//	| format | op count  | op 1 ... op n                | CRC32C    |
//	| 1 byte | uvarint   |                              | 4 bytes BE|
//	+--------+-----------+------------------------------+-----------+
//
//	op (put):           | 0x01 | uvarint klen | key | uvarint ilen | index | uvarint vlen | value |
//	op (delete):        | 0x02 | uvarint klen | key |
//	op (delete-record): | 0x03 | uvarint klen | key | uvarint ilen | index | uvarint vlen | value | uvarint version |
//
// A delete-record op removes the record with key, like a delete, and also
// carries the record it removed: its index key, value and the version of
// the commit that last wrote it (0 if unknown), so that a reader of the
// log (the change feed) can say what went away. Writers use it for every
// delete; the shorter delete op is what builds before it wrote, and still
// decodes and replays. A build that predates delete-record reports a log
// holding one as an unknown op kind, never misreads it.
//
// Every uvarint is in its shortest form (a longer one is rejected, so a
// record has exactly one encoding); the op count may be zero.
//
// The CRC32C (Castagnoli) covers the 8-byte big-endian version followed by
// every byte before the checksum, so a record stored under the wrong key is
// caught as well as a flipped bit. Decoding never trusts a length: every
// length is checked against the bytes that remain before anything is
// sliced or allocated.
//
// # Returned slices
//
// Ops passed to Replay's callback alias bbolt's memory-mapped pages and are
// valid only during the call; copy what you keep. The ops Read returns are
// copies: they belong to the caller and stay valid.
package wal
