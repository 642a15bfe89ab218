package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	"github.com/dualdb/dualdb/internal/dberr"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names. Part of the on-disk format: never change.
var (
	logBucket  = []byte("log")
	metaBucket = []byte("meta")
)

// Options configure Open. The zero value is valid.
type Options struct {
	// NoSync skips fsync on Append: faster, and a crash may lose the newest
	// batches (never part of one).
	NoSync bool
	// ReadOnly opens the file with a shared lock and refuses writes.
	ReadOnly bool
	// LockTimeout is how long Open waits for the file lock before it
	// returns an error wrapping dberr.ErrLocked (a *LockedError). 0 means
	// 500ms. A writer gives up after about 250ms when the holder is a
	// writer, and waits the whole timeout while only read-only opens hold
	// the file.
	LockTimeout time.Duration
}

// Entry is one record to append: its version and its encoded bytes (from
// AppendRecord).
type Entry struct {
	Version uint64
	Data    []byte
}

// Log is an open write-ahead log. All its methods are safe for concurrent
// use: bbolt runs one read-write transaction at a time (Append, Truncate
// and PutMeta queue for it) beside any number of readers.
type Log struct {
	db   *bolt.DB
	path string
}

// openOnce opens or creates the log at path, waiting at most timeout for
// the file lock.
func openOnce(path string, opts *Options, timeout time.Duration) (_ *Log, err error) {
	// bbolt panics on some damaged pages while opening. Keep the file it
	// opens so that a recovered panic can still close it: an open
	// descriptor would hold the lock and make every later Open ErrLocked.
	var file *os.File
	var bdb *bolt.DB
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			closeAfterPanic(bdb, file)
			err = dberr.AtOffset(path, -1, "bbolt found a damaged page while opening: %v", r)
		}
	}()
	st, statErr := os.Stat(path)
	existed := statErr == nil
	switch {
	case opts.ReadOnly && statErr != nil:
		return nil, dberr.WrapFile("wal", "open", path, statErr)
	case existed && !st.Mode().IsRegular():
		return nil, dberr.AtOffset(path, -1, "not a regular file (%s)", st.Mode().Type())
	case existed && st.Size() == 0:
		// bbolt would take an empty file for a new one and initialize it.
		return nil, dberr.AtOffset(path, 0, "empty file (0 bytes)")
	}
	if existed {
		if err := checkSize(path, st.Size()); err != nil {
			return nil, err
		}
	}
	if existed && !opts.ReadOnly {
		if err := precheck(path, timeout); err != nil {
			return nil, err
		}
	}
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  timeout,
		NoSync:   opts.NoSync,
		ReadOnly: opts.ReadOnly,
		// Keep the freelist on disk. Without it bbolt rebuilds the freelist
		// by scanning every page in a goroutine of its own, where a damaged
		// page panics beyond any recover of ours and kills the process.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	db := bdb
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, lockedError(path, opts.ReadOnly)
	}
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, dberr.AtOffset(path, 0, "bbolt: %v", err)
		}
		var pe *fs.PathError
		if existed && !errors.As(err, &pe) {
			// Not an I/O error on the file: bbolt refused its contents
			// ("file size too small", a bad page size...). The file is
			// not a WAL this package wrote, or no longer whole.
			return nil, dberr.AtOffset(path, 0, "not a valid bbolt file: %v", err)
		}
		return nil, dberr.WrapFile("wal", "open", path, err)
	}
	l := &Log{db: db, path: path}
	if !opts.ReadOnly && !l.hasBuckets() {
		// Only a new file lacks them: a read-write Open of an existing
		// log writes nothing.
		err = db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(logBucket); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(metaBucket)
			return err
		})
		if err != nil {
			_ = db.Close()
			return nil, dberr.WrapFile("wal", "create the buckets of", path, err)
		}
	}
	return l, nil
}

