package db_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/dualdb/dualdb/db"
)

// Two users swap e-mail addresses in one atomic, durable commit: no reader
// ever sees both users with the same address or one without any.
func ExampleDB_Update() {
	dir, err := os.MkdirTemp("", "dualdb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	d, err := db.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	if err := d.Put([]byte("user:1"), []byte("ada@example.com"), []byte(`{"name":"Ada"}`)); err != nil {
		log.Fatal(err)
	}
	if err := d.Put([]byte("user:2"), []byte("alan@example.com"), []byte(`{"name":"Alan"}`)); err != nil {
		log.Fatal(err)
	}

	// A plain Put of an address that belongs to someone else is a conflict.
	err = d.Put([]byte("user:1"), []byte("alan@example.com"), nil)
	fmt.Println("conflict:", errors.Is(err, db.ErrConflict))

	// Swap inside one transaction: park one address, move the other, finish.
	err = d.Update(func(tx *db.Tx) error {
		a, _ := tx.Get([]byte("user:1"))
		b, _ := tx.Get([]byte("user:2"))
		if err := tx.Put(a.Key, []byte("swap:tmp"), a.Value); err != nil {
			return err
		}
		if err := tx.Put(b.Key, a.Index, b.Value); err != nil {
			return err
		}
		return tx.Put(a.Key, b.Index, a.Value)
	})
	if err != nil {
		log.Fatal(err)
	}

	r, _ := d.GetByIndex([]byte("ada@example.com"))
	fmt.Printf("ada@example.com -> %s\n", r.Key)
	for r := range d.Snapshot().AscendIndex(nil, nil) {
		fmt.Printf("%s %s\n", r.Index, r.Key)
	}
	fmt.Println("version:", d.Version())
	// Output:
	// conflict: true
	// ada@example.com -> user:2
	// ada@example.com user:2
	// alan@example.com user:1
	// version: 3
}
