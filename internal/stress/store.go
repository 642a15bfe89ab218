package stress

import (
	"errors"
	"slices"

	"github.com/dualdb/dualdb/db"
)

// Store is what the workload and the checker drive: a dualdb store or the
// naive two-map design. Its methods are called from many goroutines at once.
type Store interface {
	// Name describes the store in the results.
	Name() string
	// Version is the newest version a reader sees, 0 if the store has none.
	Version() uint64
	// Put stores one record; an index key owned by another record is an
	// error wrapping db.ErrConflict.
	Put(key, index, value []byte) error
	// PutBatch stores recs, in one commit where the store has commits.
	PutBatch(recs []db.Record) error
	// Swap exchanges the index keys of records a and b in one update: b is
	// parked on tmp, a takes b's index key, b takes a's. val makes the
	// value stored with an index key.
	Swap(a, b, tmp []byte, val func(index []byte) []byte) error
	// Get returns the record with key, and whether there is one.
	Get(key []byte) (db.Record, bool, error)
	// GetByIndex returns the record with index key index, and whether
	// there is one.
	GetByIndex(index []byte) (db.Record, bool, error)
	// Scan yields up to limit records from from on, by key or by index key.
	Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error
	// Snapshot returns one read view walked by key and by index key,
	// appended to the buffers byKey and byIndex (which may be nil).
	Snapshot(byKey, byIndex []db.Record) (version uint64, byKeyOut, byIndexOut []db.Record, err error)
	// Close releases the store.
	Close() error
}

// commitCounter is implemented by stores that commit through a WAL: the
// run reports how its commits were grouped.
type commitCounter interface {
	commitCounts() CommitStats
}

// NewDBStore returns a Store on the dualdb store d; its Close closes d.
func NewDBStore(d *db.DB) Store { return dbStore{d} }

// dbStore is a Store on a dualdb store.
type dbStore struct{ d *db.DB }

func (s dbStore) Name() string    { return "dualdb " + s.d.Dir() }
func (s dbStore) Version() uint64 { return s.d.Version() }
func (s dbStore) Close() error    { return s.d.Close() }

func (s dbStore) Put(key, index, value []byte) error { return s.d.Put(key, index, value) }

func (s dbStore) commitCounts() CommitStats {
	st := s.d.Stats()
	return CommitStats{Commits: st.Commits, WALTransactions: st.GroupCommits, Checkpoints: st.Checkpoints}
}

func (s dbStore) PutBatch(recs []db.Record) error {
	return s.d.Update(func(tx *db.Tx) error {
		for _, r := range recs {
			if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s dbStore) Swap(a, b, tmp []byte, val func([]byte) []byte) error {
	return s.d.Update(func(tx *db.Tx) error {
		ra, err := tx.Get(a)
		if err != nil {
			return err
		}
		rb, err := tx.Get(b)
		if err != nil {
			return err
		}
		if err := tx.Put(b, tmp, val(tmp)); err != nil {
			return err
		}
		if err := tx.Put(a, rb.Index, val(rb.Index)); err != nil {
			return err
		}
		return tx.Put(b, ra.Index, val(ra.Index))
	})
}

func (s dbStore) Get(key []byte) (db.Record, bool, error) {
	r, err := s.d.Get(key)
	return found(r, err)
}

func (s dbStore) GetByIndex(index []byte) (db.Record, bool, error) {
	r, err := s.d.GetByIndex(index)
	return found(r, err)
}

func found(r db.Record, err error) (db.Record, bool, error) {
	if errors.Is(err, db.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

func (s dbStore) Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error {
	snap := s.d.Snapshot()
	seq := snap.Ascend(from, nil)
	if byIndex {
		seq = snap.AscendIndex(from, nil)
	}
	n := 0
	for r := range seq {
		if n == limit || !fn(r) {
			break
		}
		n++
	}
	return nil
}

func (s dbStore) Snapshot(byKey, byIndex []db.Record) (uint64, []db.Record, []db.Record, error) {
	snap := s.d.Snapshot()
	byKey = slices.Grow(byKey, snap.Len())
	for r := range snap.Ascend(nil, nil) {
		byKey = append(byKey, r)
	}
	byIndex = slices.Grow(byIndex, snap.Len())
	for r := range snap.AscendIndex(nil, nil) {
		byIndex = append(byIndex, r)
	}
	return snap.Version(), byKey, byIndex, nil
}
