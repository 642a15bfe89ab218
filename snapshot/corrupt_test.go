package snapshot_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dualdb/dualdb/internal/testtier"
	"github.com/dualdb/dualdb/snapshot"
)

var flipSeed = flag.Uint64("flipseed", 0, "seed of TestCorrupt_ByteFlips (0: from the clock)")

// corruptionBase returns a valid snapshot of a few hundred KiB and its
// records: random values, so that zstd cannot shrink it much.
func corruptionBase(t *testing.T) ([]byte, []snapshot.Record) {
	t.Helper()
	recs := fixedRecords(21, 3000, 100)
	recs = append(recs, userRecords(21, 6000)[3000:]...)
	file := encode(t, snapshot.Header{StoreID: testStoreID, Version: 99, Count: uint64(len(recs))}, recs, nil)
	if len(file) < 200<<10 {
		t.Fatalf("base file is only %d bytes", len(file))
	}
	return file, recs
}

// mustBeCorrupt reads and verifies data (as file name in fsys) and fails
// unless both report corruption. It returns the number of records Read
// delivered before it failed.
func mustBeCorrupt(t *testing.T, fsys *memFS, name string, data []byte, what string) int {
	t.Helper()
	fsys.put(name, data)
	opts := &snapshot.Options{FS: fsys}
	n := 0
	_, err := snapshot.Read(name, opts, func(snapshot.Record) error { n++; return nil })
	wantCorrupt(t, what+": Read", err, name)
	_, err = snapshot.Verify(name, opts)
	wantCorrupt(t, what+": Verify", err, name)
	return n
}

// TestCorrupt_Truncation cuts a valid file at every 512-byte boundary (in
// the fast tier every 4 KiB), just around the header and just around the
// footer, and wants every cut detected.
func TestCorrupt_Truncation(t *testing.T) {
	file, _ := corruptionBase(t)
	fsys := newMemFS()
	name := "/snap/" + snapshot.FileName(99)
	var cuts []int
	for n := 0; n < len(file); n += testtier.Pick(4096, 512) {
		cuts = append(cuts, n)
	}
	for d := 1; d <= snapshot.FooterSize+1; d++ {
		cuts = append(cuts, len(file)-d)
	}
	cuts = append(cuts, 1, snapshot.HeaderSize-1, snapshot.HeaderSize, snapshot.HeaderSize+1)
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for _, n := range cuts {
		mustBeCorrupt(t, fsys, name, file[:n], fmt.Sprintf("cut at %d of %d", n, len(file)))
	}
	t.Logf("%d truncations of a %d-byte file detected", len(cuts), len(file))
}

// TestCorrupt_ByteFlips flips one byte at 200 random offsets (50 in the
// fast tier; seeded: the seed is logged, and -flipseed replays it) and
// wants every flip detected.
func TestCorrupt_ByteFlips(t *testing.T) {
	seed := *flipSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -flipseed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	file, _ := corruptionBase(t)
	fsys := newMemFS()
	name := "/snap/" + snapshot.FileName(99)
	regions := map[string]int{}
	flips := testtier.Pick(50, 200)
	for range flips {
		off := rng.IntN(len(file))
		// Bias a quarter of the flips towards the header and footer, which
		// are small but matter.
		if rng.IntN(4) == 0 {
			if rng.IntN(2) == 0 {
				off = rng.IntN(snapshot.HeaderSize)
			} else {
				off = len(file) - 1 - rng.IntN(snapshot.FooterSize)
			}
		}
		switch {
		case off < snapshot.HeaderSize:
			regions["header"]++
		case off >= len(file)-snapshot.FooterSize:
			regions["footer"]++
		default:
			regions["stream"]++
		}
		damaged := slices.Clone(file)
		damaged[off] ^= byte(1 + rng.IntN(255))
		mustBeCorrupt(t, fsys, name, damaged, fmt.Sprintf("seed %d: flip at %d (%#02x -> %#02x)", seed, off, file[off], damaged[off]))
	}
	t.Logf("%d flips detected: %v", flips, regions)
}

// TestCorrupt_EveryByteOfSmallFile flips each byte of a small file in turn,
// with three different masks.
func TestCorrupt_EveryByteOfSmallFile(t *testing.T) {
	recs := userRecords(5, 8)
	file := encode(t, snapshot.Header{StoreID: testStoreID, Version: 3, Count: uint64(len(recs))}, recs, nil)
	fsys := newMemFS()
	name := "/snap/" + snapshot.FileName(3)
	for off := range file {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			damaged := slices.Clone(file)
			damaged[off] ^= mask
			mustBeCorrupt(t, fsys, name, damaged, fmt.Sprintf("flip %#02x at %d", mask, off))
		}
	}
	t.Logf("%d flips of a %d-byte file detected", 3*len(file), len(file))
}
