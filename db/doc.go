// Package db is dualdb's public API: an embedded, persistent store of
// records with two keys, a primary key and a unique secondary ("index")
// key, such as users by id and by e-mail.
//
//	d, err := db.Open("users.db", nil) // nil: defaults
//	err = d.Put([]byte("user:1"), []byte("ada@example.com"), profile)
//	r, err := d.GetByIndex([]byte("ada@example.com")) // r.Key == "user:1"
//
// # Guarantees
//
// Both keys are held in ordered in-memory B-trees, so iteration by either
// key is deterministic. Every commit changes both indexes under one version
// number, and readers see whole versions only: no reader ever observes one
// index updated and the other not. Every write (Put, Insert, PutAll,
// Delete, Update) is atomic and, with default options, durable when it
// returns nil: the commit is in the write-ahead log (wal.db, a bbolt file)
// and fsynced. Writes, Get and GetByIndex are linearizable, refusals
// included (a Put refused with ErrConflict waits until the commit it
// conflicts with is durable).
//
// # Writes
//
// Put inserts or replaces; Insert only inserts (ErrExists if the key is
// present); Delete removes. PutAll stores a batch of records as one step:
// index keys that records of the batch give up are free for the batch to
// take, so a swap or rotation of index keys is one call. The batch is
// checked as a whole before anything changes: an index key that would be
// owned twice at the end, by a record outside the batch or by two records
// of the batch, refuses the whole batch with a *ConflictError, and a key
// named twice refuses it with ErrDuplicateKey. A refused write changes
// nothing and takes no version; inside Update it leaves the transaction as
// it was, free to go on. DB.Put, DB.Insert, DB.PutAll and DB.Delete are
// each one durable commit; Update groups any number of Tx calls into one.
//
// Every record carries Record.Version, the version of the commit that last
// put it. Versions survive checkpoints and reopening; 0 means unknown (a
// record loaded from a snapshot file written before versions were kept,
// and not written since). Inside a transaction, the records it writes
// carry the version it will commit as.
//
// # Iteration
//
// Snapshot and Tx have the same iterators (iter.Seq[Record]): Ascend and
// Descend by key, AscendIndex and DescendIndex by index key, with bounds
// in the direction of iteration (from inclusive, to exclusive, nil for an
// open end), and AscendPrefix and AscendIndexPrefix for every record whose
// key, or index key, starts with a prefix (an empty prefix: all), in
// ascending order. A Snapshot's iterators read its fixed version. A Tx's
// iterators read the transaction's own state, its writes included, as of
// the start of each iteration: writes made in the loop body are not seen
// by that iteration (which neither skips nor repeats records because of
// them) but by every later read. Breaking out of a loop stops an
// iteration.
//
// # Change feed
//
// Changes(ctx, after) yields every durable commit with a version after
// after as a Change: its version and its ops, in commit order, each
// exactly once and in version order. A Put op holds the record written
// (with the commit's version); a Delete op the record removed (with the
// version that had written it). Applied in order, the ops of version v
// turn the state at v-1 into the state at v, without a conflict: a PutAll
// that moves index keys shows as Deletes of the records giving theirs up,
// then its Puts. So a replica that starts empty at version 0, or from a
// Snapshot at version V and Changes(ctx, V), is at every later version
// exactly the store. When caught up, the feed waits for the next durable
// commit until ctx is done, then yields ctx's error.
//
// The feed reads the WAL, which holds the commits after the oldest kept
// snapshot. A consumer further behind than that gets ErrCompacted (never
// a gap): it resyncs from a Snapshot and continues from its Version. With
// automatic checkpoints and the default two snapshots kept, a consumer may
// fall at least Options.CheckpointEvery commits behind before that
// happens; explicit Checkpoint calls and KeepSnapshots 1 shorten it. The store keeps no
// buffer per consumer: each reads the WAL at its own pace, in bounded
// steps, so a slow consumer slows only itself, and with no consumer
// commits cost nothing more. AppendChangeJSON is the feed's JSON line
// format, the one `dualdb watch` prints.
//
// In the WAL a delete is logged with the record it removes (op kind
// delete-record, see package wal), which is what lets the feed name it. A
// delete logged by a build before the feed carries only its key.
//
// # Typed tables
//
// NewTable gives a typed view of a DB: Table[T] stores values of T under
// keys derived from them, encoded by a Codec (JSON by default), with Put,
// Insert, Get, GetByIndex, Delete, Update (read-modify-write in one
// transaction) and iterators yielding T.
//
// Concurrent writers share fsyncs (group commit): commits that queue while
// one WAL transaction is being written go to disk together in the next,
// without a timer. If a WAL write fails the DB fails closed: that commit
// and every later write return ErrFailed, readers keep the last durable
// version, and only a new Open, whose recovery reads what is on disk, can
// write again. A failed fsync is never retried.
//
// Snapshot files (snap/*.dsnap, zstd-compressed) are written in the
// background every Options.CheckpointEvery commits, or once the WAL since
// the last one holds a quarter as many bytes as the store's records did
// then (at least Options.CheckpointBytes), or by Checkpoint. Open loads the newest
// snapshot file that verifies, rebuilds the secondary index and replays the
// WAL after it; a corrupt newest snapshot file is skipped, with a logged
// warning, for the older one, which the WAL always continues when two or more are
// kept (the default; with KeepSnapshots 1 there is no older one). A file that fails its
// checks is reported as ErrCorrupt wrapped by a *CorruptionError naming
// the file and the position, and is never loaded as if it were good.
//
// # Concurrency
//
// A *DB is safe for concurrent use. Readers (Get, GetByIndex, Snapshot,
// View and the iterators) take no lock and never block writers or wait for
// them; they read the last durable version through one atomic pointer.
// Writers are serialized by one lock, held while a transaction's function
// runs and released before its commit is written to disk. Keep Update
// functions short: they run under that lock.
//
// A *Snapshot is an immutable version, safe for concurrent use, and costs
// nothing to keep: the writer copies shared B-tree nodes lazily before it
// changes them (copy-on-write). A *Tx belongs to one Update call and one
// goroutine.
//
// # Lifetime of slices
//
// Every write (Put, Insert, PutAll, Delete and their Tx forms) copies its
// arguments: the caller may reuse its buffers at once. A Record returned by any method aliases the store's
// immutable memory: it stays valid forever (also after Close, also after
// the record is replaced or deleted) and must not be modified.
//
// # Files
//
// A store is a directory (mode 0700) holding wal.db (the WAL and the
// store's meta data) and snap/ with the kept snapshot files (mode 0600).
// bbolt's file lock keeps a second writer, in this process or another, out:
// Open returns ErrLocked (wrapped by a *LockedError saying whether a writer
// or read-only opens hold the store) instead of hanging. While a writer
// holds the store, dualdb.sock is its operator socket. The on-disk
// formats are documented in the wal and snapshot packages; Verify and the
// dualdb command check a store without writing to it.
//
// Nothing is destroyed by accident. Open decides whether a directory is a
// new store from all of its contents, never from wal.db alone: only a
// missing or empty directory (or one holding nothing but an empty wal.db,
// a first Open cut short) is made a store. A store whose wal.db is
// missing, empty, truncated or unreadable is ErrCorrupt naming wal.db,
// and a directory of other files is ErrNotStore; nothing is written in
// either case. dualdb deletes only files it can prove are its own (see
// ClassifyName): snapshot temp files, and snapshot files its meta data
// records as superseded or in progress. Any other file is left alone and named in
// one logged warning. A lost wal.db is rebuilt from the newest snapshot
// file only on request, by PlanRepair and Repair (`dualdb repair`).
//
// # Live operations
//
// A read-only Open holds wal.db's shared lock only while it loads the
// store, then serves from memory: it never keeps a writer out for longer
// than its load, and a writer's Open waits for such readers up to
// Options.LockTimeout. Against a writer, Open fails fast with ErrLocked.
//
// The process that holds a store for writing answers operator requests
// about it: Handler serves status, inspect, verify, get, scan, export,
// backup and checkpoint over HTTP, and Open serves it on the Unix socket
// dualdb.sock in the store directory (mode 0600, so only the owner's uid
// and root can connect, and on Linux the server checks the peer's uid as
// well; no TCP listener unless the application mounts Handler on its own
// server). Options.NoAdminSocket turns the socket off.
// A failure to listen (a path too long for a socket, a read-only
// directory) is logged and never fails Open; Close removes the socket,
// and one left by a killed process is replaced by the next writer, which
// holds the lock. Requests read from a Snapshot and never block writers;
// only POST /v1/checkpoint writes. They are bounded: at most
// AdminMaxRequests at once, ScanMaxLimit records per scan, one backup at
// a time, and a client that stops reading is cut off.
//
// Backup writes a verifiable snapshot file of one version to any
// io.Writer without blocking writers or copying the store; Restore makes a
// new store of one. VerifySnapshot checks a backup file on its own.
//
// # Caveats
//
// The whole store lives in memory (about 300 bytes per record with
// 100-byte values, see docs/benchmarks.md); the files are for durability and
// recovery. A read-only Open fails with ErrLocked while a writer holds the
// store: ask the writer over its socket instead. Verify and Inspect hold
// the shared lock for as long as they run.
// Options.NoSync gives up durability for speed: a process crash loses
// nothing acknowledged, but a power loss may lose the newest commits and
// may leave wal.db damaged, which Open then reports.
package db
