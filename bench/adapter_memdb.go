package main

import (
	"github.com/hashicorp/go-memdb"
)

// go-memdb: one table with two unique string indexes over immutable radix
// trees. Memory only: it has no durable mode and cannot be reopened.
func init() {
	register(Engine{
		Name:    "memdb",
		Ordered: true,
		Module:  "github.com/hashicorp/go-memdb",
		Note:    "table with unique indexes id (Key) and index (Index); memory only",
		Open:    openMemdb,
	})
}

// memdbRow is the stored object. The strings alias one private buffer that
// is never modified, so Record slices can alias them too.
type memdbRow struct {
	Key, Index string
	Value      []byte
}

type memdbStore struct{ db *memdb.MemDB }

var memdbSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"records": {
		Name: "records",
		Indexes: map[string]*memdb.IndexSchema{
			"id":    {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			"index": {Name: "index", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Index"}},
		},
	},
}}

func openMemdb(string, bool) (Store, error) {
	db, err := memdb.NewMemDB(memdbSchema)
	if err != nil {
		return nil, err
	}
	return &memdbStore{db: db}, nil
}

func (s *memdbStore) Put(recs []Record) error {
	txn := s.db.Txn(true)
	defer txn.Abort()
	for _, r := range recs {
		buf := make([]byte, 0, len(r.Key)+len(r.Index)+len(r.Value))
		buf = append(append(append(buf, r.Key...), r.Index...), r.Value...)
		k, x := len(r.Key), len(r.Key)+len(r.Index)
		// Insert replaces the row with the same id and moves its other index
		// entries, so a changed index key stops resolving.
		if err := txn.Insert("records", &memdbRow{Key: stringOf(buf[:k]), Index: stringOf(buf[k:x]), Value: buf[x:]}); err != nil {
			return err
		}
	}
	txn.Commit()
	return nil
}

func (s *memdbStore) get(index string, v []byte) (Record, error) {
	txn := s.db.Txn(false)
	obj, err := txn.First("records", index, stringOf(v))
	if err != nil {
		return Record{}, err
	}
	if obj == nil {
		return Record{}, ErrNotFound
	}
	return memdbRecord(obj), nil
}

func memdbRecord(obj any) Record {
	row := obj.(*memdbRow)
	return Record{Key: bytesOf(row.Key), Index: bytesOf(row.Index), Value: row.Value}
}

func (s *memdbStore) Get(key []byte) (Record, error)          { return s.get("id", key) }
func (s *memdbStore) GetByIndex(index []byte) (Record, error) { return s.get("index", index) }

func (s *memdbStore) Scan(byIndex bool, fn func(Record) bool) error {
	index := "id"
	if byIndex {
		index = "index"
	}
	it, err := s.db.Txn(false).Get("records", index)
	if err != nil {
		return err
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if !fn(memdbRecord(obj)) {
			break
		}
	}
	return nil
}

func (s *memdbStore) Close() error { return nil }
