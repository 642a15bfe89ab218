package db

import (
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
}

// finish records the outcome and releases every waiter.
func (r *commitReq) finish(err error) {
	r.err = err
	close(r.finished)
}

// committer owns the WAL writes. Writers queue commits in version order
// while holding DB.mu; one goroutine takes everything queued so far and
// writes it in one bbolt transaction, so commits that queued during the
// previous fsync share the next one. There is no timer: a lone writer
// pays one WAL transaction and no delay.
type committer struct {
	// qmu guards queue and stopping; cond signals both.
	qmu      sync.Mutex
	cond     *sync.Cond
	queue    []*commitReq
	stopping bool
	done     chan struct{} // closed when the loop has exited
}

func (d *DB) startCommitter() {
	d.cm.cond = sync.NewCond(&d.cm.qmu)
	d.cm.done = make(chan struct{})
	go d.commitLoop()
}

// enqueueLocked queues req; the caller holds d.mu, which keeps the queue in
// version order.
func (d *DB) enqueueLocked(req *commitReq) {
	d.cm.qmu.Lock()
	d.cm.queue = append(d.cm.queue, req)
	d.cm.qmu.Unlock()
	d.cm.cond.Signal()
}

// stop lets the loop drain the queue and waits for it to exit.
func (c *committer) stop() {
	if c.cond == nil {
		return
	}
	c.qmu.Lock()
	c.stopping = true
	c.qmu.Unlock()
	c.cond.Signal()
	<-c.done
}

func (d *DB) commitLoop() {
	defer close(d.cm.done)
	var entries []wal.Entry
	for {
		d.cm.qmu.Lock()
		for len(d.cm.queue) == 0 && !d.cm.stopping {
			d.cm.cond.Wait()
		}
		batch := d.cm.queue
		d.cm.queue = nil
		stopping := d.cm.stopping
		d.cm.qmu.Unlock()
		if len(batch) == 0 && stopping {
			return
		}
		d.writeBatch(batch, entries[:0])
	}
}

// writeBatch writes one group of commits and releases their waiters.
func (d *DB) writeBatch(batch []*commitReq, entries []wal.Entry) {
	if err := d.failure(); err != nil {
		// Failed closed: nothing after the failed write may reach the WAL.
		for _, r := range batch {
			r.finish(err)
		}
		return
	}
	bytes := 0
	for _, r := range batch {
		entries = append(entries, wal.Entry{Version: r.version, Data: r.data})
		bytes += len(r.data)
	}
	start := time.Now()
	err := d.log.Append(batch[0].version-1, entries)
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
		}
		return
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
	}
	d.ckpt.noteCommits(d, len(batch), bytes)
}
