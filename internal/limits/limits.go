// Package limits holds the default size limits of a record, in one place
// for the packages that enforce them: the db package refuses a longer key
// or value on write, and the snapshot package refuses to write, and
// rejects as corrupt on read, a longer field. A store and its snapshot
// files therefore agree on what a record may hold.
package limits

// Defaults, in bytes, of the largest key, index key and value.
const (
	// DefaultMaxKeySize caps a key and an index key: 64 KiB.
	DefaultMaxKeySize = 64 << 10
	// DefaultMaxValueSize caps a value: 16 MiB.
	DefaultMaxValueSize = 16 << 20
)
