package btreeidx_test

import (
	"errors"
	"flag"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestModel_Random (0: BTREEIDX_SEED or the clock)")

// modelSeed returns the seed from -seed, $BTREEIDX_SEED or the clock.
func modelSeed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("BTREEIDX_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BTREEIDX_SEED: %v", err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// model is the trivial dual index: a map by key and a map index -> key.
type model struct {
	recs  map[string]rec
	owner map[string]string
	ver   map[string]uint64 // key -> version of the op that last put it
}

func (m model) clone() model {
	return model{maps.Clone(m.recs), maps.Clone(m.owner), maps.Clone(m.ver)}
}

// putAll is the model of PutAll: checked as a whole, then applied. It
// returns the error kind PutAll must return ("", "dup", "conflict"), the
// owner for a conflict, and the expected givers.
func (m model) putAll(batch []rec, version uint64) (kind, key, owner string, givers []int) {
	pos := map[string]int{}
	for i, r := range batch {
		if _, dup := pos[r.key]; dup {
			return "dup", r.key, "", nil
		}
		pos[r.key] = i
	}
	byIndex := map[string]int{}
	for i, r := range batch {
		if j, dup := byIndex[r.index]; dup {
			return "conflict", r.key, batch[j].key, nil
		}
		byIndex[r.index] = i
		o, ok := m.owner[r.index]
		if !ok {
			continue
		}
		j, in := pos[o]
		if !in {
			return "conflict", r.key, o, nil
		}
		if j != i {
			givers = append(givers, j)
		}
	}
	slices.Sort(givers)
	for _, r := range batch {
		if old, ok := m.recs[r.key]; ok {
			delete(m.owner, old.index)
		}
	}
	for _, r := range batch {
		m.recs[r.key] = r
		m.owner[r.index] = r.key
		m.ver[r.key] = version
	}
	return "", "", "", givers
}

func (m model) all() []rec { return slices.Collect(maps.Values(m.recs)) }

// randomPool returns n distinct strings made to collide in their 16-byte
// prefixes, end in zero bytes, be short, empty or long.
func randomPool(r *rand.Rand, n int, tag string) []string {
	bases := []string{"", "a", "a\x00", "0123456789abcdef", "0123456789abcdeg", "user:000000", "\xff\xff\xff\xff\xff\xff\xff\xff", tag}
	alphabet := "\x00\x01az\xff"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var b strings.Builder
		b.WriteString(bases[r.IntN(len(bases))])
		suffix := r.IntN(7)
		if r.IntN(50) == 0 {
			suffix = 40
		}
		for range suffix {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		if s := b.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestModel_Random runs random operations against an Index and the model
// and compares every result. Reproduce a failure with
//
//	go test -run TestModel_Random ./btreeidx -args -seed=N
//
// or BTREEIDX_SEED=N.
func TestModel_Random(t *testing.T) {
	seed := modelSeed(t)
	t.Logf("seed %d (reproduce: go test -run TestModel_Random ./btreeidx -args -seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	keys := randomPool(r, 300, "key")
	indexes := randomPool(r, 400, "index")
	pick := func(pool []string) string { return pool[r.IntN(len(pool))] }
	randomBound := func(pool []string) []byte {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte(randomPool(r, 1, "bound")[0]) // mostly absent
		default:
			return []byte(pick(pool))
		}
	}

	type frozen struct {
		v  btreeidx.View
		m  model
		op int
	}
	var (
		x      = btreeidx.New()
		m      = model{map[string]rec{}, map[string]string{}, map[string]uint64{}}
		views  []frozen
		op     int
		counts = map[string]int{}
		nops   = 20000
	)
	defer func() {
		if t.Failed() {
			t.Logf("failed at op %d of seed %d", op, seed)
		}
	}()
	verify := func(what string, v btreeidx.View, want model) {
		t.Helper()
		sameContents(t, v, want.all())
		for ix, key := range want.owner {
			if want.recs[key].index != ix {
				t.Fatalf("%s: model is inconsistent at %q", what, ix)
			}
		}
	}

	for op = 0; op < nops; op++ {
		switch n := r.IntN(100); {
		case n < 40: // put
			key, index := pick(keys), pick(indexes)
			if cur, ok := m.recs[key]; ok && r.IntN(10) == 0 {
				index = cur.index // replace the value only
			}
			value := strconv.Itoa(op)
			old, replaced, err := x.Put([]byte(key), []byte(index), []byte(value), uint64(op+1))
			if owner, ok := m.owner[index]; ok && owner != key {
				counts["put/conflict"]++
				var ce *dberr.ConflictError
				if !errors.Is(err, dberr.ErrConflict) || !errors.As(err, &ce) ||
					string(ce.Owner) != owner || string(ce.Key) != key || string(ce.Index) != index {
					t.Fatalf("Put(%q, %q) = %v, want a conflict with %q", key, index, err, owner)
				}
				if replaced || old.Key != nil {
					t.Fatalf("conflicting Put returned %v, %v", old, replaced)
				}
				break
			}
			if err != nil {
				t.Fatalf("Put(%q, %q): %v", key, index, err)
			}
			prev, had := m.recs[key]
			if replaced != had || had && toRec(old) != prev {
				t.Fatalf("Put(%q, %q) replaced %v, %v; model has %v, %v", key, index, toRec(old), replaced, prev, had)
			}
			if had {
				delete(m.owner, prev.index)
				counts["put/replace"]++
			} else {
				counts["put/insert"]++
			}
			m.recs[key] = rec{key, index, value}
			m.owner[index] = key
			m.ver[key] = uint64(op + 1)
		case n < 47: // PutAll, often a rotation of index keys among its records
			var batch []btreeidx.Record
			var mb []rec
			for range 1 + r.IntN(4) {
				key, index := pick(keys), pick(indexes)
				if len(mb) > 0 && r.IntN(2) == 0 {
					// Take the index key of an earlier record of the batch.
					if cur, ok := m.recs[mb[r.IntN(len(mb))].key]; ok {
						index = cur.index
					}
				}
				value := strconv.Itoa(op)
				batch = append(batch, btreeidx.Record{Key: []byte(key), Index: []byte(index), Value: []byte(value), Version: 999})
				mb = append(mb, rec{key, index, value})
			}
			if r.IntN(3) == 0 { // rotate the index keys the batch's records hold now
				var held []string
				for _, w := range mb {
					if cur, ok := m.recs[w.key]; ok {
						held = append(held, cur.index)
					}
				}
				for i := range min(len(held), len(mb)) {
					j := (i + 1) % len(held)
					mb[i].index, batch[i].Index = held[j], []byte(held[j])
				}
			}
			before := m.clone()
			givers, gave, err := x.PutAll(batch, uint64(op+1))
			kind, key, owner, wantGivers := m.putAll(mb, uint64(op+1))
			counts["putall/"+kind]++
			switch kind {
			case "dup":
				if !errors.Is(err, dberr.ErrDuplicateKey) {
					t.Fatalf("PutAll(%v) = %v, want ErrDuplicateKey for %q", mb, err, key)
				}
			case "conflict":
				var ce *dberr.ConflictError
				if !errors.As(err, &ce) || string(ce.Key) != key || string(ce.Owner) != owner {
					t.Fatalf("PutAll(%v) = %v, want a conflict of %q with %q", mb, err, key, owner)
				}
			default:
				if err != nil || !slices.Equal(givers, wantGivers) {
					t.Fatalf("PutAll(%v) = %v, %v; want givers %v", mb, givers, err, wantGivers)
				}
				if len(givers) > 0 {
					counts["putall/givers"]++
				}
				// gave holds each giver's record as it was before.
				if len(gave) != len(givers) {
					t.Fatalf("PutAll gave %d old records for %d givers", len(gave), len(givers))
				}
				for i, g := range givers {
					k := string(batch[g].Key)
					w := before.recs[k]
					if string(gave[i].Key) != k || string(gave[i].Index) != w.index || string(gave[i].Value) != w.value || gave[i].Version != before.ver[k] {
						t.Fatalf("PutAll: giver %d's old record is %q %q %q v%d, want %q %q %q v%d",
							g, gave[i].Key, gave[i].Index, gave[i].Value, gave[i].Version, k, w.index, w.value, before.ver[k])
					}
				}
				// Replaying the step one op at a time, as a log does:
				// delete the givers, then put in order.
				y := btreeidx.New()
				for k, w := range before.recs {
					if _, _, err := y.Put([]byte(k), []byte(w.index), []byte(w.value), 1); err != nil {
						t.Fatal(err)
					}
				}
				for _, g := range givers {
					if _, ok := y.Delete(batch[g].Key); !ok {
						t.Fatalf("replay of PutAll(%v): giver %q is missing", mb, batch[g].Key)
					}
				}
				for _, w := range batch {
					if _, _, err := y.Put(w.Key, w.Index, w.Value, 1); err != nil {
						t.Fatalf("replay of PutAll(%v) with givers %v: %v", mb, givers, err)
					}
				}
				sameContents(t, y.View, m.all())
			}
			if kind != "" {
				if err == nil {
					t.Fatalf("PutAll(%v) succeeded, model: %s", mb, kind)
				}
				sameContents(t, x.View, m.all())
			}
		case n < 55: // delete
			key := pick(keys)
			old, ok := x.Delete([]byte(key))
			prev, had := m.recs[key]
			if ok != had || had && toRec(old) != prev {
				t.Fatalf("Delete(%q) = %v, %v; model has %v, %v", key, toRec(old), ok, prev, had)
			}
			if had {
				delete(m.recs, key)
				delete(m.owner, prev.index)
			}
			counts["delete"]++
		case n < 65: // get
			key := pick(keys)
			got, ok := x.Get([]byte(key))
			want, had := m.recs[key]
			if ok != had || ok && (toRec(got) != want || got.Version != m.ver[key]) {
				t.Fatalf("Get(%q) = %v v%d, %v; want %v v%d, %v", key, toRec(got), got.Version, ok, want, m.ver[key], had)
			}
			counts["get"]++
		case n < 75: // get by index
			index := pick(indexes)
			got, ok := x.GetByIndex([]byte(index))
			key, had := m.owner[index]
			if ok != had || ok && toRec(got) != m.recs[key] {
				t.Fatalf("GetByIndex(%q) = %v, %v; want %v, %v", index, toRec(got), ok, m.recs[key], had)
			}
			counts["getbyindex"]++
		case n < 78: // prefix scan
			pool, seq, field := keys, x.AscendPrefix, func(w rec) string { return w.key }
			if r.IntN(2) == 0 {
				pool, seq, field = indexes, x.AscendIndexPrefix, func(w rec) string { return w.index }
			}
			p := pick(pool)
			p = p[:r.IntN(len(p)+1)]
			var want []rec
			for _, w := range m.all() {
				if strings.HasPrefix(field(w), p) {
					want = append(want, w)
				}
			}
			slices.SortFunc(want, func(a, b rec) int { return strings.Compare(field(a), field(b)) })
			var got []rec
			for w := range seq([]byte(p)) {
				got = append(got, toRec(w))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("prefix %q:\n got %v\nwant %v", p, got, want)
			}
			counts["prefix"]++
		case n < 90: // range scan, sometimes cut short
			c := iterCases[r.IntN(len(iterCases))]
			pool := keys
			if strings.Contains(c.name, "Index") {
				pool = indexes
			}
			from, to := randomBound(pool), randomBound(pool)
			want := expectRange(m.all(), c, from, to)
			limit := len(want)
			if r.IntN(5) == 0 {
				limit = r.IntN(len(want) + 1)
			}
			var got []rec
			for rec := range c.seq(x.View, from, to) {
				if len(got) == limit {
					break
				}
				got = append(got, toRec(rec))
			}
			if !slices.Equal(got, want[:limit]) {
				t.Fatalf("%s(%s, %s) limit %d:\n got %v\nwant %v", c.name, bound(from), bound(to), limit, got, want[:limit])
			}
			counts["scan"]++
		case n < 94: // freeze
			views = append(views, frozen{x.Freeze(), m.clone(), op})
			if len(views) > 8 {
				i := r.IntN(len(views))
				views = slices.Delete(views, i, i+1)
			}
			counts["freeze"]++
		case n < 97: // verify a frozen View against its model
			if len(views) > 0 {
				f := views[r.IntN(len(views))]
				verify("frozen at op "+strconv.Itoa(f.op), f.v, f.m)
				counts["verify-frozen"]++
			}
		case n < 98: // roll back to a frozen View
			if len(views) > 0 {
				f := views[r.IntN(len(views))]
				x, m = btreeidx.Thaw(f.v), f.m.clone()
				counts["thaw"]++
			}
		default:
			if f := x.Check(0); len(f) > 0 {
				t.Fatalf("Check: %v", f)
			}
			counts["check"]++
		}
		if x.Len() != len(m.recs) {
			t.Fatalf("Len = %d, model %d", x.Len(), len(m.recs))
		}
	}
	verify("head", x.View, m)
	noFindings(t, x.View)
	for _, f := range views {
		verify("frozen at op "+strconv.Itoa(f.op), f.v, f.m)
		noFindings(t, f.v)
	}
	t.Logf("ops: %v; final Len %d", counts, x.Len())
	if counts["put/conflict"] == 0 || counts["put/replace"] == 0 || counts["thaw"] == 0 ||
		counts["putall/"] == 0 || counts["putall/givers"] == 0 || counts["putall/conflict"] == 0 || counts["putall/dup"] == 0 {
		t.Fatalf("the mix missed a case: %v", counts)
	}
}
