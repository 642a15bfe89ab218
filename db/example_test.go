package db_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

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

// exampleDB opens a new store in a temporary directory; done closes it
// and removes the directory.
func exampleDB() (d *db.DB, done func()) {
	dir, err := os.MkdirTemp("", "dualdb-example")
	if err != nil {
		log.Fatal(err)
	}
	d, err = db.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	return d, func() {
		d.Close()
		os.RemoveAll(dir)
	}
}

// PutAll swaps two e-mail addresses in one call: each record takes the
// index key the other gives up. An address owned twice at the end refuses
// the whole batch.
func ExampleDB_PutAll() {
	d, done := exampleDB()
	defer done()
	err := d.PutAll(
		db.Record{Key: []byte("user:1"), Index: []byte("ada@example.com")},
		db.Record{Key: []byte("user:2"), Index: []byte("alan@example.com")},
	)
	if err != nil {
		log.Fatal(err)
	}
	err = d.PutAll(
		db.Record{Key: []byte("user:1"), Index: []byte("alan@example.com")},
		db.Record{Key: []byte("user:2"), Index: []byte("ada@example.com")},
	)
	if err != nil {
		log.Fatal(err)
	}
	for r := range d.Snapshot().Ascend(nil, nil) {
		fmt.Printf("%s %s (version %d)\n", r.Key, r.Index, r.Version)
	}

	// user:3 would take ada's address while user:2 keeps it: refused.
	err = d.PutAll(
		db.Record{Key: []byte("user:1"), Index: []byte("countess@example.com")},
		db.Record{Key: []byte("user:3"), Index: []byte("ada@example.com")},
	)
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		fmt.Printf("refused: %s belongs to %s\n", ce.Index, ce.Owner)
	}
	fmt.Println("version:", d.Version())
	// Output:
	// user:1 alan@example.com (version 2)
	// user:2 ada@example.com (version 2)
	// refused: ada@example.com belongs to user:2
	// version: 2
}

// Inside a transaction, PutAll is one step: here a rotation of three
// index keys. A refused PutAll leaves the transaction as it was.
func ExampleTx_PutAll() {
	d, done := exampleDB()
	defer done()
	for _, k := range []string{"a", "b", "c"} {
		if err := d.Put([]byte(k), []byte("slot-"+k), nil); err != nil {
			log.Fatal(err)
		}
	}
	err := d.Update(func(tx *db.Tx) error {
		return tx.PutAll(
			db.Record{Key: []byte("a"), Index: []byte("slot-b")},
			db.Record{Key: []byte("b"), Index: []byte("slot-c")},
			db.Record{Key: []byte("c"), Index: []byte("slot-a")},
		)
	})
	if err != nil {
		log.Fatal(err)
	}
	for r := range d.Snapshot().AscendIndex(nil, nil) {
		fmt.Printf("%s -> %s\n", r.Index, r.Key)
	}
	// Output:
	// slot-a -> c
	// slot-b -> a
	// slot-c -> b
}

// Insert never replaces a record.
func ExampleDB_Insert() {
	d, done := exampleDB()
	defer done()
	if err := d.Insert([]byte("user:1"), []byte("ada@example.com"), []byte("Ada")); err != nil {
		log.Fatal(err)
	}
	err := d.Insert([]byte("user:1"), []byte("other@example.com"), []byte("Someone else"))
	fmt.Println(errors.Is(err, db.ErrExists), err)
	r, _ := d.Get([]byte("user:1"))
	fmt.Printf("%s\n", r.Value)
	// Output:
	// true dualdb: key exists: key "user:1"
	// Ada
}

// Tx.Insert creates a record only if the transaction sees none with the
// key.
func ExampleTx_Insert() {
	d, done := exampleDB()
	defer done()
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Insert([]byte("k"), []byte("i1"), []byte("first")); err != nil {
			return err
		}
		err := tx.Insert([]byte("k"), []byte("i2"), []byte("second"))
		fmt.Println("second insert:", errors.Is(err, db.ErrExists))
		return nil // the first insert commits
	})
	if err != nil {
		log.Fatal(err)
	}
	r, _ := d.Get([]byte("k"))
	fmt.Printf("%s %s\n", r.Index, r.Value)
	// Output:
	// second insert: true
	// i1 first
}

// A transaction's iterators see its own writes. An iteration reads the
// state of its start: what the loop body writes shows in the next one.
func ExampleTx_Ascend() {
	d, done := exampleDB()
	defer done()
	for _, k := range []string{"a", "b"} {
		if err := d.Put([]byte(k), []byte("i"+k), nil); err != nil {
			log.Fatal(err)
		}
	}
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put([]byte("c"), []byte("ic"), nil); err != nil {
			return err
		}
		var seen []string
		for r := range tx.Ascend(nil, nil) {
			seen = append(seen, string(r.Key))
			// Not seen by this iteration.
			if err := tx.Put([]byte(string(r.Key)+"2"), []byte(string(r.Index)+"2"), nil); err != nil {
				return err
			}
		}
		fmt.Println(strings.Join(seen, " "))
		seen = nil
		for r := range tx.Descend(nil, []byte("b")) {
			seen = append(seen, string(r.Key))
		}
		fmt.Println(strings.Join(seen, " "))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// a b c
	// c2 c b2
}

