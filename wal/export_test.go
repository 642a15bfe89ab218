package wal

import bolt "go.etcd.io/bbolt"

// Hooks for the tests of package wal_test. Nothing outside the tests needs
// them, so they live in a test file.

// Path returns the file's path.
func (l *Log) Path() string { return l.path }

// Size returns the file's size in bytes.
func (l *Log) Size() int64 {
	var n int64
	_ = l.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

// EncodedSize returns the size of the record AppendRecord makes of ops,
// computed from the format's description rather than by encoding.
func EncodedSize(ops []Op) int {
	n := 1 + uvarintLen(uint64(len(ops))) + crcSize
	for _, op := range ops {
		n += OpSize(op)
	}
	return n
}
