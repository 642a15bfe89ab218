package gen

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNewUser_DeterministicUniqueValidJSON(t *testing.T) {
	seen := map[string]uint64{}
	for id := uint64(0); id < 5000; id++ {
		u := NewUser(7, id)
		if v := NewUser(7, id); !bytes.Equal(u.Value, v.Value) || !bytes.Equal(u.Email, v.Email) {
			t.Fatalf("id %d: not deterministic", id)
		}
		if prev, ok := seen[string(u.Email)]; ok {
			t.Fatalf("email %q used by ids %d and %d", u.Email, prev, id)
		}
		seen[string(u.Email)] = id
		var m map[string]any
		if err := json.Unmarshal(u.Value, &m); err != nil {
			t.Fatalf("id %d: value is not JSON: %v: %s", id, err, u.Value)
		}
	}
}

func TestFixed_UniqueIndex(t *testing.T) {
	seen := map[string]bool{}
	for id := uint64(0); id < 20000; id++ {
		k, ix, v := Fixed(1, id, 100)
		if len(v) != 100 || len(k) != 15 || len(ix) != 21 {
			t.Fatalf("id %d: sizes %d %d %d", id, len(k), len(ix), len(v))
		}
		if seen[string(ix)] {
			t.Fatalf("duplicate index %q", ix)
		}
		seen[string(ix)] = true
	}
}
