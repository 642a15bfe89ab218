package snapshot_test

import (
	"testing"

	"github.com/dualdb/dualdb/snapshot"
)

func TestOptions_Invalid(t *testing.T) {
	for _, o := range []*snapshot.Options{
		{MaxKeySize: -1}, {MaxIndexSize: -2}, {MaxValueSize: -5},
	} {
		if _, err := snapshot.Verify("whatever", o); err == nil {
			t.Errorf("Options %+v accepted", *o)
		}
		if _, _, err := snapshot.Write(t.TempDir(), snapshot.Header{}, seqOf(nil), o); err == nil {
			t.Errorf("Write accepted Options %+v", *o)
		}
	}
}
