package stress

import (
	"testing"
	"time"
)

func TestHistogram_Quantile(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	if h.Count() != 100000 {
		t.Fatalf("Count() = %d, want 100000", h.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 99900 * time.Microsecond}, {1, 100 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if diff := float64(got-c.want) / float64(c.want); diff < -0.035 || diff > 0.035 {
			t.Errorf("Quantile(%v) = %v, want %v within 3.5%%", c.q, got, c.want)
		}
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("quantile of no samples is not 0")
	}
}

// Every bucket's range starts where the previous one ends, and a value
// falls in the bucket whose range holds it.
func TestHistogram_Buckets(t *testing.T) {
	for i := 1; i < histBuckets; i++ {
		lo, _ := histRange(i)
		plo, pw := histRange(i - 1)
		if lo != plo+pw || histBucket(lo) != i || histBucket(lo-1) != i-1 {
			t.Fatalf("bucket %d starts at %d; bucket %d is [%d, %d)", i, lo, i-1, plo, plo+pw)
		}
	}
	if b := histBucket(^uint64(0)); b != histBuckets-1 {
		t.Errorf("the largest value falls in bucket %d, want the last, %d", b, histBuckets-1)
	}
}

// Merging two histograms gives the quantiles of all their samples, and a
// small sample is not reported above the largest one.
func TestHistogram_Merge(t *testing.T) {
	var a, b Histogram
	for i := 1; i <= 1000; i++ {
		a.Add(time.Duration(i) * time.Microsecond)
		b.Add(time.Duration(i) * time.Millisecond)
	}
	a.Merge(&b)
	if a.Count() != 2000 {
		t.Fatalf("merged count %d, want 2000", a.Count())
	}
	if got := a.Quantile(0.25); got < 480*time.Microsecond || got > 520*time.Microsecond {
		t.Errorf("Quantile(0.25) = %v, want about 500µs", got)
	}
	if got := a.Quantile(0.75); got < 480*time.Millisecond || got > 520*time.Millisecond {
		t.Errorf("Quantile(0.75) = %v, want about 500ms", got)
	}
	if got := a.Quantile(1); got < 970*time.Millisecond || got > time.Second {
		t.Errorf("Quantile(1) = %v, want within 3%% below the largest sample, 1s", got)
	}
	var one Histogram
	one.Add(1000)
	one.Add(-5)
	if got := one.Quantile(1); got != 1000 {
		t.Errorf("Quantile(1) of {-5, 1000} = %v, want 1µs", got)
	}
}
