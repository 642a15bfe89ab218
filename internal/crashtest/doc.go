// Package crashtest is the crash harness shared by the reliability tests
// and the `dualdb torture` command.
//
// # How it works
//
// A child process (the test binary or the dualdb binary, re-executed) opens
// a store and runs a workload: several writers, each owning a partition of
// keys and index keys, issue single Puts, Deletes and multi-record Updates
// that move index keys between records, while the store takes automatic
// checkpoints on a short interval and a goroutine takes explicit ones. A
// ballast writer keeps a large static partition so that Open and
// checkpoints take long enough to be hit.
//
// The child reports on its stdout, one line per event, before and after
// every operation (see protocol.go): an intent line before the call, an
// acknowledgement line after it returned nil. The parent reads the lines as
// they come, keeps an exact model of every writer's partition (a writer is
// sequential, so its partition has one known state plus at most one
// operation in flight), kills the child with SIGKILL at a random moment —
// also while it opens the store and while it writes a checkpoint — and then
// checks the store on disk:
//
//   - every acknowledged commit is there with its value (else: lost), and
//     each record it left carries its version as Record.Version (the child
//     reports the version with the acknowledgement);
//   - the operation in flight is either wholly applied or not at all (else:
//     partial);
//   - the store's version is exactly the number of commits that took a
//     version (versions are contiguous and nothing extra was applied);
//   - the store's invariants hold: both orders strictly ascending, the
//     same records both ways, the index a bijection (own scans and
//     Snapshot.Check), and db.Verify finds nothing;
//   - the change feed survives: replayed from the state the WAL continues,
//     the changes db.Changes yields give exactly the recovered records
//     and their versions (CheckFeed), so every recovered version, every
//     acknowledged one among them, is in the feed with the ops that made
//     it;
//   - every operation's reported result (ok, conflict, not found) is the one
//     the model predicts.
//
// The power-loss rig (package xfsrig) runs the same cycle on an XFS file
// system in a loop device that is shut down without flushing its log, which
// drops every write that was not fsynced, as a power cut does. The rig and
// the fault-injecting file system (package faultfs) are separate packages
// that only tests import, so that neither is linked into the dualdb binary,
// which needs only the harness for `dualdb torture`.
package crashtest
