package db

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Sample sizes of the online check on large stores: windows and records per
// window, in each index.
const (
	orderCheckWindows = 32
	orderCheckWidth   = 256
	orderCheckLimit   = 20     // findings reported per run
	orderCheckRolling = 16_384 // records per run of the rolling window
)

// orderChecker runs the online invariant check of Options.OrderCheckInterval.
type orderChecker struct {
	stopc chan struct{}
	wg    sync.WaitGroup

	// mu guards the rolling cursors: where the next window of each tree
	// starts, so successive checks of a large store cover all of it.
	mu                 sync.Mutex
	nextKey, nextIndex []byte
}

func (d *DB) startOrderCheck() {
	if d.opts.OrderCheckInterval <= 0 {
		return
	}
	d.oc.stopc = make(chan struct{})
	d.oc.wg.Add(1)
	go func() {
		defer d.oc.wg.Done()
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6f72646572))
		t := time.NewTicker(d.opts.OrderCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-d.oc.stopc:
				return
			case <-t.C:
				d.CheckOnline(r)
			}
		}
	}()
}

func (c *orderChecker) stop() {
	if c.stopc == nil {
		return
	}
	close(c.stopc)
	c.wg.Wait()
}

// CheckOnline runs one online invariant check now, as the background check
// of Options.OrderCheckInterval does, and returns its findings (none when
// healthy). Stores of up to Options.OrderCheckFullLimit records are checked
// in full, larger ones on a random sample of ranges drawn from r (nil: a
// fresh source), plus a rolling window that resumes where the previous
// run stopped, so that successive runs cover the whole store. It reads a
// Snapshot and never blocks writers. After Close it checks the last durable
// version, which stays in memory.
func (d *DB) CheckOnline(r *rand.Rand) OrderCheckEvent {
	start := time.Now()
	s := d.current()
	ev := OrderCheckEvent{Version: s.version}
	if s.view.Len() <= d.opts.OrderCheckFullLimit {
		ev.Full = true
		ev.Findings = s.view.Check(orderCheckLimit)
	} else {
		if r == nil {
			r = rand.New(rand.NewPCG(uint64(start.UnixNano()), 1))
		}
		// A rolling window covers the whole store over successive runs;
		// random windows add spread within each run.
		d.oc.mu.Lock()
		f, nk, ni := s.view.CheckWindow(d.oc.nextKey, d.oc.nextIndex, orderCheckRolling, orderCheckLimit)
		d.oc.nextKey, d.oc.nextIndex = nk, ni
		d.oc.mu.Unlock()
		ev.Findings = f
		if len(f) < orderCheckLimit {
			ev.Findings = append(f, s.view.CheckSample(r, orderCheckWindows, orderCheckWidth, orderCheckLimit-len(f))...)
		}
	}
	ev.Duration = time.Since(start)
	if len(ev.Findings) > 0 {
		d.logger.Error("dualdb: online order check failed", "dir", d.dir, "version", ev.Version, "findings", ev.Findings)
	}
	if d.obs != nil {
		d.obs.OrderCheck(ev)
	}
	return ev
}
