package main

import (
	"bytes"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt: two buckets in one file, "k" key->encodeRecord(index, value) and
// "i" index->key, both written in one Update per commit. Concurrent durable
// writers (W2) go through DB.Batch, bbolt's own group commit.
func init() {
	register(Engine{
		Name:       "bbolt",
		Persistent: true,
		Durable:    true,
		Ordered:    true,
		Module:     "go.etcd.io/bbolt",
		OffHeap:    "records live in the mmap'd file, read through the page cache",
		Note:       "buckets k:key->record, i:index->key in one Update; DB.Batch for W2; NoSync when not durable",
		Open:       openBolt,
	})
}

var (
	boltKeys    = []byte("k")
	boltIndexes = []byte("i")
)

type boltStore struct{ db *bolt.DB }

func openBolt(dir string, durable bool) (Store, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{
		Timeout: 5 * time.Second,
		NoSync:  !durable,
	})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(boltKeys); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(boltIndexes)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) put(recs []Record) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		kb, ib := tx.Bucket(boltKeys), tx.Bucket(boltIndexes)
		var buf []byte
		for _, r := range recs {
			if old := kb.Get(r.Key); old != nil {
				o, err := decodeRecord(r.Key, old)
				if err != nil {
					return err
				}
				if !bytes.Equal(o.Index, r.Index) {
					// Delete before Put: old aliases the page being rewritten.
					if err := ib.Delete(o.Index); err != nil {
						return err
					}
				}
			}
			// bbolt keeps the slices until commit, so each value gets its own buffer.
			buf = encodeRecord(make([]byte, 0, 2+len(r.Index)+len(r.Value)), r.Index, r.Value)
			if err := kb.Put(r.Key, buf); err != nil {
				return err
			}
			if err := ib.Put(r.Index, r.Key); err != nil {
				return err
			}
		}
		return nil
	}
}

func (s *boltStore) Put(recs []Record) error { return s.db.Update(s.put(recs)) }

// PutConcurrent uses DB.Batch, which may run the function more than once
// (it is idempotent) and coalesces concurrent callers into one commit.
func (s *boltStore) PutConcurrent(recs []Record) error { return s.db.Batch(s.put(recs)) }

func (s *boltStore) Get(key []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return boltGetLocked(tx, bytes.Clone(key), &rec)
	})
	return rec, err
}

func (s *boltStore) GetByIndex(index []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		key := tx.Bucket(boltIndexes).Get(index)
		if key == nil {
			return ErrNotFound
		}
		return boltGetLocked(tx, bytes.Clone(key), &rec)
	})
	return rec, err
}

// boltGetLocked reads the record of key inside tx and copies it out, as
// bbolt's slices die with the transaction.
func boltGetLocked(tx *bolt.Tx, key []byte, rec *Record) error {
	v := tx.Bucket(boltKeys).Get(key)
	if v == nil {
		return ErrNotFound
	}
	r, err := decodeRecord(key, bytes.Clone(v))
	*rec = r
	return err
}

func (s *boltStore) Scan(byIndex bool, fn func(Record) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		kb := tx.Bucket(boltKeys)
		if !byIndex {
			c := kb.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				r, err := decodeRecord(k, v)
				if err != nil {
					return err
				}
				if !fn(r) {
					return nil
				}
			}
			return nil
		}
		c := tx.Bucket(boltIndexes).Cursor()
		for _, k := c.First(); k != nil; _, k = c.Next() {
			v := kb.Get(k)
			if v == nil {
				return ErrNotFound
			}
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
		return nil
	})
}

func (s *boltStore) Close() error { return s.db.Close() }
