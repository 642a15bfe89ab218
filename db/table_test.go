package db_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
)

type user struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

func userKey(u user) []byte   { return fmt.Appendf(nil, "user:%04d", u.ID) }
func userEmail(u user) []byte { return []byte(u.Email) }

func TestTable(t *testing.T) {
	d := openTest(t, nil)
	users := db.NewTable(d, nil, userKey, userEmail)
	for i, name := range []string{"Ada", "Alan", "Grace"} {
		if err := users.Put(user{ID: i + 1, Email: strings.ToLower(name) + "@example.com", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	// Stored as JSON records with derived keys.
	r, err := d.Get([]byte("user:0002"))
	if err != nil || string(r.Index) != "alan@example.com" || string(r.Value) != `{"id":2,"email":"alan@example.com","name":"Alan"}` {
		t.Fatalf("the record of user 2: %s, %v", fmtRec(r), err)
	}
	u, err := users.GetByIndex([]byte("grace@example.com"))
	if err != nil || u != (user{3, "grace@example.com", "Grace"}) {
		t.Fatalf("GetByIndex = %+v, %v", u, err)
	}
	if _, err := users.Get([]byte("user:0009")); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Get of a missing key = %v, want ErrNotFound", err)
	}
	if err := users.Insert(user{ID: 1, Email: "other@example.com"}); !errors.Is(err, db.ErrExists) {
		t.Fatalf("Insert of a present key = %v, want ErrExists", err)
	}
	if err := users.Put(user{ID: 4, Email: "ada@example.com"}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("Put of a taken e-mail = %v, want ErrConflict", err)
	}

	// Update: read-modify-write; the index key may move, the key may not.
	if err := users.Update([]byte("user:0001"), func(u user) (user, error) {
		u.Email, u.Name = "ada@lovelace.org", "Ada Lovelace"
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := users.GetByIndex([]byte("ada@lovelace.org")); err != nil || u.Name != "Ada Lovelace" {
		t.Fatalf("after Update: %+v, %v", u, err)
	}
	if _, err := d.GetByIndex([]byte("ada@example.com")); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("the old e-mail after Update: %v, want ErrNotFound", err)
	}
	v := d.Version()
	err = users.Update([]byte("user:0001"), func(u user) (user, error) { u.ID = 7; return u, nil })
	if err == nil || !strings.Contains(err.Error(), `new value has key "user:0007"`) {
		t.Fatalf("Update changing the key = %v", err)
	}
	if err := users.Update([]byte("user:0009"), func(u user) (user, error) { return u, nil }); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Update of a missing key = %v, want ErrNotFound", err)
	}
	if d.Version() != v {
		t.Fatalf("refused Updates took versions: %d, want %d", d.Version(), v)
	}

	var names []string
	for u, err := range users.AscendIndex(nil, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, u.Name)
	}
	if got := strings.Join(names, ","); got != "Ada Lovelace,Alan,Grace" {
		t.Fatalf("AscendIndex gave %s", got)
	}
	names = nil
	for u, err := range users.Ascend([]byte("user:0002"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, u.Name)
	}
	if got := strings.Join(names, ","); got != "Alan,Grace" {
		t.Fatalf("Ascend from user:0002 gave %s", got)
	}
	if err := users.Delete([]byte("user:0002")); err != nil {
		t.Fatal(err)
	}

	// A record that is not JSON of a user: an error naming its key, and
	// the iteration goes on.
	if err := d.Put([]byte("user:0005"), []byte("x"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	var errs, ok int
	for _, err := range users.AscendPrefix([]byte("user:")) {
		if err != nil {
			if !strings.Contains(err.Error(), `decode the value of key "user:0005"`) {
				t.Fatalf("decode error = %v", err)
			}
			errs++
		} else {
			ok++
		}
	}
	if errs != 1 || ok != 2 {
		t.Fatalf("AscendPrefix gave %d values and %d errors, want 2 and 1", ok, errs)
	}
}

// upperCodec is a Codec other than JSON: the name alone, upper-cased.
type upperCodec struct{}

func (upperCodec) Marshal(u user) ([]byte, error) {
	if u.Name == "" {
		return nil, errors.New("no name")
	}
	return []byte(strings.ToUpper(u.Name)), nil
}
func (upperCodec) Unmarshal(b []byte) (user, error) { return user{Name: string(b)}, nil }

func TestTable_Codec(t *testing.T) {
	d := openTest(t, nil)
	users := db.NewTable[user](d, upperCodec{}, userKey, userEmail)
	if err := users.Put(user{ID: 1, Email: "a@x", Name: "ada"}); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Get([]byte("user:0001")); err != nil || string(r.Value) != "ADA" {
		t.Fatalf("stored %s, %v", fmtRec(r), err)
	}
	err := users.Put(user{ID: 2, Email: "b@x"})
	if err == nil || !strings.Contains(err.Error(), `encode the value of key "user:0002": no name`) {
		t.Fatalf("Put of a value the codec refuses = %v", err)
	}
	if d.Version() != 1 {
		t.Fatalf("a refused Put took a version: %d", d.Version())
	}
}
