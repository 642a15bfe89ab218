package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// feedModel is a store rebuilt from the change feed alone: a map by key.
type feedModel struct {
	version uint64
	recs    map[string]db.Record
}

func newFeedModel(s *db.Snapshot) *feedModel {
	m := &feedModel{version: s.Version(), recs: map[string]db.Record{}}
	for r := range s.Ascend(nil, nil) {
		m.recs[string(r.Key)] = r
	}
	return m
}

// apply applies c, checking what the feed promises about it: the next
// version, Put records carrying it, Delete records being exactly the
// record the state held.
func (m *feedModel) apply(c db.Change) error {
	if c.Version != m.version+1 {
		return fmt.Errorf("change %d after version %d", c.Version, m.version)
	}
	if len(c.Ops) == 0 {
		return fmt.Errorf("change %d has no ops", c.Version)
	}
	for i, op := range c.Ops {
		k := string(op.Record.Key)
		switch op.Kind {
		case db.OpPut:
			if op.Record.Version != c.Version {
				return fmt.Errorf("change %d op %d: put record has version %d", c.Version, i, op.Record.Version)
			}
			m.recs[k] = op.Record
		case db.OpDelete:
			old, ok := m.recs[k]
			if !ok || !sameRecord(old, op.Record) {
				return fmt.Errorf("change %d op %d: delete of %s, the state holds %s (present: %v)", c.Version, i, fmtRec(op.Record), fmtRec(old), ok)
			}
			delete(m.recs, k)
		default:
			return fmt.Errorf("change %d op %d: kind %v", c.Version, i, op.Kind)
		}
	}
	m.version = c.Version
	return nil
}

func (m *feedModel) dump() storeDump {
	d := storeDump{version: m.version, n: len(m.recs)}
	for _, r := range m.recs {
		d.recs = append(d.recs, r)
	}
	slices.SortFunc(d.recs, func(a, b db.Record) int { return bytes.Compare(a.Key, b.Key) })
	return d
}

// applyToStore replays c onto d as one transaction, so that d's versions
// follow the feed's.
func applyToStore(d *db.DB, c db.Change) error {
	return d.Update(func(tx *db.Tx) error {
		for _, op := range c.Ops {
			var err error
			if op.Kind == db.OpPut {
				err = tx.Put(op.Record.Key, op.Record.Index, op.Record.Value)
			} else {
				err = tx.Delete(op.Record.Key)
			}
			if err != nil {
				return fmt.Errorf("change %d: %v %q: %w", c.Version, op.Kind, op.Record.Key, err)
			}
		}
		return nil
	})
}

// randomCommit makes one commit of a random kind (it may be refused: a
// conflict, a missing key) and reports whether it took a version.
func randomCommit(rng *rand.Rand, d *db.DB) bool {
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(30)) }
	index := func() []byte { return fmt.Appendf(nil, "i%02d", rng.IntN(40)) }
	value := func() []byte { return fmt.Appendf(nil, "v%d", rng.Uint32()) }
	before := d.Version()
	switch rng.IntN(6) {
	case 0, 1:
		_ = d.Put(key(), index(), value())
	case 2:
		_ = d.Delete(key())
	case 3:
		_ = d.Insert(key(), index(), value())
	case 4: // a rotation of index keys among existing records, plus a new one
		var batch []db.Record
		for r := range d.Snapshot().Ascend(key(), nil) {
			batch = append(batch, db.Record{Key: r.Key, Index: r.Index, Value: value()})
			if len(batch) == 3 {
				break
			}
		}
		if len(batch) > 1 {
			first := batch[0].Index
			for i := range len(batch) - 1 {
				batch[i].Index = batch[i+1].Index
			}
			batch[len(batch)-1].Index = first
		}
		batch = append(batch, db.Record{Key: key(), Index: index(), Value: value()})
		_ = d.PutAll(batch...)
	case 5: // several steps in one transaction
		_ = d.Update(func(tx *db.Tx) error {
			for range 1 + rng.IntN(4) {
				if rng.IntN(3) == 0 {
					_ = tx.Delete(key())
				} else {
					_ = tx.Put(key(), index(), value())
				}
			}
			return nil
		})
	}
	return d.Version() != before
}

