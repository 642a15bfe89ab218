package main

import (
	"bytes"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
)

// badger v4: an LSM tree; two keys per record, "k"+key ->
// encodeRecord(index, value) and "i"+index -> key, in one transaction.
// Durable runs set SyncWrites (msync of the memtable's WAL before a commit
// returns). Memory options are kept modest; logging and metrics are off.
func init() {
	register(Engine{
		Name:       "badger",
		Persistent: true,
		Durable:    true,
		Ordered:    true,
		Module:     "github.com/dgraph-io/badger/v4",
		OffHeap:    "flushed tables and the value log are mmap'd",
		Note:       `keys "k"+key->record, "i"+index->key in one txn; SyncWrites (msync of the mmap'd WAL) when durable; 16 MiB memtables x2, 32 MiB block cache`,
		Open:       openBadger,
	})
}

var (
	badgerKeyPrefix   = []byte("k")
	badgerIndexPrefix = []byte("i")
)

type badgerStore struct{ db *badger.DB }

func openBadger(dir string, durable bool) (Store, error) {
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithMetricsEnabled(false).
		WithSyncWrites(durable).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(32 << 20).
		WithNumCompactors(2).
		WithValueLogFileSize(64 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	return &badgerStore{db: db}, nil
}

func prefixed(p, b []byte) []byte {
	out := make([]byte, 0, len(p)+len(b))
	return append(append(out, p...), b...)
}

func (s *badgerStore) Put(recs []Record) error {
	for {
		err := s.db.Update(func(txn *badger.Txn) error {
			for _, r := range recs {
				k := prefixed(badgerKeyPrefix, r.Key)
				item, err := txn.Get(k)
				switch {
				case err == nil:
					err = item.Value(func(old []byte) error {
						o, err := decodeRecord(r.Key, old)
						if err != nil {
							return err
						}
						if bytes.Equal(o.Index, r.Index) {
							return nil
						}
						return txn.Delete(prefixed(badgerIndexPrefix, o.Index))
					})
					if err != nil {
						return err
					}
				case !errors.Is(err, badger.ErrKeyNotFound):
					return err
				}
				v := encodeRecord(make([]byte, 0, 2+len(r.Index)+len(r.Value)), r.Index, r.Value)
				if err := txn.Set(k, v); err != nil {
					return err
				}
				if err := txn.Set(prefixed(badgerIndexPrefix, r.Index), bytes.Clone(r.Key)); err != nil {
					return err
				}
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
}

func (s *badgerStore) Get(key []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(txn *badger.Txn) error {
		return badgerGetLocked(txn, bytes.Clone(key), &rec)
	})
	return rec, err
}

func (s *badgerStore) GetByIndex(index []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(prefixed(badgerIndexPrefix, index))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		key, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return badgerGetLocked(txn, key, &rec)
	})
	return rec, err
}

// badgerGetLocked reads key's record in txn and copies it out.
func badgerGetLocked(txn *badger.Txn, key []byte, rec *Record) error {
	item, err := txn.Get(prefixed(badgerKeyPrefix, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	r, err := decodeRecord(key, v)
	*rec = r
	return err
}

func (s *badgerStore) Scan(byIndex bool, fn func(Record) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = badgerKeyPrefix
		if byIndex {
			opts.Prefix = badgerIndexPrefix
		}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			more := true
			// fn runs inside the Value callbacks: the slices are valid only there.
			err := item.Value(func(v []byte) error {
				if !byIndex {
					r, err := decodeRecord(item.Key()[len(badgerKeyPrefix):], v)
					if err == nil {
						more = fn(r)
					}
					return err
				}
				// v is the primary key: one point lookup per item.
				rit, err := txn.Get(prefixed(badgerKeyPrefix, v))
				if err != nil {
					return err
				}
				return rit.Value(func(enc []byte) error {
					r, err := decodeRecord(v, enc)
					if err == nil {
						more = fn(r)
					}
					return err
				})
			})
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}

func (s *badgerStore) Close() error { return s.db.Close() }
