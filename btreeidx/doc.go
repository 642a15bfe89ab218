// Package btreeidx is dualdb's dual in-memory index: a primary B-tree
// ordered by key and a secondary B-tree ordered by index key, kept in step
// by every Put and Delete, with copy-on-write versions.
//
// # Model
//
// A record has a key, a unique index key and a value. The primary tree holds
// every record ordered by key; the secondary tree holds the same records
// ordered by index key. Both trees point at one immutable entry per record,
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
// # Layout of a tree item
//
// Tree items are 24 bytes: the first 16 bytes of the compared key, as two
// big-endian uint64 words (zero padded), and a pointer to the entry. Most
// comparisons inside a node are settled by the inline words without touching
// the entry's memory; equal prefixes fall back to comparing the whole keys.
//
// # Returned slices
//
// Records returned by Get and the iterators alias the index's immutable
// entries. They stay valid forever; callers must not modify them. Put copies
// its arguments.
package btreeidx
