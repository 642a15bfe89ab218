package db

import "time"

// Observer is told what a DB does, for metrics. The metrics package
// implements it with Prometheus; db itself imports no metrics library.
//
// Methods are called synchronously on the paths they measure, so they must
// be fast, must not block and must not call back into the DB. They may be
// called from many goroutines at once. Embed NopObserver to implement only
// some of them and stay compatible when methods are added.
type Observer interface {
	// Commit is called once per Update, Put or Delete call that changed
	// something, when it returns: Latency runs from the call to the durable
	// acknowledgement (or the error).
	Commit(CommitEvent)
	// GroupCommit is called once per WAL write: one bbolt transaction
	// carrying Records commits.
	GroupCommit(GroupCommitEvent)
	// Checkpoint is called after every checkpoint attempt.
	Checkpoint(CheckpointEvent)
	// Recovery is called once by Open when the store has been loaded.
	Recovery(RecoveryEvent)
	// Scan is called when an iterator of a Snapshot finishes or is stopped.
	Scan(ScanEvent)
	// OrderCheck is called after every online invariant check.
	OrderCheck(OrderCheckEvent)
}

// CommitEvent describes one commit call.
type CommitEvent struct {
	Version uint64        // version assigned, 0 if none
	Ops     int           // operations in the transaction
	Latency time.Duration // from the call to the acknowledgement
	Err     error         // nil if durable
}

// GroupCommitEvent describes one WAL write.
type GroupCommitEvent struct {
	Records     int           // commits in the bbolt transaction
	Bytes       int           // encoded bytes written
	LastVersion uint64        // version of the newest commit in it
	Latency     time.Duration // bbolt transaction including fsyncs
	Err         error
}

// CheckpointEvent describes one checkpoint attempt.
type CheckpointEvent struct {
	Version  uint64
	Records  int
	Bytes    int64 // size of the snapshot file
	Duration time.Duration
	Err      error
}

// RecoveryEvent describes Open's recovery.
type RecoveryEvent struct {
	SnapshotVersion uint64 // 0 if no snapshot was loaded
	Replayed        int    // WAL records replayed after it
	Version         uint64
	Records         int
	Duration        time.Duration
}

// ScanEvent describes one finished iteration.
type ScanEvent struct {
	ByIndex  bool // true for AscendIndex/DescendIndex
	Items    int
	Duration time.Duration
}

// OrderCheckEvent describes one online invariant check.
type OrderCheckEvent struct {
	Version  uint64
	Full     bool     // the whole store was checked, not a sample
	Findings []string // what is wrong; empty when healthy
	Duration time.Duration
}

// NopObserver implements Observer by doing nothing. Embed it.
type NopObserver struct{}

// Commit does nothing.
func (NopObserver) Commit(CommitEvent) {}

// GroupCommit does nothing.
func (NopObserver) GroupCommit(GroupCommitEvent) {}

// Checkpoint does nothing.
func (NopObserver) Checkpoint(CheckpointEvent) {}

// Recovery does nothing.
func (NopObserver) Recovery(RecoveryEvent) {}

// Scan does nothing.
func (NopObserver) Scan(ScanEvent) {}

// OrderCheck does nothing.
func (NopObserver) OrderCheck(OrderCheckEvent) {}
