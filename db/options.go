package db

import (
	"log/slog"
	"time"

	"github.com/dualdb/dualdb/internal/limits"
	"github.com/dualdb/dualdb/vfs"
)

// Defaults for zero Options fields.
const (
	DefaultCheckpointEvery = 100_000                    // WAL records between automatic checkpoints
	DefaultCheckpointBytes = 64 << 20                   // least WAL bytes between automatic checkpoints
	DefaultKeepSnapshots   = 2                          // snapshot files kept
	DefaultMaxKeySize      = limits.DefaultMaxKeySize   // bytes, for keys and index keys: 64 KiB
	DefaultMaxValueSize    = limits.DefaultMaxValueSize // bytes: 16 MiB
	DefaultLockTimeout     = 5 * time.Second            // how long a writer waits for loading readers
)

// Options configure Open. A nil *Options and zero fields mean defaults.
type Options struct {
	// NoSync skips fsync on commit: faster, and not durable. A crash of
	// the process loses nothing acknowledged (the OS still has it). A power
	// loss or OS crash may lose the newest commits, never half of one, and
	// may also leave wal.db damaged: bbolt does not order its writes
	// without fsync. Open then fails with ErrCorrupt naming the file; it
	// never loads the damage as good. Checkpoints still fsync what they
	// rely on. Default false: a commit is durable when it returns.
	NoSync bool

	// ReadOnly opens the store without writing anything. Writes return
	// ErrReadOnly. The store must exist. A read-only Open takes a shared
	// lock on wal.db only while it loads the store, then releases it and
	// serves from memory: it never keeps a writer out for longer than its
	// load. It returns ErrLocked, saying a writer holds the store, after
	// waiting about 500ms for a writer.
	ReadOnly bool

	// LockTimeout is how long a writer's Open waits for read-only opens
	// that are loading the store to release it before it returns
	// ErrLocked. Against another writer Open gives up after about 250ms
	// whatever this says. 0 means DefaultLockTimeout.
	LockTimeout time.Duration

	// NoAdminSocket turns off the operator socket. By default (false) a
	// writer serves Handler's requests on the Unix socket
	// <dir>/dualdb.sock while the store is open (see the package
	// documentation, "Live operations"). Read-only opens never serve.
	NoAdminSocket bool

	// CheckpointEvery is the number of WAL records (commits) between
	// automatic checkpoints, each of which writes a snapshot file in the
	// background. 0 means DefaultCheckpointEvery; a negative value turns
	// automatic checkpoints off (Checkpoint still works).
	CheckpointEvery int

	// CheckpointBytes is the least number of WAL bytes between automatic
	// checkpoints, so that a few large commits (a bulk load) also get one.
	// The byte trigger grows with the store: a checkpoint is due once the
	// WAL written since the last automatic one reaches the larger of
	// CheckpointBytes and a quarter of the record bytes (keys, index keys
	// and values) of the store at the last checkpoint. A store that grows
	// thus takes a number of checkpoints logarithmic in its size, and their
	// total work is linear in it (about five times the store at most),
	// while Open replays at most about a quarter of the store's worth of
	// WAL after the newest snapshot. 0 means DefaultCheckpointBytes; a
	// negative value turns this trigger off. A checkpoint runs when either
	// trigger is reached, unless CheckpointEvery is negative, which turns
	// automatic checkpoints off.
	CheckpointBytes int64

	// KeepSnapshots is how many snapshot files are kept; the WAL keeps every
	// record after the oldest of them. 0 means DefaultKeepSnapshots.
	KeepSnapshots int

	// MaxKeySize caps keys and index keys, in bytes; 0 means
	// DefaultMaxKeySize. MaxValueSize caps values, in bytes; 0 means
	// DefaultMaxValueSize. Larger input gets ErrTooLarge.
	MaxKeySize, MaxValueSize int

	// Logger receives warnings (a snapshot file that fails its check,
	// skipped for an older one; a failed background checkpoint). nil means slog.Default().
	Logger *slog.Logger

	// Observer, if set, is told about commits, checkpoints, recovery and
	// scans; the metrics package implements it. nil means no observer.
	Observer Observer

	// OrderCheckInterval, if positive, runs an online invariant check in the
	// background at that interval: it takes a Snapshot (never blocking
	// writers) and checks order and bijection of both indexes, in full for
	// stores of up to OrderCheckFullLimit records and on a bounded random
	// sample of ranges above. Findings are logged with the version and
	// reported to the Observer. 0 means off.
	OrderCheckInterval time.Duration

	// OrderCheckFullLimit is the largest store checked in full by the online
	// check; 0 means 100,000 records.
	OrderCheckFullLimit int

	// FS is the file system for snapshot files and the directory; nil means
	// vfs.OS. Tests wrap it to inject faults. wal.db is always on the OS
	// file system (bbolt opens it).
	FS vfs.FS
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.CheckpointEvery == 0 {
		out.CheckpointEvery = DefaultCheckpointEvery
	}
	if out.CheckpointBytes == 0 {
		out.CheckpointBytes = DefaultCheckpointBytes
	}
	if out.KeepSnapshots <= 0 {
		out.KeepSnapshots = DefaultKeepSnapshots
	}
	if out.MaxKeySize <= 0 {
		out.MaxKeySize = DefaultMaxKeySize
	}
	if out.MaxValueSize <= 0 {
		out.MaxValueSize = DefaultMaxValueSize
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.OrderCheckFullLimit <= 0 {
		out.OrderCheckFullLimit = 100_000
	}
	if out.LockTimeout <= 0 {
		out.LockTimeout = DefaultLockTimeout
	}
	if out.FS == nil {
		out.FS = vfs.OS
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