// Record.Version is the version of the commit that last put the record.
func ExampleRecord() {
	d, done := exampleDB()
	defer done()
	for _, k := range []string{"a", "b", "a"} {
		if err := d.Put([]byte(k), []byte("i"+k), nil); err != nil {
			log.Fatal(err)
		}
	}
	for r := range d.Snapshot().Ascend(nil, nil) {
		fmt.Printf("%s written by version %d\n", r.Key, r.Version)
	}
	// Output:
	// a written by version 3
	// b written by version 2
}

// AscendPrefix yields the records whose key starts with a prefix.
func ExampleSnapshot_AscendPrefix() {
	d, done := exampleDB()
	defer done()
	for _, k := range []string{"order:7", "user:1", "user:10", "user:2", "users"} {
		if err := d.Put([]byte(k), []byte("i/"+k), nil); err != nil {
			log.Fatal(err)
		}
	}
	for r := range d.Snapshot().AscendPrefix([]byte("user:")) {
		fmt.Println(string(r.Key))
	}
	// Output:
	// user:1
	// user:10
	// user:2
}

// AscendIndexPrefix yields the records whose index key starts with a
// prefix: here every user of one mail domain, stored with the domain
// first.
func ExampleSnapshot_AscendIndexPrefix() {
	d, done := exampleDB()
	defer done()
	for k, mail := range map[string]string{"user:1": "example.com/ada", "user:2": "example.org/alan", "user:3": "example.com/grace"} {
		if err := d.Put([]byte(k), []byte(mail), nil); err != nil {
			log.Fatal(err)
		}
	}
	for r := range d.Snapshot().AscendIndexPrefix([]byte("example.com/")) {
		fmt.Printf("%s %s\n", r.Index, r.Key)
	}
	// Output:
	// example.com/ada user:1
	// example.com/grace user:3
}

// A consumer of the change feed follows every durable commit, in order;
// here it stops when it has seen the store's version. A delete names the
// record it removed.
func ExampleDB_Changes() {
	d, done := exampleDB()
	defer done()
	if err := d.Put([]byte("user:1"), []byte("ada@example.com"), []byte("Ada")); err != nil {
		log.Fatal(err)
	}
	if err := d.PutAll(
		db.Record{Key: []byte("user:2"), Index: []byte("alan@example.com"), Value: []byte("Alan")},
		db.Record{Key: []byte("user:3"), Index: []byte("grace@example.com"), Value: []byte("Grace")},
	); err != nil {
		log.Fatal(err)
	}
	if err := d.Delete([]byte("user:1")); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for c, err := range d.Changes(ctx, 0) {
		if errors.Is(err, db.ErrCompacted) {
			// Too far behind: resync from d.Snapshot(), then continue
			// with d.Changes(ctx, snapshot.Version()).
			log.Fatal(err)
		}
		if err != nil {
			log.Fatal(err)
		}
		for _, op := range c.Ops {
			fmt.Printf("version %d: %s %s (%s)\n", c.Version, op.Kind, op.Record.Key, op.Record.Value)
		}
		if c.Version == d.Version() {
			break // caught up; a live consumer would keep waiting instead
		}
	}
	// Output:
	// version 1: put user:1 (Ada)
	// version 2: put user:2 (Alan)
	// version 2: put user:3 (Grace)
	// version 3: delete user:1 (Ada)
}

// AppendChangeJSON is the feed's line format, as `dualdb watch` prints it.
func ExampleAppendChangeJSON() {
	d, done := exampleDB()
	defer done()
	if err := d.Put([]byte("user:1"), []byte("ada@example.com"), []byte(`{"name":"Ada"}`)); err != nil {
		log.Fatal(err)
	}
	for c, err := range d.Changes(context.Background(), 0) {
		if err != nil {
			log.Fatal(err)
		}
		os.Stdout.Write(db.AppendChangeJSON(nil, c))
		break
	}
	// Output:
	// {"version":1,"ops":[{"op":"put","key":"user:1","index":"ada@example.com","value":"{\"name\":\"Ada\"}","record_version":1}]}
}

// A Table stores Go values: keys come from the value, the value is JSON.
func ExampleNewTable() {
	d, done := exampleDB()
	defer done()
	type User struct {
		ID    string
		Email string
		Name  string
	}
	users := db.NewTable(d, nil,
		func(u User) []byte { return []byte("user:" + u.ID) },
		func(u User) []byte { return []byte(u.Email) })

	if err := users.Put(User{ID: "1", Email: "ada@example.com", Name: "Ada"}); err != nil {
		log.Fatal(err)
	}
	if err := users.Put(User{ID: "2", Email: "alan@example.com", Name: "Alan"}); err != nil {
		log.Fatal(err)
	}
	// Change an e-mail address: both keys move in one commit.
	err := users.Update([]byte("user:1"), func(u User) (User, error) {
		u.Email = "ada@lovelace.org"
		return u, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := users.GetByIndex([]byte("ada@lovelace.org"))
	fmt.Println(u.Name, err)
	for u, err := range users.AscendIndex(nil, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.Email, u.Name)
	}
	// Output:
	// Ada <nil>
	// ada@lovelace.org Ada
	// alan@example.com Alan
}
