package snapshot

import (
	"fmt"

	"github.com/dualdb/dualdb/vfs"
)

// Default limits used when the corresponding Options field is 0.
const (
	DefaultMaxKeySize       = 64 << 10  // bytes
	DefaultMaxIndexSize     = 64 << 10  // bytes
	DefaultMaxValueSize     = 64 << 20  // bytes
	DefaultDecoderMaxMemory = 256 << 20 // bytes
)

// Level is a zstd compression level for writing snapshots. The zero value
// is LevelDefault.
type Level int

// Compression levels. The zstd library maps them to its own settings; a
// newer library may compress differently, the format stays readable. Every
// level writes deterministic output.
const (
	// LevelDefault, the zero value, is LevelFast.
	LevelDefault Level = iota
	// LevelFast is zstd's fastest level (about zstd -1). On user records
	// (JSON profiles) it writes about 0.18 of the raw bytes, at about half
	// the CPU cost of LevelBalanced.
	LevelFast
	// LevelBalanced is zstd's default level (about zstd -3): about 0.17 on
	// user records.
	LevelBalanced
	// LevelBetter compresses better at two to three times the CPU cost of
	// LevelBalanced (about zstd -7): about 0.15 on user records.
	LevelBetter
	// LevelBest compresses best, at many times the CPU cost: about 0.14
	// on user records.
	LevelBest

	numLevels // number of levels, not a level
)

// String returns the level's name.
func (l Level) String() string {
	switch l {
	case LevelDefault:
		return "default"
	case LevelFast:
		return "fast"
	case LevelBalanced:
		return "balanced"
	case LevelBetter:
		return "better"
	case LevelBest:
		return "best"
	default:
		return fmt.Sprintf("Level(%d)", int(l))
	}
}

// Options configure writing and reading snapshots. A nil *Options is valid
// and means all defaults; a zero field means its default.
type Options struct {
	// FS is the file system every file operation goes through.
	// Default: vfs.OS.
	FS vfs.FS

	// MaxKeySize, MaxIndexSize and MaxValueSize cap the length of a key,
	// an index key and a value, in bytes. A reader rejects a longer length
	// prefix as corruption before allocating anything; an Encoder refuses
	// to write a longer field. Defaults: DefaultMaxKeySize (64 KiB),
	// DefaultMaxIndexSize (64 KiB), DefaultMaxValueSize (64 MiB).
	MaxKeySize, MaxIndexSize, MaxValueSize int

	// DecoderMaxMemory caps the zstd window a reader accepts, in bytes
	// (zstd.WithDecoderMaxMemory). A file asking for more is corrupt.
	// Default: DefaultDecoderMaxMemory (256 MiB).
	DecoderMaxMemory uint64

	// EncoderLevel is the compression level of Write and NewEncoder.
	// Default: LevelDefault, which is LevelFast.
	EncoderLevel Level
}

// limits are Options resolved to their effective values.
type limits struct {
	fs        vfs.FS
	maxKey    uint64
	maxIndex  uint64
	maxValue  uint64
	maxMemory uint64
	level     Level // never LevelDefault
}

// resolve returns the effective settings of o, which may be nil.
func (o *Options) resolve() (limits, error) {
	l := limits{
		fs:        vfs.OS,
		maxKey:    DefaultMaxKeySize,
		maxIndex:  DefaultMaxIndexSize,
		maxValue:  DefaultMaxValueSize,
		maxMemory: DefaultDecoderMaxMemory,
		level:     LevelFast,
	}
	if o == nil {
		return l, nil
	}
	if o.FS != nil {
		l.fs = o.FS
	}
	for _, f := range []struct {
		name string
		v    int
		dst  *uint64
	}{
		{"MaxKeySize", o.MaxKeySize, &l.maxKey},
		{"MaxIndexSize", o.MaxIndexSize, &l.maxIndex},
		{"MaxValueSize", o.MaxValueSize, &l.maxValue},
	} {
		switch {
		case f.v < 0:
			return l, fmt.Errorf("snapshot: Options.%s is negative (%d)", f.name, f.v)
		case f.v > 0:
			*f.dst = uint64(f.v)
		}
	}
	if o.DecoderMaxMemory != 0 {
		l.maxMemory = min(o.DecoderMaxMemory, 1<<63)
	}
	if o.EncoderLevel < 0 || o.EncoderLevel >= numLevels {
		return l, fmt.Errorf("snapshot: unknown Options.EncoderLevel %d", int(o.EncoderLevel))
	}
	if o.EncoderLevel != LevelDefault {
		l.level = o.EncoderLevel
	}
	return l, nil
}