// hasBuckets reports whether the log and meta buckets exist.
func (l *Log) hasBuckets() (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_ = l.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(logBucket) != nil && tx.Bucket(metaBucket) != nil
		return nil
	})
	return ok
}

// guard turns a panic raised inside bbolt into a corruption error naming
// the file. Every method that reads the mapped file also turns memory
// faults into panics (debug.SetPanicOnFault) for its duration: a damaged
// page can point bbolt at an address outside the mapping, which would
// otherwise kill the process. bbolt panics when it meets a damaged page (a bad page id, a
// page of the wrong type); a store must report that, not crash its host.
// bbolt rolls its transaction back before the panic reaches us.
func (l *Log) guard(err *error) {
	if r := recover(); r != nil {
		*err = dberr.AtOffset(l.path, -1, "bbolt found a damaged page: %v", r)
	}
}

// precheck reads every page of an existing file through a read-only bbolt
// handle, in this goroutine, so that a damaged page panics where guard
// can turn it into a corruption error. A read-write bbolt Open of a file
// without a synced freelist walks every page in a goroutine of its own,
// where the same panic would kill the process. The WAL is kept short by
// checkpoints, so the walk costs little.
func precheck(path string, timeout time.Duration) (err error) {
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return lockedError(path, true) // a shared lock waits only for a writer
	}
	if err != nil {
		return nil // the read-write Open below reports it
	}
	l := &Log{db: db, path: path}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error { return nil })
		})
	})
}

// closeAfterPanic releases what a bbolt Open that panicked holds: the
// handle if Open returned one (Close unmaps and unlocks), else the file. A
// mapping keeps the open file description, and so its lock, alive.
func closeAfterPanic(db *bolt.DB, file *os.File) {
	defer func() { _ = recover() }()
	if db != nil {
		_ = db.Close()
		return
	}
	if file != nil {
		_ = file.Close()
	}
}

// Close closes the file.
func (l *Log) Close() error { return l.wrap("close", l.db.Close()) }

// wrap gives err, an error of bbolt while doing op on the file, the
// package prefix and the file's path. A *dberr.CorruptionError, which
// names the file already, is returned as it is.
func (l *Log) wrap(op string, err error) error {
	if err == nil || errors.Is(err, dberr.ErrCorrupt) {
		return err
	}
	return dberr.WrapFile("wal", op, l.path, err)
}

func versionKey(v uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], v)
	return k[:]
}

// keyVersion returns the version a log key holds, or a corruption error
// for a key that is not 8 bytes, which only a damaged file has.
func (l *Log) keyVersion(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, dberr.AtOffset(l.path, -1, "log key of %d bytes, want 8", len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// Bounds returns the first and last version in the log and the number of
// records; all zero for an empty log.
func (l *Log) Bounds() (first, last uint64, n int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(logBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, _ := c.First()
		if k == nil {
			return nil
		}
		var err error
		if first, err = l.keyVersion(k); err != nil {
			return err
		}
		k, _ = c.Last()
		if last, err = l.keyVersion(k); err != nil {
			first = 0
			return err
		}
		n = b.Stats().KeyN
		return nil
	})
	return first, last, n, l.wrap("read", err)
}

// Append writes entries in one bbolt transaction. Their versions must be
// contiguous and continue the log (after must be the last version already
// in the log, or the version the log starts after when it is empty).
// An error leaves the outcome unknown: do not retry.
func (l *Log) Append(after uint64, entries []Entry) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	want := after + 1
	for _, e := range entries {
		if e.Version != want {
			return fmt.Errorf("wal: append: version %d where %d was expected", e.Version, want)
		}
		want++
	}
	var seqErr error // the batch does not continue the log: the caller's mistake
	err = l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(logBucket)
		if k, _ := b.Cursor().Last(); k != nil {
			last, err := l.keyVersion(k)
			if err != nil {
				return err
			}
			if last != after {
				seqErr = fmt.Errorf("wal: append: log ends at version %d, batch continues %d", last, after)
				return seqErr
			}
		}
		b.FillPercent = 1.0 // keys only ever grow: pack pages full
		for _, e := range entries {
			if err := b.Put(versionKey(e.Version), e.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if seqErr != nil {
		return seqErr
	}
	return l.wrap("append to", err)
}

// Replay calls fn for every record with a version >= from, in version
// order. The first such record must be exactly from (else a record is
// missing: corruption), and versions must be contiguous. A record that
// fails its CRC or does not decode is corruption naming its version. The
// ops alias the file's memory and are valid only during fn. If fn returns
// an error Replay stops and returns it. Replay returns the last version
// replayed, or from-1 if there was none.
func (l *Log) Replay(from uint64, fn func(version uint64, ops []Op) error) (last uint64, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	last = from - 1
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(logBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(versionKey(from)); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return dberr.AtVersion(l.path, last+1, "log key of %d bytes after version %d", len(k), last)
			}
			ver := binary.BigEndian.Uint64(k)
			if ver != last+1 {
				return dberr.AtVersion(l.path, last+1, "version gap: record %d is missing (next record is %d)", last+1, ver)
			}
			ops, err := DecodeRecord(ver, v)
			if err != nil {
				return dberr.AtVersion(l.path, ver, "%v", err)
			}
			if err := fn(ver, ops); err != nil {
				return err
			}
			last = ver
		}
		return nil
	})
	return last, err
}

