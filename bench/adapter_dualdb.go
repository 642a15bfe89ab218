package main

import (
	"errors"
	"log/slog"

	"github.com/dualdb/dualdb/db"
)

// dualdb: the store under test. A commit of several records (W3's load
// batches) is one DB.PutAll, the call a user loading data makes; a commit
// of one record (W1, W2, W8) is one DB.Put, which is an Update of one
// Tx.Put. Reads go through Get, GetByIndex and a Snapshot's iterators.
// Durable runs use the default options; the others set NoSync.
func init() {
	register(Engine{
		Name:       "dualdb",
		Persistent: true,
		Durable:    true,
		Ordered:    true,
		Module:     "github.com/dualdb/dualdb",
		Note:       "db.PutAll per batch, db.Put for one record; Snapshot().Ascend/AscendIndex; NoSync when not durable",
		Open:       openDualdb,
	})
}

type dualdbStore struct{ d *db.DB }

func openDualdb(dir string, durable bool) (Store, error) {
	d, err := db.Open(dir, &db.Options{
		NoSync: !durable,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	return &dualdbStore{d: d}, nil
}

func (s *dualdbStore) Put(recs []Record) error {
	if len(recs) == 1 {
		return s.d.Put(recs[0].Key, recs[0].Index, recs[0].Value)
	}
	batch := make([]db.Record, len(recs))
	for i, r := range recs {
		batch[i] = db.Record{Key: r.Key, Index: r.Index, Value: r.Value}
	}
	return s.d.PutAll(batch...)
}

func dualdbRecord(r db.Record, err error) (Record, error) {
	if errors.Is(err, db.ErrNotFound) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	return Record{Key: r.Key, Index: r.Index, Value: r.Value}, nil
}

func (s *dualdbStore) Get(key []byte) (Record, error) { return dualdbRecord(s.d.Get(key)) }

func (s *dualdbStore) GetByIndex(index []byte) (Record, error) {
	return dualdbRecord(s.d.GetByIndex(index))
}

func (s *dualdbStore) Scan(byIndex bool, fn func(Record) bool) error {
	snap := s.d.Snapshot()
	seq := snap.Ascend(nil, nil)
	if byIndex {
		seq = snap.AscendIndex(nil, nil)
	}
	for r := range seq {
		if !fn(Record{Key: r.Key, Index: r.Index, Value: r.Value}) {
			break
		}
	}
	return nil
}

func (s *dualdbStore) Close() error { return s.d.Close() }
