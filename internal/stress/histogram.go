package stress

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a log-linear histogram of durations: 32 buckets per power
// of two, so a quantile is within about 3% of the truth, at no allocation
// per sample. It is not safe for concurrent use: one goroutine adds to it,
// and it is merged or read once that goroutine is done. The zero value is
// empty and ready to use.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    uint64 // nanoseconds
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits - 1 + 2) * histSub
)

// histBucket returns the bucket of v nanoseconds: values below 2*histSub
// have their own bucket, larger ones share a bucket with the values that
// agree in their top histSubBits+1 bits.
func histBucket(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1
	return e*histSub + int(v>>e)
}

// histRange returns the smallest value of bucket i and the bucket's width.
func histRange(i int) (low, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	e := i/histSub - 1
	return uint64(i-e*histSub) << e, 1 << e
}

// Add records one sample; a negative duration counts as 0.
func (h *Histogram) Add(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histBucket(v)]++
	h.n++
	h.max = max(h.max, v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding it, capped at the largest sample; 0 without samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histRange(i)
			return time.Duration(min(low+width/2, h.max))
		}
	}
	return time.Duration(h.max)
}
