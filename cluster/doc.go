// Package cluster replicates a dualdb store with Raft (hashicorp/raft):
// every node holds the whole store in memory, as a db.Replica, and raft's
// log is its write-ahead log.
//
// # Versions
//
// The version of a node's store is the raft index of the last command
// applied to it. Every node applies the same commands at the same indexes,
// so equal versions mean equal stores (Status.StateHash proves it). Raft
// also logs entries that are not commands (its no-ops, configuration
// changes, read barriers); they take indexes but never reach the store, so
// versions have gaps: a store's version jumps to the index of each command.
// A command the store refuses (an index key owned by another record, a
// delete of a missing key) changes nothing and still takes its version,
// on every node alike: the refusal is decided by the state machine, not by
// the node that received the request.
//
// # Durability
//
// A write is acknowledged when a majority has its log entry on disk (raft
// fsyncs its bbolt log) and the leader has applied it. The store itself is
// not written to disk: a node that restarts rebuilds it from raft's newest
// snapshot (a dualdb snapshot stream, package snapshot) plus the log after
// it; a node too far behind gets a snapshot from the leader.
//
// # Reads
//
// Linearizable reads (the default) are served by the leader after it has
// committed an entry in its current term, read its commit index, confirmed
// with a quorum that it is still the leader (raft.VerifyLeader) and applied
// every command up to that index; a leader lease alone is not trusted.
// Stale reads are served from the local store at once.
//
// # Writes through any node
//
// A follower forwards writes (and linearizable reads) to the leader's HTTP
// API. With no leader the answer is 503 with Retry-After. A write whose
// entry was sent but whose result was lost (leadership lost, connection to
// the leader cut) is answered StatusOutcomeUnknown: it may or may not be
// applied, and it is never retried behind the client's back.
package cluster
