package snapshot

import "errors"

// Errors returned by Write and the Encoder for bad input. Each carries the
// package prefix, "snapshot: "; the error returned wraps it and adds what
// is wrong (which record, which size). Damage found in a file is never one
// of these: it is a *dberr.CorruptionError naming the file and the
// position. Errors of the file system are wrapped with the prefix and the
// file's path, named once.
var (
	// ErrOrder is returned by Write when the records are not in strictly
	// ascending key order.
	ErrOrder = errors.New("snapshot: records not in strictly ascending key order")

	// ErrCount is returned by Write when the number of records differs
	// from Header.Count.
	ErrCount = errors.New("snapshot: record count differs from the header's")

	// ErrTooLarge is returned by Write and Encoder.Add when a key, index
	// key or value is longer than the Options limit, which a reader would
	// reject.
	ErrTooLarge = errors.New("snapshot: record field too large")

	// ErrFormat is returned by Write when Header.Format is neither 0,
	// FormatV1 nor FormatVersion.
	ErrFormat = errors.New("snapshot: unsupported format version")

	// ErrVersion is returned by Write when a record's Version is after the
	// Header's Version: no record of a snapshot can be newer than it.
	ErrVersion = errors.New("snapshot: record version after the snapshot's version")

	// ErrClosed is returned by Encoder methods called after Close.
	ErrClosed = errors.New("snapshot: encoder closed")
)
