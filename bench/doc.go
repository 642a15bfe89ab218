// Command bench compares dualdb with peer stores on the same two-key data
// set, on the same disk, in the same run. It is its own Go module so that
// users of the library do not pull in the peers.
//
// # Running
//
//	cd bench
//	go run . -quick                    # CI: N=20,000, 300 ms per timed workload
//	go run .                           # full: N=1,000,000, 5 s per timed workload
//	go run . -count 3                  # three rounds, median per cell (busy machines)
//	go run . -engines dualdb,bbolt -workloads W1,W4 -n 100000 -duration 2s
//	go test ./...                      # adapter contract tests and TestQuick
//	go test -run '^$' -bench . -count 6 -bench.n 50000 > new.txt; benchstat -col /engine new.txt
//
// The table goes to stdout, progress to stderr; -out DIR (default
// "results") receives results.json and ratios.svg, a bar chart of dualdb's
// ratio to the best peer per row. Exit status: 0 ok, 1 an engine failed or
// returned wrong data, 2 usage or I/O error.
//
// Stores are created under -dir (default os.TempDir(), or the current
// directory when that is tmpfs). A tmpfs -dir is refused: fsync does nothing
// there and every durable figure would be false.
//
// # Engines
//
// Every engine sits behind the Store interface (engine.go) with one adapter
// file each: put a batch atomically with both keys, get by key, get by index
// key returning the whole record, ordered scan by key and by index key,
// close, reopen.
//
//	dualdb  the store under test (Update + Tx.Put, Snapshot iterators)
//	bbolt   buckets key->record and index->key in one Update; DB.Batch for W2
//	buntdb  two keys per record in one Update; SyncPolicy Always when durable
//	badger  two keys per record in one txn; SyncWrites when durable
//	memdb   go-memdb, one table with two unique indexes; memory only
//	naive   two Go maps under one RWMutex; scans copy and sort
//
// # Workloads
//
// Data: key "user:%010d" inserted in a seeded random order, unique index key
// "mail:%016x" whose order differs from key order, 100-byte value (gen.go).
//
//	W1   durable serial commits of one record (commits/s)
//	W2   durable commits of one record from 64 goroutines (commits/s)
//	W3   bulk load of N records in batches of 1,000 (rec/s), bytes on disk
//	     per record (allocated blocks, after Close), Go heap and RSS growth
//	     per record after load (after runtime.GC)
//	W4   get by key, 2 goroutines, random ids (ns/op = wall time / all ops)
//	W5   get by index key -> whole record, same
//	W6   full ordered scan by key and by index key (items/s)
//	W7   close and reopen the N-record store until the first read is
//	     answered (s, close included)
//	W8   2 readers (get by key, then by the index key it carries) and 1
//	     writer moving random records to new index keys (reads/s, writes/s)
//	W3J  load of N JSON-profile records without fsync, for on-disk size
//
// W1-W3 and W8 run in the engine's durable mode where it has one. Physical
// limits measured in the same run: 4 KiB pwrite + fdatasync per second on the
// same file system (also just before each engine's W1, in results.json), a
// scan of the same records in a sorted slice, and the raw payload bytes.
//
// Every read is checked: whole record, right key and index key, scans
// strictly ascending and complete, and after the mixed run both orders still
// hold N records. A wrong answer is an ERROR cell, not a fast one.
//
// # Reading the table
//
// Each cell carries a tag stating what the engine guaranteed on that row:
// D (commit on stable storage before it returns), N (in files, no sync per
// commit) or M (memory only); O (both keys kept ordered) or S (sorted at scan
// time). The last column is dualdb's ratio to the best peer, oriented so that
// >1 means dualdb is better; rows about writes, load, disk and reopen compare
// only peers with the same durability letter, and the Go-heap row leaves out
// engines that keep their data in mmap (bbolt, badger).
//
// The machine is shared: results.json records the load average before each
// engine and the run warns when it exceeded the CPU count. Use -count.
package main
