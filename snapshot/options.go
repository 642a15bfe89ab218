package snapshot

import (
	"fmt"

	"github.com/dualdb/dualdb/internal/limits"
	"github.com/dualdb/dualdb/vfs"
)

// DefaultDecoderMaxMemory is the largest zstd window a reader accepts when
// Options.DecoderMaxMemory is 0, in bytes.
const DefaultDecoderMaxMemory = 256 << 20

// Options configure writing and reading snapshot files. A nil *Options is
// valid and means all defaults; a zero field means its default.
type Options struct {
	// FS is the file system every file operation goes through.
	// Default: vfs.OS.
	FS vfs.FS

	// MaxKeySize, MaxIndexSize and MaxValueSize cap the length of a key,
	// an index key and a value, in bytes. A reader rejects a longer length
	// prefix as corruption before allocating anything; an Encoder refuses
	// to write a longer field. The defaults are the store's (64 KiB for
	// keys and index keys, 16 MiB for values), so that a reader given no
	// Options accepts what a store with default Options writes; a store
	// created with larger limits must pass them.
	MaxKeySize, MaxIndexSize, MaxValueSize int

	// DecoderMaxMemory caps the zstd window a reader accepts, in bytes
	// (zstd.WithDecoderMaxMemory). A file asking for more is corrupt.
	// Default: DefaultDecoderMaxMemory (256 MiB).
	DecoderMaxMemory uint64
}

// settings are Options resolved to their effective values.
type settings struct {
	fs        vfs.FS
	maxKey    uint64
	maxIndex  uint64
	maxValue  uint64
	maxMemory uint64
}

// resolve returns the effective settings of o, which may be nil.
func (o *Options) resolve() (settings, error) {
	l := settings{
		fs:        vfs.OS,
		maxKey:    limits.DefaultMaxKeySize,
		maxIndex:  limits.DefaultMaxKeySize,
		maxValue:  limits.DefaultMaxValueSize,
		maxMemory: DefaultDecoderMaxMemory,
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
	return l, nil
}
