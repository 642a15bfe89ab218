package snapshot_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/dualdb/dualdb/snapshot"
)

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "snap")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	recs := []snapshot.Record{
		{Key: []byte("user:1"), Index: []byte("ada@example.com"), Value: []byte(`{"name":"ada"}`)},
		{Key: []byte("user:2"), Index: []byte("alan@example.com"), Value: []byte(`{"name":"alan"}`)},
	}
	h := snapshot.Header{Version: 17, Count: uint64(len(recs))}
	path, _, err := snapshot.Write(dir, h, slices.Values(recs), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path))

	got, err := snapshot.Read(path, nil, func(r snapshot.Record) error {
		fmt.Printf("%s %s %s\n", r.Key, r.Index, r.Value)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", got.Version, "records", got.Count)
	// Output:
	// 00000000000000000017.dsnap
	// user:1 ada@example.com {"name":"ada"}
	// user:2 alan@example.com {"name":"alan"}
	// version 17 records 2
}

func ExampleParseFileName() {
	for _, name := range []string{snapshot.FileName(42), "00000000000000000042.dsnap.tmp", "wal.db"} {
		v, ok := snapshot.ParseFileName(name)
		fmt.Println(name, v, ok)
	}
	// Output:
	// 00000000000000000042.dsnap 42 true
	// 00000000000000000042.dsnap.tmp 0 false
	// wal.db 0 false
}
