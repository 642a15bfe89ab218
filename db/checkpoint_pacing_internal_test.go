package db

import (
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"
)

// loadPacing drives the automatic trigger through a load of total WAL
// bytes in commits of commit bytes, as a store that only grows sees it:
// every due checkpoint snapshots what was loaded so far. It returns how
// many checkpoints ran, the record bytes they wrote in all, and the most
// WAL bytes between two of them (what Open could have to replay).
func loadPacing(o Options, total, commit int64) (n int, written, maxGap int64) {
	var c checkpointer
	var loaded, gap int64
	for loaded < total {
		loaded += commit
		gap += commit
		if c.due(&o, 1, int(commit)) {
			n++
			written += loaded
			maxGap = max(maxGap, gap)
			gap = 0
			c.storeBytes.Store(loaded)
		}
	}
	return n, written, max(maxGap, gap)
}

// A bulk load must cost O(log N) checkpoints and O(N) bytes written by
// them, not one checkpoint of the whole store every CheckpointBytes
// (quadratic), while the WAL between two checkpoints stays about one
// store's worth.
func TestCheckpointDue_GrowsWithStore(t *testing.T) {
	const floor, commit = 64 << 10, 16 << 10
	o := Options{CheckpointEvery: 1 << 30, CheckpointBytes: floor}
	for _, total := range []int64{1 << 20, 16 << 20, 256 << 20} {
		t.Run(fmt.Sprint("total=", total), func(t *testing.T) {
			n, written, maxGap := loadPacing(o, total, commit)
			// Each checkpoint grows the store by at least a quarter
			// (1/walShare): log_1.25(total/floor)+1.
			if limit := int(math.Log(float64(total/floor))/math.Log(1+1.0/walShare)) + 1; n > limit {
				t.Errorf("%d checkpoints, want at most %d", n, limit)
			}
			if n == 0 {
				t.Errorf("no checkpoint in a load of %d bytes with CheckpointBytes %d", total, floor)
			}
			if written > (walShare+1)*total {
				t.Errorf("checkpoints wrote %d bytes for a load of %d, want at most %dx", written, total, walShare+1)
			}
			if maxGap > total/walShare+floor+commit {
				t.Errorf("%d WAL bytes between two checkpoints of a %d-byte store, want at most a quarter of it", maxGap, total)
			}
		})
	}
}

// The floor and the commit count still trigger as documented.
func TestCheckpointDue_FloorAndCount(t *testing.T) {
	var c checkpointer
	o := Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1000}
	if c.due(&o, 1, 999) {
		t.Fatal("due before CheckpointBytes")
	}
	if !c.due(&o, 1, 1) {
		t.Fatal("not due at CheckpointBytes with an empty store")
	}
	c.storeBytes.Store(5000 * walShare)
	if c.due(&o, 1, 4999) {
		t.Fatal("due before a quarter of the store's record bytes")
	}
	if !c.due(&o, 1, 1) {
		t.Fatal("not due at a quarter of the store's record bytes")
	}
	// The commit count ignores the store's size.
	o = Options{CheckpointEvery: 10, CheckpointBytes: 1000}
	c.storeBytes.Store(1 << 40)
	for i := 1; i < 10; i++ {
		if c.due(&o, 1, 10) {
			t.Fatalf("due after %d of 10 commits", i)
		}
	}
	if !c.due(&o, 1, 10) {
		t.Fatal("not due after CheckpointEvery commits")
	}
	// A negative CheckpointBytes turns the byte trigger off.
	o = Options{CheckpointEvery: 1 << 30, CheckpointBytes: -1}
	c.storeBytes.Store(0)
	if c.due(&o, 1, 1<<40) {
		t.Fatal("byte trigger fired with CheckpointBytes < 0")
	}
}

// A checkpoint, and an Open, learn the record bytes of the store, which
// pace the next automatic checkpoint.
func TestCheckpoint_LearnsStoreBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	quiet := slog.New(slog.DiscardHandler)
	d, err := Open(dir, &Options{CheckpointEvery: 1 << 30, NoSync: true, NoAdminSocket: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	err = d.Update(func(tx *Tx) error {
		for i := range 500 {
			k, x, v := fmt.Appendf(nil, "key%04d", i), fmt.Appendf(nil, "idx%05d", i), make([]byte, i%37)
			want += int64(len(k) + len(x) + len(v))
			if err := tx.Put(k, x, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := d.ckpt.storeBytes.Load(); got != want {
		t.Errorf("after Checkpoint: store bytes %d, want %d", got, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(dir, &Options{CheckpointEvery: 1 << 30, NoSync: true, NoAdminSocket: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, ok := recordBytes(d.current().view, nil)
	if !ok || got != want {
		t.Errorf("recordBytes of the reopened store = %d, %v; want %d", got, ok, want)
	}
	// Open measures it in the background: wait, bounded.
	for i := 0; i < 500 && d.ckpt.storeBytes.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := d.ckpt.storeBytes.Load(); got != want {
		t.Errorf("after Open: store bytes %d, want %d", got, want)
	}
}
