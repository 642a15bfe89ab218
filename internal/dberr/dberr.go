// Package dberr holds the error values shared by the db, wal and snapshot
// packages, so that a corruption found deep in a file reader is the same
// error value the public db package documents. The db package re-exports
// them; users never import this package.
//
// These errors are the store's own kinds, so they carry the library's
// prefix, "dualdb: ", once. Errors of one package (wal, snapshot) carry
// that package's prefix instead; see WrapFile for the errors of the file
// system.
package dberr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrCorrupt is returned when a file of the store fails a check: a bad
// checksum, a version gap, a malformed record. It is always wrapped by a
// *CorruptionError that names the file and the position.
var ErrCorrupt = errors.New("dualdb: corrupt store file")

// CorruptionError describes damage found in one file of a store.
//
// Offset is a byte offset in File, or -1 when the position is a version.
// Version is the WAL or snapshot version concerned, or 0 when unknown.
type CorruptionError struct {
	File    string // path of the damaged file
	Offset  int64  // byte offset of the damage, -1 if not known
	Version uint64 // version of the damaged record, 0 if not known
	Reason  string // what is wrong, for humans
}

// Error implements error.
func (e *CorruptionError) Error() string { return "dualdb: corrupt " + Describe(e) }

// Describe says where and what the damage of e is, "file at offset N
// (version V): reason", for a message that already says it is corruption
// and carries its prefix: one that lists several damaged files, say.
func Describe(e *CorruptionError) string {
	switch {
	case e.Offset >= 0 && e.Version != 0:
		return fmt.Sprintf("%s at offset %d (version %d): %s", e.File, e.Offset, e.Version, e.Reason)
	case e.Offset >= 0:
		return fmt.Sprintf("%s at offset %d: %s", e.File, e.Offset, e.Reason)
	case e.Version != 0:
		return fmt.Sprintf("%s at version %d: %s", e.File, e.Version, e.Reason)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

// AtOffset returns a *CorruptionError for a byte position in file.
func AtOffset(file string, off int64, format string, args ...any) error {
	return &CorruptionError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// AtVersion returns a *CorruptionError for a versioned record in file.
func AtVersion(file string, version uint64, format string, args ...any) error {
	return &CorruptionError{File: file, Offset: -1, Version: version, Reason: fmt.Sprintf(format, args...)}
}

// ErrConflict is returned when a Put names an index key that belongs to
// another record. It is wrapped by *ConflictError.
var ErrConflict = errors.New("dualdb: index key belongs to another record")

// ConflictError says which record owns the index key a Put asked for.
type ConflictError struct {
	Index []byte // the index key that was asked for
	Key   []byte // the key asked to carry it
	Owner []byte // the key of the record that owns Index
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("dualdb: index key %q for key %q belongs to key %q", e.Index, e.Key, e.Owner)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrDuplicateKey is returned when one PutAll names a key twice.
var ErrDuplicateKey = errors.New("dualdb: key given twice in one batch")

// ErrNotFound is returned when a key or index key is not in the store.
var ErrNotFound = errors.New("dualdb: not found")

// ErrLocked is returned when another open DB, writer or reader, in this
// process or another, holds the lock of the store's WAL file (wal.db)
// that the caller needs.
var ErrLocked = errors.New("dualdb: store is locked by another open DB")

// WrapFile adds context to err, an error of the operation op (a verb:
// "open", "write", "rename") on the file path: "prefix: op path: err".
// When err already names path, as the *fs.PathError and *os.LinkError of
// the os package do, only the prefix is added ("prefix: err"), so that a
// message never repeats a path. prefix is the package's, without colon
// ("wal", "snapshot"). A nil err gives nil.
func WrapFile(prefix, op, path string, err error) error {
	if err == nil {
		return nil
	}
	if namesPath(err, path) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return fmt.Errorf("%s: %s %s: %w", prefix, op, path, err)
}

// namesPath reports whether the message of err already holds path in a
// *fs.PathError or *os.LinkError.
func namesPath(err error, path string) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return true
	}
	var le *os.LinkError
	return errors.As(err, &le) && (le.Old == path || le.New == path)
}
