package btreeidx_test

import (
	"errors"
	"fmt"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
)

func ExampleIndex_Put() {
	x := btreeidx.New()
	x.Put([]byte("user:1"), []byte("ada@example.com"), []byte(`{"name":"ada"}`), 1)
	x.Put([]byte("user:2"), []byte("alan@example.com"), []byte(`{"name":"alan"}`), 1)

	// An index key belongs to one record.
	_, _, err := x.Put([]byte("user:2"), []byte("ada@example.com"), nil, 1)
	fmt.Println(errors.Is(err, dberr.ErrConflict))

	v := x.Freeze() // later writes do not show in v
	x.Put([]byte("user:1"), []byte("countess@example.com"), []byte(`{"name":"ada"}`), 1)

	r, _ := v.GetByIndex([]byte("ada@example.com"))
	fmt.Printf("%s\n", r.Key)
	for r := range x.DescendIndex(nil, nil) {
		fmt.Printf("%s -> %s\n", r.Index, r.Key)
	}
	// Output:
	// true
	// user:1
	// countess@example.com -> user:1
	// alan@example.com -> user:2
}
