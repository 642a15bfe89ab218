package db_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/dualdb/dualdb/db"
)

// A backup taken while the store is in use becomes a new store.
func ExampleDB_Backup() {
	base, err := os.MkdirTemp("", "dualdb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)

	d, err := db.Open(filepath.Join(base, "live"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := d.Put([]byte("user:1"), []byte("ada@example.com"), []byte(`{"name":"Ada"}`)); err != nil {
		log.Fatal(err)
	}

	var backup bytes.Buffer // a file or a network stream in real use
	version, err := d.Backup(&backup)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Restore(filepath.Join(base, "restored"), &backup); err != nil {
		log.Fatal(err)
	}
	r, err := db.Open(filepath.Join(base, "restored"), &db.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	rec, err := r.GetByIndex([]byte("ada@example.com"))
	fmt.Println(version, r.Version(), string(rec.Key), err)
	// Output: 1 1 user:1 <nil>
}

// The operator API mounted on an application's own server, behind
// whatever authentication it has.
func ExampleDB_Handler() {
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

	mux := http.NewServeMux()
	mux.Handle("/debug/dualdb/", http.StripPrefix("/debug/dualdb", d.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/debug/dualdb/v1/get?index=ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Header.Get(db.HeaderVersion), " ", string(body))
	// Output: 1 {"key":"user:1","index":"ada@example.com","value":"{\"name\":\"Ada\"}"}
}
