package snapshot_test

import (
	"math"
	"testing"

	"github.com/dualdb/dualdb/snapshot"
)

func TestFileName(t *testing.T) {
	for _, v := range []uint64{0, 1, 42, 1 << 40, math.MaxUint64} {
		name := snapshot.FileName(v)
		if len(name) != 20+len(snapshot.Ext) {
			t.Fatalf("FileName(%d) = %q", v, name)
		}
		got, ok := snapshot.ParseFileName(name)
		if !ok || got != v {
			t.Fatalf("ParseFileName(%q) = %d, %v", name, got, ok)
		}
	}
	if snapshot.FileName(9) >= snapshot.FileName(10) {
		t.Fatal("file names do not sort by version")
	}
	for _, bad := range []string{
		"", ".dsnap", "42.dsnap", "00000000000000000042.dsnap.tmp", "00000000000000000042.DSNAP",
		"0000000000000000004x.dsnap", "+0000000000000000042.dsnap", "99999999999999999999.dsnap",
		"snap/00000000000000000042.dsnap", "000000000000000000042.dsnap", "00000000000000000042.dsna",
	} {
		if v, ok := snapshot.ParseFileName(bad); ok {
			t.Errorf("ParseFileName(%q) = %d, true", bad, v)
		}
	}
}
