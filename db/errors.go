package db

import (
	"errors"

	"github.com/dualdb/dualdb/internal/dberr"
)

// Errors returned by dualdb. Test for them with errors.Is; the wrapping
// types carry details and are reached with errors.As.
//
// Every error names its origin once, at its start: "dualdb: " for the
// store's own errors (these values, and the files the db package itself
// creates, lists or removes), "wal: " or "snapshot: " for the file those
// packages read or write, which the db package returns as they are. Added
// context never repeats a prefix or a path: an error names each file at
// most once.
var (
	// ErrNotFound is returned when no record has the key or index key asked
	// for (Get, GetByIndex, Delete, Tx.Get, Tx.GetByIndex, Tx.Delete).
	ErrNotFound = dberr.ErrNotFound

	// ErrConflict is returned by Put, Insert and PutAll when an index key
	// belongs to a record with another key, and by PutAll when two records
	// of the batch ask for one index key. It is wrapped by *ConflictError,
	// which says which.
	ErrConflict = dberr.ErrConflict

	// ErrExists is returned by Insert when a record with the key exists.
	// The error wrapping it names the key.
	ErrExists = errors.New("dualdb: key exists")

	// ErrCompacted is yielded by Changes when a version it must yield is
	// no longer in the WAL, removed by a checkpoint: the consumer resyncs
	// from a Snapshot and continues after the Snapshot's Version.
	ErrCompacted = errors.New("dualdb: change feed position compacted away")

	// ErrDuplicateKey is returned by PutAll when its batch names one key
	// twice; the whole batch is refused.
	ErrDuplicateKey = dberr.ErrDuplicateKey

	// ErrClosed is returned by every method of a DB that returns an error,
	// once Close has been called, and by a Tx used after its Update returned.
	ErrClosed = errors.New("dualdb: database is closed")

	// ErrCorrupt is returned when a file of the store fails a check. It is
	// wrapped by *CorruptionError, which names the file and the position.
	ErrCorrupt = dberr.ErrCorrupt

	// ErrTooLarge is returned when a key, index key or value is larger than
	// Options.MaxKeySize or Options.MaxValueSize.
	ErrTooLarge = errors.New("dualdb: key or value too large")

	// ErrEmptyKey is returned when Put, Insert, PutAll, Delete or Get names
	// an empty key. (An empty index key is valid.)
	ErrEmptyKey = errors.New("dualdb: empty key")

	// ErrNotStore is returned by Open, Verify, Inspect and PlanRepair when
	// the directory is not a dualdb store: read-only on a missing or empty
	// directory, or any mode on a directory that holds files dualdb did not
	// write and no wal.db. Nothing is written.
	ErrNotStore = errors.New("dualdb: not a dualdb store")

	// ErrReadOnly is returned by writes to a DB opened with ReadOnly.
	ErrReadOnly = errors.New("dualdb: database is read-only")

	// ErrLocked is returned by Open when another DB, in this process or
	// another, holds the store.
	ErrLocked = dberr.ErrLocked

	// ErrFailed is returned by writes after a write to the WAL failed. The
	// outcome of the failed commit is unknown (an fsync error may have lost
	// it or not), so the DB fails closed: readers keep the last durable
	// version, writers get ErrFailed, and only a new Open, whose recovery
	// reads what is really on disk, can write again. The error returned
	// wraps both ErrFailed and the original cause.
	ErrFailed = errors.New("dualdb: database failed closed after a write error; reopen it")
)

// CorruptionError describes damage found in one file of a store: the file,
// a byte offset (or -1) or a version (or 0), and the reason.
// errors.Is(err, ErrCorrupt) holds for it.
type CorruptionError = dberr.CorruptionError

// ConflictError says which record owns the index key a Put asked for.
// errors.Is(err, ErrConflict) holds for it.
type ConflictError = dberr.ConflictError
