module github.com/dualdb/dualdb

go 1.26

require (
	github.com/google/btree v1.1.3
	github.com/klauspost/compress v1.20.4
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