// TestChanges_ReplayGivesLiveState is the feed's property: the changes
// replayed onto an empty store from version 0, or onto a Snapshot at
// version V, give exactly the live store's state (records and their
// versions) at every later version. Checkpoints run on the way; the
// consumers keep up, so none is compacted away, and a consumer started at
// 0 after them is.
func TestChanges_ReplayGivesLiveState(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 13))
	d := openTest(t, &db.Options{CheckpointEvery: -1})
	replica := openTest(t, &db.Options{CheckpointEvery: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type consumer struct {
		name  string
		model *feedModel
		store *db.DB // nil: the model alone
		next  func() (db.Change, error, bool)
		stop  func()
	}
	pull := func(name string, s *db.Snapshot, store *db.DB) *consumer {
		next, stop := iter.Pull2(d.Changes(ctx, s.Version()))
		t.Cleanup(stop)
		return &consumer{name: name, model: newFeedModel(s), store: store, next: next, stop: stop}
	}
	consumers := []*consumer{pull("from-0", d.Snapshot(), replica)}
	dumps := map[uint64]storeDump{0: snapDump(d.Snapshot())}
	checkpoints := 0
	for commits := 0; commits < 400; {
		if !randomCommit(rng, d) {
			continue
		}
		commits++
		v := d.Version()
		dumps[v] = snapDump(d.Snapshot())
		if commits%25 == 0 {
			if _, err := d.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			checkpoints++
		}
		for _, c := range consumers {
			// Exactly one change is new: pull it, and check the state.
			ch, err, ok := c.next()
			if !ok || err != nil {
				t.Fatalf("%s: at version %d the feed ended (%v) or failed: %v", c.name, v, !ok, err)
			}
			if err := c.model.apply(ch); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if diff := dumps[ch.Version].diff(c.model.dump()); diff != "" {
				t.Fatalf("%s: state rebuilt from the feed at version %d: %s", c.name, ch.Version, diff)
			}
			if c.store != nil {
				if err := applyToStore(c.store, ch); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if diff := dumps[ch.Version].diff(snapDump(c.store.Snapshot())); diff != "" {
					t.Fatalf("%s: replica store at version %d: %s", c.name, ch.Version, diff)
				}
			}
		}
		if commits%40 == 0 { // a consumer that starts from a Snapshot at v
			consumers = append(consumers, pull(fmt.Sprintf("from-snapshot-%d", v), d.Snapshot(), nil))
		}
	}
	if len(consumers) < 5 || checkpoints < 10 {
		t.Fatalf("the run made %d consumers and %d checkpoints; the test needs more", len(consumers), checkpoints)
	}
	// The WAL no longer holds version 1: a new consumer from 0 is told so.
	n := 0
	for _, err := range d.Changes(ctx, 0) {
		n++
		if !errors.Is(err, db.ErrCompacted) {
			t.Fatalf("Changes(0) after %d checkpoints yielded %v, want ErrCompacted", checkpoints, err)
		}
	}
	if n != 1 {
		t.Fatalf("Changes(0) yielded %d times, want once", n)
	}
}

// TestChanges_Ops pins the ops of each kind of commit, the removed
// record of a delete included.
func TestChanges_Ops(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")                 // 1
	mustPut(t, d, "b", "ib", "B")                 // 2
	if err := d.Delete([]byte("a")); err != nil { // 3
		t.Fatal(err)
	}
	if err := d.PutAll( // 4: b and c swap index keys
		db.Record{Key: []byte("c"), Index: []byte("ib"), Value: []byte("C")},
		db.Record{Key: []byte("b"), Index: []byte("ic"), Value: []byte("B2")},
	); err != nil {
		t.Fatal(err)
	}
	if err := d.Insert([]byte("\xff"), []byte("ix"), []byte{0, 1}); err != nil { // 5
		t.Fatal(err)
	}
	var got []string
	for c, err := range d.Changes(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, op := range c.Ops {
			ops = append(ops, fmt.Sprintf("%v %s", op.Kind, fmtRec(op.Record)))
		}
		got = append(got, fmt.Sprintf("%d: %s", c.Version, strings.Join(ops, ", ")))
		if c.Version == d.Version() {
			break
		}
	}
	want := []string{
		`1: put {"a" "ia" "A" v1}`,
		`2: put {"b" "ib" "B" v2}`,
		`3: delete {"a" "ia" "A" v1}`,
		`4: delete {"b" "ib" "B" v2}, put {"c" "ib" "C" v4}, put {"b" "ic" "B2" v4}`,
		`5: put {"\xff" "ix" "\x00\x01" v5}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The feed survives reopening: the same changes from the WAL.
	d = reopenTest(t, d, nil)
	var again []string
	for c, err := range d.Changes(context.Background(), 2) {
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(string(db.AppendChangeJSON(nil, c)), "\n")
		again = append(again, line)
		if c.Version == 5 {
			break
		}
	}
	wantJSON := []string{
		`{"version":3,"ops":[{"op":"delete","key":"a","index":"ia","value":"A","record_version":1}]}`,
		`{"version":4,"ops":[{"op":"delete","key":"b","index":"ib","value":"B","record_version":2},{"op":"put","key":"c","index":"ib","value":"C","record_version":4},{"op":"put","key":"b","index":"ic","value":"B2","record_version":4}]}`,
		`{"version":5,"ops":[{"op":"put","key_b64":"/w==","index":"ix","value":"\u0000\u0001","record_version":5}]}`,
	}
	if strings.Join(again, "\n") != strings.Join(wantJSON, "\n") {
		t.Fatalf("after reopen, as JSON:\n%s\nwant:\n%s", strings.Join(again, "\n"), strings.Join(wantJSON, "\n"))
	}
}

// TestChanges_Waits: a consumer that is caught up waits for the next
// durable commit, and ends with ctx's error when ctx is done.
func TestChanges_Waits(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan db.Change)
	end := make(chan error, 1)
	go func() {
		for c, err := range d.Changes(ctx, 1) {
			if err != nil {
				end <- err
				return
			}
			got <- c
		}
		end <- nil
	}()
	for i := range 50 {
		k := fmt.Sprint("k", i)
		mustPut(t, d, k, "i"+k, "v")
		c := <-got
		if c.Version != uint64(i+2) || string(c.Ops[0].Record.Key) != k {
			t.Fatalf("after commit %d the consumer got version %d, %s", i+2, c.Version, fmtRec(c.Ops[0].Record))
		}
	}
	cancel()
	if err := <-end; !errors.Is(err, context.Canceled) {
		t.Fatalf("the feed ended with %v, want context.Canceled", err)
	}
}

// TestChanges_CloseWakesWaiter: a consumer waiting when the DB closes gets
// ErrClosed and ends.
func TestChanges_CloseWakesWaiter(t *testing.T) {
	d, err := db.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	end := make(chan error, 1)
	waiting := make(chan struct{})
	go func() {
		for c, err := range d.Changes(context.Background(), 0) {
			if err != nil {
				end <- err
				return
			}
			if c.Version == 1 {
				close(waiting)
			}
		}
		end <- nil
	}()
	mustPut(t, d, "a", "ia", "A")
	<-waiting
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-end; !errors.Is(err, db.ErrClosed) {
		t.Fatalf("the feed ended with %v, want ErrClosed", err)
	}
}

// TestChanges_ConcurrentCheckpoints: consumers racing writers and
// checkpoints that truncate the WAL under them see every version once, in
// order, until they are either caught up or told ErrCompacted: never a
// gap, never a repeat.
func TestChanges_ConcurrentCheckpoints(t *testing.T) {
	d := openTest(t, &db.Options{CheckpointEvery: 50, KeepSnapshots: 1})
	const commits = 600
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	results := make([]string, 4)
	for c := range results {
		wg.Go(func() {
			next := uint64(1)
			for ch, err := range d.Changes(ctx, 0) {
				switch {
				case errors.Is(err, db.ErrCompacted):
					results[c] = fmt.Sprintf("compacted at %d", next)
					return
				case err != nil:
					results[c] = fmt.Sprintf("error at %d: %v", next, err)
					return
				case ch.Version != next:
					results[c] = fmt.Sprintf("version %d where %d was due", ch.Version, next)
					return
				}
				if c%2 == 1 && next%10 == 0 {
					time.Sleep(time.Millisecond) // a slow consumer
				}
				if next == commits {
					results[c] = "caught up"
					return
				}
				next++
			}
		})
	}
	for i := range commits {
		mustPut(t, d, fmt.Sprint("k", i%40), fmt.Sprint("i", i), "v")
	}
	wg.Wait()
	for c, r := range results {
		if r != "caught up" && !strings.HasPrefix(r, "compacted at") {
			t.Errorf("consumer %d: %s", c, r)
		}
		t.Logf("consumer %d: %s", c, r)
	}
}

// TestOpen_DeleteRecordMismatch: a logged delete names the record it
// removed; replaying it onto a state that holds another record under that
// key is corruption, reported with the WAL file and version.
func TestOpen_DeleteRecordMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   wal.Op
		ok   bool
	}{
		{"matching", wal.Op{Kind: wal.OpDeleteRecord, Key: []byte("a"), Index: []byte("ia"), Value: []byte("A"), Version: 1}, true},
		{"legacy-delete", wal.Op{Kind: wal.OpDelete, Key: []byte("a")}, true},
		{"other-index", wal.Op{Kind: wal.OpDeleteRecord, Key: []byte("a"), Index: []byte("ib"), Value: []byte("A"), Version: 1}, false},
		{"other-value", wal.Op{Kind: wal.OpDeleteRecord, Key: []byte("a"), Index: []byte("ia"), Value: []byte("B"), Version: 1}, false},
		{"other-version", wal.Op{Kind: wal.OpDeleteRecord, Key: []byte("a"), Index: []byte("ia"), Value: []byte("A"), Version: 7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := storeWithTail(t, nil, []wal.Op{tc.op})
			d, err := db.Open(dir, nil)
			if tc.ok {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer d.Close()
				if _, err := d.Get([]byte("a")); !errors.Is(err, db.ErrNotFound) || d.Version() != 2 {
					t.Fatalf("after replaying the delete: version %d, Get = %v", d.Version(), err)
				}
				return
			}
			var ce *db.CorruptionError
			if !errors.As(err, &ce) || ce.File != path || ce.Version != 2 || !strings.Contains(ce.Reason, "names a record") {
				if err == nil {
					d.Close()
				}
				t.Fatalf("Open = %v, want a corruption of %s at version 2", err, path)
			}
		})
	}
}
