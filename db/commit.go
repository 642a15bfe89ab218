package db

import (
	"errors"
	"sync"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/wal"
)

// commitReq is one transaction waiting for the WAL.
type commitReq struct {
	version  uint64
	data     []byte        // encoded WAL record
	view     btreeidx.View // frozen state at version
	err      error         // the durable outcome, set before finished is closed
	finished chan struct{} // closed when the outcome is known
	// lead is closed when the writer of this commit becomes the leader and
	// must write the group that starts with it. It is nil for a commit
	// that found no leader and so led from the start.
	lead chan struct{}
}

// finish records the outcome and releases every waiter.
func (r *commitReq) finish(err error) {
	r.err = err
	close(r.finished)
}

// committer orders the WAL writes. There is no goroutine of its own: the
// writers write. Writers queue commits in version order while holding
// DB.mu. A writer whose commit queues while no WAL write is under way
// becomes the leader: on its own goroutine it takes everything queued so
// far and writes it in one bbolt transaction. Commits that queue while
// the leader writes wait; when the leader is done it hands leadership to
// the writer of the first of them, which writes them all in the next
// transaction. So commits share fsyncs, and a lone writer pays one WAL
// transaction, no timer delay and no hand-off to another goroutine.
type committer struct {
	// qmu guards queue, leading and stopping; cond signals Close when
	// leading ends.
	qmu      sync.Mutex
	cond     *sync.Cond
	queue    []*commitReq // commits no leader has taken yet, in version order
	leading  bool         // a writer leads: it is writing, or is woken to write, queue
	stopping bool         // Close waits for the leadership to end
	// entries is the leader's scratch list for the WAL append; only the
	// current leader touches it.
	entries []wal.Entry
}

func (d *DB) startCommitter() {
	d.cm.cond = sync.NewCond(&d.cm.qmu)
}

// queueLocked queues req and reports whether its writer is the leader,
// which must call d.lead; otherwise the writer must call d.follow. A
// caller that did neither would leave the commits queued behind it
// unwritten forever. The caller holds d.mu, which keeps the queue in
// version order.
func (d *DB) queueLocked(req *commitReq) (leader bool) {
	c := &d.cm
	c.qmu.Lock()
	c.queue = append(c.queue, req)
	if c.leading {
		req.lead = make(chan struct{})
	} else {
		c.leading = true
		leader = true
	}
	c.qmu.Unlock()
	return leader
}

// follow waits until req has its outcome or its writer becomes the leader;
// in the second case it leads (a leader's own commit is in the group it
// writes). It returns once req has its outcome.
func (d *DB) follow(req *commitReq) {
	select {
	case <-req.finished:
	case <-req.lead:
		d.lead()
	}
}

// stop waits until the commits queued so far are written and no writer
// leads. Close calls it after refusing new transactions, so no commit
// queues after it returns.
func (c *committer) stop() {
	if c.cond == nil {
		return
	}
	c.qmu.Lock()
	c.stopping = true
	for c.leading {
		c.cond.Wait()
	}
	c.qmu.Unlock()
}

// lead writes the group of commits queued so far, which starts with the
// leader's own, and then passes the leadership on: to the writer of the
// first commit queued meanwhile, or to nobody.
func (d *DB) lead() {
	c := &d.cm
	c.qmu.Lock()
	batch := c.queue
	c.queue = nil
	c.qmu.Unlock()

	written := 0 // commits of batch with their outcome
	defer func() {
		if written < len(batch) {
			// writeBatch panicked (an Observer did): the outcome of the
			// group is unknown, so fail closed like after a WAL error,
			// and let the commits queued behind it learn so.
			err := d.fail(errCommitPanic)
			for _, r := range batch[written:] {
				r.finish(err)
			}
		}
		c.qmu.Lock()
		if len(c.queue) > 0 {
			next := c.queue[0]
			c.qmu.Unlock()
			close(next.lead)
			return
		}
		c.leading = false
		if c.stopping {
			c.cond.Broadcast()
		}
		c.qmu.Unlock()
	}()
	c.entries = d.writeBatch(batch, c.entries[:0], &written)
}

var errCommitPanic = errors.New("a panic interrupted a WAL write")

// writeBatch writes one group of commits and releases their waiters,
// counting them in *written as they get their outcome. It returns entries,
// grown, for reuse.
func (d *DB) writeBatch(batch []*commitReq, entries []wal.Entry, written *int) []wal.Entry {
	if err := d.failure(); err != nil {
		// Failed closed: nothing after the failed write may reach the WAL.
		for _, r := range batch {
			r.finish(err)
			*written++
		}
		return entries
	}
	bytes := 0
	for _, r := range batch {
		entries = append(entries, wal.Entry{Version: r.version, Data: r.data})
		bytes += len(r.data)
	}
	start := time.Now()
	err := d.log.Append(batch[0].version-1, entries)
	clear(entries) // keep no records alive through the scratch list
	if d.obs != nil {
		d.obs.GroupCommit(GroupCommitEvent{
			Records: len(batch), Bytes: bytes, LastVersion: batch[len(batch)-1].version,
			Latency: time.Since(start), Err: err,
		})
	}
	if err != nil {
		// Outcome unknown: never retry, never publish. Recovery decides.
		err = d.fail(err)
		for _, r := range batch {
			r.finish(err)
			*written++
		}
		return entries
	}
	last := batch[len(batch)-1]
	d.published.Store(&state{version: last.version, view: last.view})
	d.feed.notify()
	d.stats.groupCommits.Add(1)
	d.stats.walBytes.Add(uint64(bytes))
	d.stats.walMu.Lock()
	d.stats.walLast = last.version
	if d.stats.walFirst == 0 {
		d.stats.walFirst = batch[0].version
	}
	d.stats.walMu.Unlock()
	for _, r := range batch {
		r.finish(nil)
		*written++
	}
	d.ckpt.noteCommits(d, len(batch), bytes)
	return entries
}
