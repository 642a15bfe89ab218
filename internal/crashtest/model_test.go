package crashtest

import "testing"

// PutAll must follow db.Tx.PutAll: a swap is one step; an index key owned
// twice at the end, or a key named twice, refuses the whole batch.
func TestPart_PutAll(t *testing.T) {
	base := func() *Part {
		p := NewPart()
		p.Put("a", "x", "1")
		p.Put("b", "y", "2")
		p.Put("c", "z", "3")
		return p
	}
	cases := []struct {
		name string
		keys []string
		recs []Rec
		ok   bool
	}{
		{"swap", []string{"a", "b"}, []Rec{{"y", "1"}, {"x", "2"}}, true},
		{"rotation", []string{"a", "b", "c"}, []Rec{{"y", "1"}, {"z", "2"}, {"x", "3"}}, true},
		{"owned outside", []string{"a"}, []Rec{{"z", "1"}}, false},
		{"twice in batch", []string{"a", "d"}, []Rec{{"w", "1"}, {"w", "4"}}, false},
		{"key twice", []string{"a", "a"}, []Rec{{"w", "1"}, {"v", "1"}}, false},
		{"new record", []string{"d"}, []Rec{{"w", "4"}}, true},
	}
	for _, c := range cases {
		p := base()
		before := p.Clone()
		if got := p.PutAll(c.keys, c.recs); got != c.ok {
			t.Errorf("%s: PutAll = %v, want %v", c.name, got, c.ok)
		}
		if !c.ok && !p.Equal(before) {
			t.Errorf("%s: a refused PutAll changed the partition", c.name)
		}
		if c.ok {
			for i, k := range c.keys {
				if p.ByKey[k] != c.recs[i] || p.ByIndex[c.recs[i].Index] != k {
					t.Errorf("%s: record %s = %+v, index %q -> %q", c.name, k, p.ByKey[k], c.recs[i].Index, p.ByIndex[c.recs[i].Index])
				}
			}
			if len(p.ByIndex) != len(p.ByKey) {
				t.Errorf("%s: %d index entries for %d records", c.name, len(p.ByIndex), len(p.ByKey))
			}
		}
	}
}