// ErrTruncated is returned (wrapped, naming the versions) by Read when the
// record asked for was deleted by Truncate: the log now starts after it.
var ErrTruncated = errors.New("wal: version no longer in the log")

// Logged is one record read back by Read. Its ops alias memory that
// belongs to the caller and stays valid for as long as it is referenced.
type Logged struct {
	Version uint64
	Ops     []Op
}

// Read returns the records of versions from to to (inclusive), in version
// order, in one short read transaction. It stops at to, at the end of the
// log, or after the first record that brings the total of their encoded
// bytes to maxBytes or more (it always returns at least one record when
// the log holds from), so that a reader far behind takes the log in
// bounded steps and never holds a long bbolt transaction. Nothing at or
// after from (or from > to) gives no records and no error.
//
// If the first record at or after from is a later version and the log
// holds nothing before it, from was truncated away: Read returns an error
// wrapping ErrTruncated. If the log does hold something before it, a
// record is missing: a *dberr.CorruptionError. So is a gap between the
// records read, a bad CRC or a record that does not decode.
func (l *Log) Read(from, to uint64, maxBytes int) (recs []Logged, err error) {
	defer l.guard(&err)
	type raw struct {
		version uint64
		data    []byte
	}
	var raws []raw
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(logBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		if from > to {
			return nil
		}
		k, v := c.Seek(versionKey(from))
		if k == nil {
			return nil
		}
		first, err := l.keyVersion(k)
		if err != nil {
			return err
		}
		if first != from {
			if pk, _ := c.Prev(); pk == nil {
				return fmt.Errorf("%w: version %d was truncated (the log starts at %d)", ErrTruncated, from, first)
			}
			return dberr.AtVersion(l.path, from, "version gap: record %d is missing (next record is %d)", from, first)
		}
		want, total := from, 0
		for ; k != nil && (len(raws) == 0 || total < maxBytes); k, v = c.Next() {
			ver, err := l.keyVersion(k)
			if err != nil {
				return err
			}
			if ver > to {
				break
			}
			if ver != want {
				return dberr.AtVersion(l.path, want, "version gap: record %d is missing (next record is %d)", want, ver)
			}
			// v lives in bbolt's mapping, valid only in this transaction.
			raws = append(raws, raw{ver, bytes.Clone(v)})
			total += len(v)
			want++
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			return nil, err
		}
		return nil, l.wrap("read", err)
	}
	recs = make([]Logged, len(raws))
	for i, r := range raws {
		ops, err := DecodeRecord(r.version, r.data)
		if err != nil {
			return nil, dberr.AtVersion(l.path, r.version, "%v", err)
		}
		recs[i] = Logged{Version: r.version, Ops: ops}
	}
	return recs, nil
}

