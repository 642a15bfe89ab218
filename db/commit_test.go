package db_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// gateObserver records GroupCommit events and holds the first one until
// gate is closed, so a test can queue commits behind a WAL write.
type gateObserver struct {
	db.NopObserver
	mu      sync.Mutex
	groups  []db.GroupCommitEvent
	once    sync.Once
	entered chan struct{} // closed when the first GroupCommit is called
	gate    chan struct{} // the first GroupCommit returns when this is closed
}

func (o *gateObserver) GroupCommit(e db.GroupCommitEvent) {
	o.mu.Lock()
	o.groups = append(o.groups, e)
	o.mu.Unlock()
	first := false
	o.once.Do(func() { first = true })
	if first {
		close(o.entered)
		<-o.gate
	}
}

// TestCommit_QueuedCommitsShareTheNextWrite: commits that queue while a
// WAL write is under way all go into the next one, in version order, and
// their writers are released; a transaction that commits nothing but saw
// them waits for them too.
func TestCommit_QueuedCommitsShareTheNextWrite(t *testing.T) {
	obs := &gateObserver{entered: make(chan struct{}), gate: make(chan struct{})}
	d := openTest(t, &db.Options{Observer: obs})

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Put([]byte("first"), []byte("i-first"), nil); err != nil {
			t.Errorf("Put(first): %v", err)
		}
	})
	<-obs.entered // the first write is under way and held

	const queued = 5
	// Transactions run one at a time under the writer lock, and a
	// transaction queues its commit before it releases the lock; so when
	// the function of the last writer below runs, the other queued have
	// queued their commits.
	inFn := make(chan int, queued+1)
	for w := range queued {
		wg.Go(func() {
			err := d.Update(func(tx *db.Tx) error {
				inFn <- w
				k := fmt.Sprintf("w%d", w)
				return tx.Put([]byte(k), []byte("i-"+k), nil)
			})
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}
	for range queued {
		<-inFn
	}
	wg.Go(func() {
		err := d.Update(func(*db.Tx) error {
			inFn <- queued
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Errorf("aborted Update = %v, want errAbort", err)
		}
	})
	<-inFn
	close(obs.gate)
	wg.Wait()

	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []db.GroupCommitEvent{{Records: 1, LastVersion: 1}, {Records: queued, LastVersion: 1 + queued}}
	if len(obs.groups) != len(want) {
		t.Fatalf("%d WAL writes %+v, want %d", len(obs.groups), obs.groups, len(want))
	}
	for i, g := range obs.groups {
		if g.Err != nil || g.Records != want[i].Records || g.LastVersion != want[i].LastVersion {
			t.Errorf("WAL write %d: %d records up to version %d, err %v; want %d up to %d, no error",
				i, g.Records, g.LastVersion, g.Err, want[i].Records, want[i].LastVersion)
		}
	}
	st := d.Stats()
	if st.Version != 1+queued || st.Records != 1+queued || st.Commits != 1+queued || st.GroupCommits != 2 {
		t.Errorf("Stats: version %d, %d records, %d commits, %d group commits; want %d, %d, %d, 2",
			st.Version, st.Records, st.Commits, st.GroupCommits, 1+queued, 1+queued, 1+queued)
	}
}

// panicObserver panics in its first GroupCommit, once gate is closed.
type panicObserver struct {
	db.NopObserver
	panicked atomic.Bool
	entered  chan struct{} // closed when the first GroupCommit is called
	gate     chan struct{}
}

func (o *panicObserver) GroupCommit(db.GroupCommitEvent) {
	if !o.panicked.Swap(true) {
		close(o.entered)
		<-o.gate
		panic("test: observer panics")
	}
}

// TestCommit_ObserverPanicFailsClosed: a panic during a WAL write reaches
// the writer that was writing, and the store fails closed, since the
// outcome of the write is unknown: the commits queued behind it and later
// writes get ErrFailed instead of waiting for a write that will never
// end, Close returns, and the reopened store has what reached the WAL.
func TestCommit_ObserverPanicFailsClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	obs := &panicObserver{entered: make(chan struct{}), gate: make(chan struct{})}
	d, err := db.Open(dir, &db.Options{Observer: obs, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			if r := recover(); r != "test: observer panics" {
				t.Errorf("Put recovered %v, want the observer's panic", r)
			}
		}()
		_ = d.Put([]byte("a"), []byte("ia"), nil)
	})
	<-obs.entered
	// Queue commits behind the held write (see
	// TestCommit_QueuedCommitsShareTheNextWrite for why inFn shows that).
	const queued = 3
	inFn := make(chan struct{}, queued+1)
	for w := range queued {
		wg.Go(func() {
			err := d.Update(func(tx *db.Tx) error {
				inFn <- struct{}{}
				k := fmt.Sprintf("w%d", w)
				return tx.Put([]byte(k), []byte("i-"+k), nil)
			})
			if !errors.Is(err, db.ErrFailed) {
				t.Errorf("writer %d queued behind the panic: %v, want ErrFailed", w, err)
			}
		})
	}
	for range queued {
		<-inFn
	}
	wg.Go(func() {
		// It saw the queued commits, so it learns that they failed.
		err := d.Update(func(*db.Tx) error { inFn <- struct{}{}; return errAbort })
		if !errors.Is(err, db.ErrFailed) {
			t.Errorf("aborted Update behind the panic = %v, want ErrFailed", err)
		}
	})
	<-inFn
	close(obs.gate)
	wg.Wait()

	if err := d.Stats().Failed; !errors.Is(err, db.ErrFailed) {
		t.Errorf("Stats().Failed after the panic = %v, want ErrFailed", err)
	}
	if v := d.Version(); v != 0 {
		t.Errorf("Version after the panic = %d, want 0: no write was acknowledged", v)
	}
	if err := d.Put([]byte("b"), []byte("ib"), nil); !errors.Is(err, db.ErrFailed) {
		t.Errorf("Put after the panic = %v, want ErrFailed", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The first WAL write itself succeeded before the observer panicked;
	// nothing after it reached the WAL.
	d, err = db.Open(dir, &db.Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v := d.Version(); v != 1 {
		t.Errorf("reopened Version = %d, want 1", v)
	}
	r, err := d.Get([]byte("a"))
	wantRecord(t, "reopened Get(a)", r, err, "a", "ia", "")
}
