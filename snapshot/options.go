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
// newer library may compress differently, the format stays readable.
const (
	// LevelDefault is zstd's default level (about zstd -3). On user
	// records it writes about 0.1 of the raw bytes at a few hundred MB/s.
	LevelDefault Level = iota
	// LevelFastest is zstd's fastest level (about zstd -1).
	LevelFastest
	// LevelBetter compresses better at two to three times the CPU cost
	// (about zstd -7).
	LevelBetter
	// LevelBest compresses best, at many times the CPU cost.
	LevelBest

	numLevels // number of levels, not a level
)

// String returns the level's name.
func (l Level) String() string {
	switch l {
	case LevelDefault:
		return "default"
	case LevelFastest:
		return "fastest"
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
	// Default: LevelDefault.
	EncoderLevel Level
}

// limits are Options resolved to their effective values.
type limits struct {
	fs        vfs.FS
	maxKey    uint64
	maxIndex  uint64
	maxValue  uint64
	maxMemory uint64
	level     Level
}

// resolve returns the effective settings of o, which may be nil.
func (o *Options) resolve() (limits, error) {
	l := limits{
		fs:        vfs.OS,
		maxKey:    DefaultMaxKeySize,
		maxIndex:  DefaultMaxIndexSize,
		maxValue:  DefaultMaxValueSize,
		maxMemory: DefaultDecoderMaxMemory,
		level:     LevelDefault,
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
	l.level = o.EncoderLevel
	return l, nil
}
