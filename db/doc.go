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
// index updated and the other not. Put, Delete and Update are atomic and,
// with default options, durable when they return nil: the commit is in
// the write-ahead log (wal.db, a bbolt file) and fsynced. Put, Delete,
// Update, Get and GetByIndex are linearizable, refusals included (a Put
// refused with ErrConflict waits until the commit it conflicts with is
// durable).
//
// Concurrent writers share fsyncs (group commit): commits that queue while
// one WAL transaction is being written go to disk together in the next,
// without a timer. If a WAL write fails the DB fails closed: that commit
// and every later write return ErrFailed, readers keep the last durable
// version, and only a new Open, whose recovery reads what is on disk, can
// write again. A failed fsync is never retried.
//
// Snapshot files (snap/*.dsnap, zstd-compressed) are written in the
// background every Options.CheckpointEvery commits or
// Options.CheckpointBytes of WAL, or by Checkpoint. Open loads the newest
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
// Put, Delete and Tx.Put copy their arguments: the caller may reuse its
// buffers at once. A Record returned by any method aliases the store's
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
// 100-byte values, see BENCHMARKS.md); the files are for durability and
// recovery. A read-only Open fails with ErrLocked while a writer holds the
// store: ask the writer over its socket instead. Verify and Inspect hold
// the shared lock for as long as they run.
// Options.NoSync gives up durability for speed: a process crash loses
// nothing acknowledged, but a power loss may lose the newest commits and
// may leave wal.db damaged, which Open then reports.
package db
