package btreeidx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
)

// Check verifies the store's invariants (docs/design.md) on v and returns what is
// wrong, at most limit findings (limit <= 0: no limit):
//
//   - order: keys strictly ascend in the primary tree, index keys in the
//     secondary tree;
//   - bijection: every secondary entry leads to a record carrying that
//     index key, found in the primary tree under its key, and every record
//     is found in the secondary tree under its index key;
//   - counts: both trees hold the same number of records.
//
// It reads the whole View: O(n log n).
func (v View) Check(limit int) []string {
	c := checker{v: v, limit: limit}
	c.scan(nil, nil, -1)
	if v.Len() != v.secLen() {
		c.add("count: primary tree has %d records, secondary tree %d", v.Len(), v.secLen())
	}
	return c.findings
}

// CheckSample checks the same invariants on up to ranges random windows
// of width records in each tree, for stores too large to check in full
// between commits. It costs O(ranges * width * log n).
func (v View) CheckSample(r *rand.Rand, ranges, width int, limit int) []string {
	c := checker{v: v, limit: limit}
	if v.Len() != v.secLen() {
		c.add("count: primary tree has %d records, secondary tree %d", v.Len(), v.secLen())
	}
	n := v.Len()
	if n == 0 {
		return c.findings
	}
	for i := 0; i < ranges && !c.full(); i++ {
		// Start each window at a random point between the smallest and
		// the largest key of each tree, so no walk from the start is needed.
		from := randomBetween(r, v.pri)
		fromIdx := randomBetween(r, v.sec)
		c.scan(from, fromIdx, width)
	}
	return c.findings
}

// randomBetween returns a 16-byte probe between the prefixes of the
// smallest and the largest item of t.
func randomBetween(r *rand.Rand, t interface {
	Min() (item, bool)
	Max() (item, bool)
}) []byte {
	lo, _ := t.Min()
	hi, _ := t.Max()
	p0, p1 := lo.p0, lo.p1
	switch {
	case hi.p0 > lo.p0:
		p0 = lo.p0 + uint64Between(r, hi.p0-lo.p0)
		p1 = r.Uint64()
	case hi.p1 > lo.p1:
		p1 = lo.p1 + uint64Between(r, hi.p1-lo.p1)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], p0)
	binary.BigEndian.PutUint64(b[8:], p1)
	return b[:]
}

// uint64Between returns a random number in [0, span]. span+1 overflows
// to 0 when span is the whole uint64 range (keys from 8 zero bytes up to 8
// 0xff bytes), and r.Uint64N(0) panics.
func uint64Between(r *rand.Rand, span uint64) uint64 {
	if span == math.MaxUint64 {
		return r.Uint64()
	}
	return r.Uint64N(span + 1)
}

// CheckWindow checks the invariants on up to width records of each tree,
// from fromKey in the primary tree and fromIndex in the secondary tree
// (nil: the start), and returns up to limit findings and where the next
// window starts (nil when this one reached the end). Called with the
// returned positions again and again, it covers the whole store in turn,
// which random windows cannot promise for keys that share long prefixes.
func (v View) CheckWindow(fromKey, fromIndex []byte, width, limit int) (findings []string, nextKey, nextIndex []byte) {
	c := checker{v: v, limit: limit}
	if v.Len() != v.secLen() {
		c.add("count: primary tree has %d records, secondary tree %d", v.Len(), v.secLen())
	}
	nextKey, nextIndex = c.scan(fromKey, fromIndex, width)
	return c.findings, nextKey, nextIndex
}

func (v View) secLen() int {
	if v.sec == nil {
		return 0
	}
	return v.sec.Len()
}

type checker struct {
	v        View
	limit    int
	findings []string
}

func (c *checker) add(format string, args ...any) {
	if !c.full() {
		c.findings = append(c.findings, fmt.Sprintf(format, args...))
	}
}

func (c *checker) full() bool { return c.limit > 0 && len(c.findings) >= c.limit }

// scan checks up to width records (width < 0: all) of each tree, starting
// at from in the primary tree and fromIdx in the secondary tree. It
// returns the first key and index key it did not reach (nil at the end).
func (c *checker) scan(from, fromIdx []byte, width int) (nextKey, nextIndex []byte) {
	nextKey = c.walk(c.v.Ascend(from, nil), width, "key", "primary", func(r Record) []byte { return r.Key }, func(rec Record) {
		other, ok := c.v.GetByIndex(rec.Index)
		switch {
		case !ok:
			c.add("bijection: record %q has index key %q, which the secondary tree does not hold", rec.Key, rec.Index)
		case !bytes.Equal(other.Key, rec.Key):
			c.add("bijection: index key %q of record %q leads to record %q", rec.Index, rec.Key, other.Key)
		}
	})
	nextIndex = c.walk(c.v.AscendIndex(fromIdx, nil), width, "index key", "secondary", func(r Record) []byte { return r.Index }, func(rec Record) {
		p, ok := c.v.Get(rec.Key)
		switch {
		case !ok:
			c.add("bijection: index key %q leads to key %q, which the primary tree does not hold", rec.Index, rec.Key)
		case !bytes.Equal(p.Index, rec.Index):
			c.add("bijection: index key %q leads to key %q, whose record carries index key %q", rec.Index, rec.Key, p.Index)
		case !bytes.Equal(p.Value, rec.Value):
			c.add("bijection: index key %q leads to a record of key %q whose value differs from the primary tree's", rec.Index, rec.Key)
		}
	})
	return nextKey, nextIndex
}

// walk visits up to width records of seq (width < 0: all), checking that
// field strictly ascends, and returns the field of the first record it did
// not reach (nil at the end).
func (c *checker) walk(seq iter.Seq[Record], width int, what, tree string, field func(Record) []byte, visit func(Record)) []byte {
	var prev []byte
	n := 0
	for rec := range seq {
		cur := field(rec)
		if width >= 0 && n >= width || c.full() {
			return cur
		}
		if n > 0 && bytes.Compare(prev, cur) >= 0 {
			c.add("order: %s %q follows %q in the %s tree", what, cur, prev, tree)
		}
		prev = cur
		n++
		visit(rec)
	}
	return nil
}
