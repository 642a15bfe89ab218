package main

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/tidwall/buntdb"
)

// buntdb: two keys per record in its one ordered keyspace, "k:"+key ->
// encodeRecord(index, value) and "i:"+index -> key, set in one Update.
// Durable runs use SyncPolicy=Always (fsync after every commit); others
// Never. Caveat: buntdb v1.3.0 discards the error of that fsync, so a failed
// sync is still acknowledged as a commit. Data is held in memory and persisted as an append-only file that
// is replayed on open.
func init() {
	register(Engine{
		Name:       "buntdb",
		Persistent: true,
		Durable:    true,
		Ordered:    true,
		Module:     "github.com/tidwall/buntdb",
		Note:       `keys "k:"+key->record, "i:"+index->key in one Update; SyncPolicy Always (durable) or Never; buntdb drops fsync's error`,
		Open:       openBunt,
	})
}

const (
	buntKeyPrefix   = "k:"
	buntIndexPrefix = "i:"
)

type buntStore struct{ db *buntdb.DB }

func openBunt(dir string, durable bool) (Store, error) {
	db, err := buntdb.Open(filepath.Join(dir, "bunt.db"))
	if err != nil {
		return nil, err
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		db.Close()
		return nil, err
	}
	cfg.SyncPolicy = buntdb.Never
	if durable {
		cfg.SyncPolicy = buntdb.Always
	}
	if err := db.SetConfig(cfg); err != nil {
		db.Close()
		return nil, err
	}
	return &buntStore{db: db}, nil
}

func (s *buntStore) Put(recs []Record) error {
	return s.db.Update(func(tx *buntdb.Tx) error {
		for _, r := range recs {
			k := buntKeyPrefix + string(r.Key)
			old, err := tx.Get(k)
			switch {
			case err == nil:
				o, err := decodeRecord(r.Key, bytesOf(old))
				if err != nil {
					return err
				}
				if string(o.Index) != string(r.Index) {
					if _, err := tx.Delete(buntIndexPrefix + string(o.Index)); err != nil {
						return err
					}
				}
			case !errors.Is(err, buntdb.ErrNotFound):
				return err
			}
			v := encodeRecord(make([]byte, 0, 2+len(r.Index)+len(r.Value)), r.Index, r.Value)
			if _, _, err := tx.Set(k, stringOf(v), nil); err != nil {
				return err
			}
			if _, _, err := tx.Set(buntIndexPrefix+string(r.Index), string(r.Key), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *buntStore) Get(key []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *buntdb.Tx) error {
		return buntGetLocked(tx, string(key), &rec)
	})
	return rec, err
}

func (s *buntStore) GetByIndex(index []byte) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *buntdb.Tx) error {
		key, err := tx.Get(buntIndexPrefix + stringOf(index))
		if errors.Is(err, buntdb.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return buntGetLocked(tx, key, &rec)
	})
	return rec, err
}

// buntGetLocked reads the record of key in tx. buntdb's strings are
// immutable, so the record aliases them without a copy.
func buntGetLocked(tx *buntdb.Tx, key string, rec *Record) error {
	v, err := tx.Get(buntKeyPrefix + key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	r, err := decodeRecord(bytesOf(key), bytesOf(v))
	*rec = r
	return err
}

func (s *buntStore) Scan(byIndex bool, fn func(Record) bool) error {
	return s.db.View(func(tx *buntdb.Tx) error {
		var ierr error
		prefix := buntKeyPrefix
		if byIndex {
			prefix = buntIndexPrefix
		}
		err := tx.AscendGreaterOrEqual("", prefix, func(k, v string) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			var r Record
			if byIndex {
				ierr = buntGetLocked(tx, v, &r)
			} else {
				r, ierr = decodeRecord(bytesOf(k[len(prefix):]), bytesOf(v))
			}
			return ierr == nil && fn(r)
		})
		if err != nil {
			return err
		}
		return ierr
	})
}

func (s *buntStore) Close() error { return s.db.Close() }
