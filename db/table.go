package db

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
)

// Codec turns a value of T into a record's value and back. Implementations
// must be safe for concurrent use; Unmarshal must not keep data, which may
// be the store's memory.
type Codec[T any] interface {
	Marshal(v T) ([]byte, error)
	Unmarshal(data []byte) (T, error)
}

// JSONCodec is the Codec of encoding/json, the default of NewTable.
type JSONCodec[T any] struct{}

// Marshal implements Codec.
func (JSONCodec[T]) Marshal(v T) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSONCodec[T]) Unmarshal(data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

// Table is a typed view of a DB: values of T stored as records whose key
// and index key are derived from the value, whose value is the encoding
// by a Codec. Every method is one durable commit or one read of the last
// durable version, exactly as the DB method of the same name; the errors
// are the DB's (ErrNotFound, ErrExists, a *ConflictError, ...), or the
// Codec's, wrapped with the key.
//
// A Table reads every record of its DB: keep one Table (one T) per DB, or
// give each type its own key prefix and iterate with AscendPrefix. A Table
// is safe for concurrent use.
type Table[T any] struct {
	d          *DB
	codec      Codec[T]
	key, index func(T) []byte
}

// NewTable returns a Table of T over d. key and index give a value's
// primary and index keys; codec encodes values (nil means JSONCodec[T]).
func NewTable[T any](d *DB, codec Codec[T], key func(T) []byte, index func(T) []byte) *Table[T] {
	if codec == nil {
		codec = JSONCodec[T]{}
	}
	return &Table[T]{d: d, codec: codec, key: key, index: index}
}

// DB returns the DB the table stores in.
func (t *Table[T]) DB() *DB { return t.d }

func (t *Table[T]) encode(v T) (key, index, value []byte, err error) {
	key, index = t.key(v), t.index(v)
	value, err = t.codec.Marshal(v)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dualdb: encode the value of key %q: %w", clipKey(key), err)
	}
	return key, index, value, nil
}

func (t *Table[T]) decode(r Record) (T, error) {
	v, err := t.codec.Unmarshal(r.Value)
	if err != nil {
		return v, fmt.Errorf("dualdb: decode the value of key %q (version %d): %w", clipKey(r.Key), r.Version, err)
	}
	return v, nil
}

// Put stores v, replacing the value with the same key (DB.Put).
func (t *Table[T]) Put(v T) error {
	key, index, value, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.d.Put(key, index, value)
}

// Insert stores v if no value has its key, else returns an error wrapping
// ErrExists (DB.Insert).
func (t *Table[T]) Insert(v T) error {
	key, index, value, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.d.Insert(key, index, value)
}

// Get returns the value with key, or ErrNotFound.
func (t *Table[T]) Get(key []byte) (T, error) {
	r, err := t.d.Get(key)
	if err != nil {
		var zero T
		return zero, err
	}
	return t.decode(r)
}

// GetByIndex returns the value whose index key is index, or ErrNotFound.
func (t *Table[T]) GetByIndex(index []byte) (T, error) {
	r, err := t.d.GetByIndex(index)
	if err != nil {
		var zero T
		return zero, err
	}
	return t.decode(r)
}

// Delete removes the value with key, or returns ErrNotFound.
func (t *Table[T]) Delete(key []byte) error { return t.d.Delete(key) }

// Update reads the value with key, calls fn with it and stores what fn
// returns, in one transaction: no other commit comes between the read and
// the write. fn's value must keep the key (else nothing is stored and
// Update returns an error); its index key may change, and a *ConflictError
// says it belongs to another value. If fn returns an error nothing is
// stored and Update returns it. A missing key is ErrNotFound.
func (t *Table[T]) Update(key []byte, fn func(v T) (T, error)) error {
	return t.d.Update(func(tx *Tx) error {
		r, err := tx.Get(key)
		if err != nil {
			return fmt.Errorf("%w: key %q", err, clipKey(key))
		}
		v, err := t.decode(r)
		if err != nil {
			return err
		}
		if v, err = fn(v); err != nil {
			return err
		}
		nkey, index, value, err := t.encode(v)
		if err != nil {
			return err
		}
		if !bytes.Equal(nkey, key) {
			return fmt.Errorf("dualdb: Table.Update of key %q: the new value has key %q; delete and put to move a value", clipKey(key), clipKey(nkey))
		}
		return tx.Put(key, index, value)
	})
}

// Ascend yields the values with keys in [from, to) in ascending key order
// (nil bounds are open), read from one Snapshot taken when the iteration
// starts. A value that does not decode is yielded as an error, and the
// iteration goes on if the loop does.
func (t *Table[T]) Ascend(from, to []byte) iter.Seq2[T, error] {
	return t.values(func(s *Snapshot) iter.Seq[Record] { return s.Ascend(from, to) })
}

// AscendIndex is Ascend by index key: the values with index keys in
// [from, to), in ascending index key order.
func (t *Table[T]) AscendIndex(from, to []byte) iter.Seq2[T, error] {
	return t.values(func(s *Snapshot) iter.Seq[Record] { return s.AscendIndex(from, to) })
}

// AscendPrefix yields the values whose key starts with prefix, in
// ascending key order, as Ascend does.
func (t *Table[T]) AscendPrefix(prefix []byte) iter.Seq2[T, error] {
	return t.values(func(s *Snapshot) iter.Seq[Record] { return s.AscendPrefix(prefix) })
}

func (t *Table[T]) values(scan func(*Snapshot) iter.Seq[Record]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for r := range scan(t.d.Snapshot()) {
			if !yield(t.decode(r)) {
				return
			}
		}
	}
}