// Truncate deletes every record with a version <= upTo, in transactions of
// a bounded size.
func (l *Log) Truncate(upTo uint64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	const chunk = 10000
	for {
		done := true
		err := l.db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(logBucket).Cursor()
			n := 0
			for k, _ := c.First(); k != nil; k, _ = c.First() {
				v, err := l.keyVersion(k)
				if err != nil {
					return err
				}
				if v > upTo {
					return nil
				}
				if n == chunk {
					done = false
					return nil
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return l.wrap(fmt.Sprintf("truncate to version %d", upTo), err)
		}
		if done {
			return nil
		}
	}
}

// Sync makes everything written so far durable (fdatasync), for logs
// opened with NoSync before an action that relies on it.
func (l *Log) Sync() error { return l.wrap("sync", l.db.Sync()) }

// GetMeta returns a copy of the meta value under key, or nil.
func (l *Log) GetMeta(key string) (_ []byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	var out []byte
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(metaBucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, l.wrap("read meta of", err)
}

// PutMeta stores the given meta values in one durable transaction.
func (l *Log) PutMeta(kv map[string][]byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer l.guard(&err)
	err = l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(metaBucket)
		for k, v := range kv {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	return l.wrap("write meta of", err)
}

// bbolt's meta page, as far as checkSize reads it: a 16-byte page header,
// then magic, version, page size, flags (4 bytes each), the root bucket
// (16), the freelist page id, the high-water page id, the transaction id
// (8 each) and an FNV-64a checksum of the meta bytes before it.
const (
	boltMagic        = 0xED0CDAED
	boltMetaOff      = 16
	boltMetaSumOff   = boltMetaOff + 56
	boltMetaPageSize = boltMetaOff + 8
	boltMetaPgid     = boltMetaOff + 40
	boltMetaTxid     = boltMetaOff + 48
)

// checkSize refuses a file shorter than its bbolt meta pages say it is.
// bbolt maps the file and would read pages past its end, which kills the
// process with SIGBUS instead of returning an error: a truncated wal.db
// must be reported as corruption before bbolt touches it. A file whose
// meta pages are both invalid is left to bbolt, which reports that.
func checkSize(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	read := func(off int64) (pageSize uint32, pages, txid uint64, ok bool) {
		var b [boltMetaSumOff + 8]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, 0, 0, false
		}
		m := b[boltMetaOff:]
		if binary.LittleEndian.Uint32(m) != boltMagic {
			return 0, 0, 0, false
		}
		h := fnv.New64a()
		h.Write(b[boltMetaOff:boltMetaSumOff])
		if h.Sum64() != binary.LittleEndian.Uint64(b[boltMetaSumOff:]) {
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint32(b[boltMetaPageSize:]), binary.LittleEndian.Uint64(b[boltMetaPgid:]),
			binary.LittleEndian.Uint64(b[boltMetaTxid:]), true
	}
	ps0, pages0, tx0, ok0 := read(0)
	off1 := int64(os.Getpagesize())
	if ok0 {
		off1 = int64(ps0)
	}
	ps1, pages1, tx1, ok1 := read(off1)
	var ps uint32
	var pages uint64
	switch {
	case ok0 && (!ok1 || tx0 >= tx1):
		ps, pages = ps0, pages0
	case ok1:
		ps, pages = ps1, pages1
	default:
		return nil
	}
	if ps == 0 || pages > uint64(1<<62)/uint64(ps) {
		return dberr.AtOffset(path, 0, "bbolt meta page: impossible size: %d pages of %d bytes", pages, ps)
	}
	if need := int64(pages) * int64(ps); size < need {
		return dberr.AtOffset(path, size, "truncated: the file is %d bytes, its bbolt meta page says %d pages of %d bytes (%d bytes)", size, pages, ps, need)
	}
	return nil
}
