package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"unsafe"
)

// Record is one stored record: a primary key, a unique secondary ("index")
// key and a value.
//
// Records handed to a Scan callback are valid only during that call; records
// returned by Get and GetByIndex stay valid. Callers never modify either.
type Record struct {
	Key, Index, Value []byte
}

// ErrNotFound is returned by Store.Get and Store.GetByIndex when no record
// has the key.
var ErrNotFound = errors.New("bench: not found")

// Store is one open store of one engine. The benchmark calls its methods
// from several goroutines at once; every implementation is safe for that.
type Store interface {
	// Put commits recs as one atomic transaction that writes both keys of
	// every record. A record whose key exists replaces it, and its old index
	// key stops resolving. In durable mode the commit has reached stable
	// storage when Put returns nil.
	Put(recs []Record) error
	// Get returns the whole record with this primary key.
	Get(key []byte) (Record, error)
	// GetByIndex returns the whole record with this index key.
	GetByIndex(index []byte) (Record, error)
	// Scan calls fn for every record in ascending key order (byIndex false)
	// or ascending index-key order (byIndex true) until fn returns false.
	Scan(byIndex bool, fn func(Record) bool) error
	// Close releases the store. For a persistent engine the data stays in
	// the directory for a later Open.
	Close() error
}

// ConcurrentPutter is implemented by stores that have a dedicated path for
// many goroutines each committing small transactions (bbolt's DB.Batch).
// W2 uses it when present, Store.Put otherwise.
type ConcurrentPutter interface {
	PutConcurrent(recs []Record) error
}

// Engine describes one engine under test and how to open it.
type Engine struct {
	Name string
	// Persistent: the data lives in files and survives Close and Open.
	Persistent bool
	// Durable: in durable mode a commit is on stable storage (fsync,
	// fdatasync or msync) before Put returns.
	Durable bool
	// Ordered: both keys are kept ordered by the engine; false means Scan
	// sorts at call time.
	Ordered bool
	// OffHeap says where the engine keeps data outside the Go heap (mmap,
	// manual allocation), "" if it does not: its Go-heap figure is then not
	// comparable and the heap row's ratio leaves it out (RSS counts it).
	OffHeap string
	// Note says in a line how the adapter maps the two keys.
	Note string
	// Module is the Go module path, used to report the version that ran.
	Module string
	// Open opens (creating if needed) the store in dir. durable asks for
	// the durable mode; engines without one ignore it.
	Open func(dir string, durable bool) (Store, error)
}

// engines is the registry, filled by the adapter files' init functions.
var engines []Engine

func register(e Engine) { engines = append(engines, e) }

// engineOrder is the column order of the report.
var engineOrder = []string{"dualdb", "bbolt", "buntdb", "badger", "memdb", "naive"}

// allEngines returns the registered engines in report order.
func allEngines() []Engine {
	out := slices.Clone(engines)
	rank := func(name string) int {
		if i := slices.Index(engineOrder, name); i >= 0 {
			return i
		}
		return len(engineOrder)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Name) < rank(out[j].Name) })
	return out
}

func findEngine(name string) (Engine, bool) {
	for _, e := range engines {
		if e.Name == name {
			return e, true
		}
	}
	return Engine{}, false
}

// encodeRecord is the value the key-value engines (bbolt, buntdb, badger)
// store under the primary key: uvarint(len(index)) | index | value.
func encodeRecord(dst []byte, index, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(index)))
	dst = append(dst, index...)
	return append(dst, value...)
}

// decodeRecord splits a value made by encodeRecord. The returned slices
// alias enc.
func decodeRecord(key, enc []byte) (Record, error) {
	n, w := binary.Uvarint(enc)
	if w <= 0 || uint64(len(enc)-w) < n {
		return Record{}, fmt.Errorf("bench: bad stored record under key %q", key)
	}
	end := w + int(n)
	return Record{Key: key, Index: enc[w:end:end], Value: enc[end:]}, nil
}

// bytesOf returns the bytes of s without copying. The result must never be
// modified; it is used for engines whose API returns strings, so that they
// are not charged a copy the others do not pay.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// stringOf returns b as a string without copying; b must not change later.
func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
