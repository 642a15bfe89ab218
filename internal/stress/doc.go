// Package stress is the concurrent workload and online consistency checker
// behind `dualdb stress`.
//
// # What a run does
//
// A Run loads Config.Keys records into a Store, then runs Config.Workers
// goroutines doing Puts, multi-record updates that swap the index keys of
// two records, Gets, GetByIndex lookups and short scans by key and by index
// key, while a checker goroutine compares a whole read view, by key and by
// index key, every Config.CheckEvery. Every inconsistent observation is
// counted as a violation of one kind (see Violation) with a few examples;
// latencies are kept per operation kind in a log-linear Histogram.
//
// # Record layout
//
// Keys are "k/%08d". Index keys are "x/%08d" when loaded, then fresh
// "x/w%03d-%d" keys written by workers, and "tmp/w%03d-%d" while a swap
// parks a record. A value starts with "idx=<index key>;", so that a record
// carrying a value written for another index key is seen. No record is
// ever deleted, so every view holds exactly Config.Keys records.
//
// # Stores
//
// NewDBStore adapts a dualdb store; NewNaiveStore is the design dualdb
// replaces — two Go maps behind two locks — on which the checker counts
// what readers can observe.
package stress
