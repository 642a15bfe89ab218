package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// iterFixture stores 20 records k00..k19 whose index keys run the other
// way (k00 has i19), so the two orders differ, and returns the DB and the
// records in key order.
func iterFixture(t *testing.T) (*db.DB, []db.Record) {
	t.Helper()
	d := openTest(t, nil)
	var recs []db.Record
	err := d.Update(func(tx *db.Tx) error {
		for i := range 20 {
			r := db.Record{
				Key:     fmt.Appendf(nil, "k%02d", i),
				Index:   fmt.Appendf(nil, "i%02d", 19-i),
				Value:   fmt.Appendf(nil, "v%d", i),
				Version: 1, // the first commit
			}
			recs = append(recs, r)
			if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, recs
}

func keysOf(seq iter.Seq[db.Record], byIndex bool) string {
	var out []string
	for r := range seq {
		if byIndex {
			out = append(out, string(r.Index))
		} else {
			out = append(out, string(r.Key))
		}
	}
	return strings.Join(out, " ")
}

func TestIter_Examples(t *testing.T) {
	d, _ := iterFixture(t)
	s := d.Snapshot()
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name    string
		seq     iter.Seq[db.Record]
		byIndex bool
		want    string
	}{
		{"Ascend(k03,k07)", s.Ascend(b("k03"), b("k07")), false, "k03 k04 k05 k06"},
		{"Ascend(k17,nil)", s.Ascend(b("k17"), nil), false, "k17 k18 k19"},
		{"Ascend(nil,k02)", s.Ascend(nil, b("k02")), false, "k00 k01"},
		{"Ascend(k035,k06)", s.Ascend(b("k035"), b("k06")), false, "k04 k05"},
		{"Descend(k07,k03)", s.Descend(b("k07"), b("k03")), false, "k07 k06 k05 k04"},
		{"Descend(k02,nil)", s.Descend(b("k02"), nil), false, "k02 k01 k00"},
		{"Descend(nil,k17)", s.Descend(nil, b("k17")), false, "k19 k18"},
		{"Descend(k055,k03)", s.Descend(b("k055"), b("k03")), false, "k05 k04"},
		{"AscendIndex(i03,i06)", s.AscendIndex(b("i03"), b("i06")), true, "i03 i04 i05"},
		{"DescendIndex(i06,i03)", s.DescendIndex(b("i06"), b("i03")), true, "i06 i05 i04"},
		{"DescendIndex(nil,i17)", s.DescendIndex(nil, b("i17")), true, "i19 i18"},
		{"AscendIndex(nil,i02)", s.AscendIndex(nil, b("i02")), true, "i00 i01"},
		{"Ascend(k05,k05)", s.Ascend(b("k05"), b("k05")), false, ""},
		{"Descend(k05,k05)", s.Descend(b("k05"), b("k05")), false, ""},
		{"Ascend(zzz,nil)", s.Ascend(b("zzz"), nil), false, ""},
		{"Descend(a,nil)", s.Descend(b("a"), nil), false, ""},
	}
	for _, c := range cases {
		if got := keysOf(c.seq, c.byIndex); got != c.want {
			t.Errorf("%s = [%s], want [%s]", c.name, got, c.want)
		}
	}
	// AscendIndex yields whole records: k19 carries i00.
	for r := range s.AscendIndex(nil, nil) {
		wantRecord(t, "first of AscendIndex", r, nil, "k19", "i00", "v19")
		break
	}
}

// TestIter_Bounds compares every iterator with a filtered, sorted model
// for every pair of bounds from a set of probes: nil, below the smallest,
// every stored key, between keys, above the largest.
func TestIter_Bounds(t *testing.T) {
	d, recs := iterFixture(t)
	s := d.Snapshot()
	checkBounds(t, []boundIterator{
		{"Ascend", s.Ascend, false, false},
		{"Descend", s.Descend, false, true},
		{"AscendIndex", s.AscendIndex, true, false},
		{"DescendIndex", s.DescendIndex, true, true},
	}, recs)
}

// TestTxIter_Bounds holds a transaction's iterators to the same bound
// rules, on a state the transaction wrote itself: it deletes every record
// and puts them back, so nothing it yields comes from the committed state.
func TestTxIter_Bounds(t *testing.T) {
	d, recs := iterFixture(t)
	err := d.Update(func(tx *db.Tx) error {
		for _, r := range recs {
			if err := tx.Delete(r.Key); err != nil {
				return err
			}
		}
		if n := len(slices.Collect(tx.Ascend(nil, nil))); n != 0 {
			t.Fatalf("tx.Ascend after deleting everything yields %d records", n)
		}
		for _, r := range recs {
			if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
				return err
			}
		}
		own := slices.Clone(recs)
		for i := range own {
			own[i].Version = 2 // the version this transaction commits as
		}
		checkBounds(t, []boundIterator{
			{"tx.Ascend", tx.Ascend, false, false},
			{"tx.Descend", tx.Descend, false, true},
			{"tx.AscendIndex", tx.AscendIndex, true, false},
			{"tx.DescendIndex", tx.DescendIndex, true, true},
		}, own)
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
}

type boundIterator struct {
	name    string
	fn      func(from, to []byte) iter.Seq[db.Record]
	byIndex bool
	desc    bool
}

// checkBounds compares every iterator of its with a filtered, sorted model
// of recs for every pair of bounds from a set of probes: nil, below the
// smallest, every stored key, between keys, above the largest.
func checkBounds(t *testing.T, its []boundIterator, recs []db.Record) {
	t.Helper()
	probes := [][]byte{nil, []byte(""), []byte("a"), []byte("z")}
	for i := range 21 {
		for _, p := range []string{"k%02d", "k%02d5", "i%02d", "i%02d5"} {
			probes = append(probes, fmt.Appendf(nil, p, i))
		}
	}
	for _, it := range its {
		sorted := slices.Clone(recs)
		field := func(r db.Record) []byte { return r.Key }
		if it.byIndex {
			field = func(r db.Record) []byte { return r.Index }
		}
		slices.SortFunc(sorted, func(a, b db.Record) int { return bytes.Compare(field(a), field(b)) })
		if it.desc {
			slices.Reverse(sorted)
		}
		for _, from := range probes {
			for _, to := range probes {
				var want []db.Record
				for _, r := range sorted {
					k := field(r)
					in := true
					if it.desc {
						in = (from == nil || bytes.Compare(k, from) <= 0) && (to == nil || bytes.Compare(k, to) > 0)
					} else {
						in = (from == nil || bytes.Compare(k, from) >= 0) && (to == nil || bytes.Compare(k, to) < 0)
					}
					if in {
						want = append(want, r)
					}
				}
				var got []db.Record
				for r := range it.fn(from, to) {
					got = append(got, r)
				}
				if !slices.EqualFunc(got, want, sameRecord) {
					t.Fatalf("%s(%q, %q) = [%s], want [%s]", it.name, from, to,
						keysOf(slices.Values(got), it.byIndex), keysOf(slices.Values(want), it.byIndex))
				}
			}
		}
	}
}

func TestIter_EarlyBreak(t *testing.T) {
	d, _ := iterFixture(t)
	s := d.Snapshot()
	for name, seq := range map[string]iter.Seq[db.Record]{
		"Ascend":       s.Ascend(nil, nil),
		"Descend":      s.Descend(nil, nil),
		"AscendIndex":  s.AscendIndex(nil, nil),
		"DescendIndex": s.DescendIndex(nil, nil),
	} {
		n := 0
		for range seq {
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Fatalf("%s: %d records before break, want 3", name, n)
		}
		// The same Seq can be ranged over again, from the start.
		n = 0
		for range seq {
			n++
		}
		if n != 20 {
			t.Fatalf("%s: second full range yielded %d, want 20", name, n)
		}
	}
}

func TestIter_Empty(t *testing.T) {
	d := openTest(t, nil)
	s := d.Snapshot()
	for _, seq := range []iter.Seq[db.Record]{
		s.Ascend(nil, nil), s.Descend(nil, nil), s.AscendIndex(nil, nil), s.DescendIndex(nil, nil),
		s.Ascend([]byte("a"), []byte("z")), s.Descend([]byte("z"), []byte("a")),
	} {
		for r := range seq {
			t.Fatalf("empty store yielded %s", fmtRec(r))
		}
	}
}

// TestSnapshot_Isolation: a Snapshot taken before later writes keeps its
// version, length and contents, by both keys, while the DB moves on.
func TestSnapshot_Isolation(t *testing.T) {
	d, _ := iterFixture(t)
	s := d.Snapshot()
	before := snapDump(s)
	beforeIdx := keysOf(s.AscendIndex(nil, nil), true)

	mustPut(t, d, "k05", "i05-moved", "changed") // move an index key
	if err := d.Delete([]byte("k06")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "k99", "i14", "new") // the index key k05 gave up
	err := d.Update(func(tx *db.Tx) error {
		for i := 100; i < 200; i++ {
			if err := tx.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "j%03d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if diff := before.diff(snapDump(s)); diff != "" {
		t.Fatalf("old snapshot changed: %s", diff)
	}
	if got := keysOf(s.AscendIndex(nil, nil), true); got != beforeIdx {
		t.Fatalf("old snapshot's index order changed:\n got %s\nwant %s", got, beforeIdx)
	}
	r, err := s.GetByIndex([]byte("i14"))
	wantRecord(t, "old snapshot GetByIndex(i14)", r, err, "k05", "i14", "v5")
	r, err = s.Get([]byte("k06"))
	wantRecord(t, "old snapshot Get(k06)", r, err, "k06", "i13", "v6")
	if _, err := s.Get([]byte("k99")); err == nil {
		t.Fatal("old snapshot sees a later record")
	}
	checkSnapshot(t, s)

	now := d.Snapshot()
	if now.Version() != s.Version()+4 || now.Len() != s.Len()+100 {
		t.Fatalf("new snapshot Version, Len = %d, %d; want %d, %d", now.Version(), now.Len(), s.Version()+4, s.Len()+100)
	}
	r, err = now.GetByIndex([]byte("i14"))
	wantRecord(t, "new snapshot GetByIndex(i14)", r, err, "k99", "i14", "new")
	checkSnapshot(t, now)
}

// TestScan_DoesNotBlockCommits holds four iterations (one per iterator)
// and a View callback paused mid-way while 100 durable Puts complete. The
// paused goroutines cannot make progress, so the Puts completing proves
// readers do not block writers, with no timing assertion. The paused scans
// then finish on their own version.
func TestScan_DoesNotBlockCommits(t *testing.T) {
	d := openTest(t, nil)
	const n = 1000
	err := d.Update(func(tx *db.Tx) error {
		for i := range n {
			if err := tx.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "i%04d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Snapshot()
	resume := make(chan struct{})
	paused := make(chan string)
	type result struct {
		name string
		n    int
	}
	results := make(chan result)
	scan := func(name string, seq iter.Seq[db.Record]) {
		c := 0
		for range seq {
			c++
			if c == n/2 {
				paused <- name
				<-resume
			}
		}
		results <- result{name, c}
	}
	go scan("Ascend", s.Ascend(nil, nil))
	go scan("Descend", s.Descend(nil, nil))
	go scan("AscendIndex", s.AscendIndex(nil, nil))
	go scan("DescendIndex", s.DescendIndex(nil, nil))
	go func() {
		_ = d.View(func(v *db.Snapshot) error {
			paused <- "View"
			<-resume
			results <- result{"View", v.Len()}
			return nil
		})
	}()
	for range 5 {
		<-paused
	}

	puts := make(chan error, 1)
	go func() {
		for i := range 100 {
			if err := d.Put(fmt.Appendf(nil, "new%03d", i), fmt.Appendf(nil, "new%03d", i), nil); err != nil {
				puts <- err
				return
			}
		}
		puts <- nil
	}()
	select {
	case err := <-puts:
		if err != nil {
			t.Fatalf("Put while scans are paused: %v", err)
		}
	case <-time.After(60 * time.Second): // a hang detector, not a timing assertion
		t.Fatal("100 Puts did not complete while scans were paused: readers block writers")
	}
	if v := d.Version(); v != 101 {
		t.Fatalf("Version = %d while scans are paused, want 101", v)
	}
	close(resume)
	for range 5 {
		r := <-results
		if r.n != n {
			t.Errorf("%s saw %d records, want %d (its own version)", r.name, r.n, n)
		}
	}
	if l := d.Snapshot().Len(); l != n+100 {
		t.Fatalf("Len = %d, want %d", l, n+100)
	}
}
