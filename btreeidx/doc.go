// Package btreeidx is dualdb's dual in-memory index: a primary B-tree
// ordered by key and a secondary B-tree ordered by index key, kept in step
// by every Put and Delete, with copy-on-write versions.
//
// # Model
//
// A record has a key, a unique index key and a value. The primary tree holds
// every record ordered by key; the secondary tree holds the same records
// ordered by index key. Both trees point at one immutable record,
// so the secondary tree reaches the record without a second lookup, and the
// bijection "index -> key -> record carrying that index" holds by
// construction: Put and Delete update both trees or, on a conflict, neither.
//
// # Versions
//
// An *Index is the writer's private head: not safe for concurrent use. Freeze
// returns a View, an O(1) copy-on-write clone (google/btree Clone) that is
// never written again; any number of goroutines may read a View while the
// head moves on, because the head copies a shared node before changing it.
//
// # Layout of a record and of a tree item
//
// A record is ONE allocation: a header of four uvarints (the lengths of
// key, index key and value, then the version), followed by the key, the
// index key and the value, back to back. A Builder fed by a snapshot
// reader (Builder.Alloc) has the reader write the fields straight into it.
//
// Tree items are 24 bytes: the first 15 bytes of the compared key, zero
// padded, and its length capped at 16, as two big-endian uint64 words,
// and a pointer to the record. The words order like bytes.Compare: a key
// of up to 15 bytes is compared without touching the record's memory,
// and longer keys only when their first 15 bytes tie.
//
// # Iteration
//
// The iterators take records from a tree in batches (4, 8, ... up to 64)
// and load the memory of a whole batch before yielding its records: after
// a load in random key order, consecutive records lie anywhere in memory,
// and the processor then waits for their cache misses together instead of
// one at a time. Breaking out of a loop early costs at most the rest of a
// batch.
//
// # Returned slices
//
// Records returned by Get and the iterators alias the index's immutable
// records. They stay valid forever; callers must not modify them. Put copies
// its arguments.
package btreeidx
