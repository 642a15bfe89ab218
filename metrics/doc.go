// Package metrics exports what a dualdb store does as Prometheus metrics.
//
// The db package imports no metrics library: it reports commits, WAL
// writes, checkpoints, recovery, scans and online order checks to a
// db.Observer. A *Collector is that observer, turning the events into
// counters and histograms with github.com/prometheus/client_golang, and a
// prometheus.Collector that, once attached to an open *db.DB, also reads
// the store's gauges (last durable version, record count, WAL size,
// age of the newest snapshot file) from db.Stats when Prometheus scrapes.
//
// # Wiring
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, nil)           // registers the collector
//	if err != nil { ... }
//	d, err := db.Open(dir, &db.Options{
//		Observer:           m,                 // events: commits, scans, ...
//		OrderCheckInterval: time.Minute,       // optional online check
//	})
//	if err != nil { ... }
//	m.Attach(d)                                // gauges read from d.Stats()
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Several stores can share one registry when each Collector gets its own
// Options.ConstLabels (for example {store="users"}).
//
// # Metrics
//
// Names follow the Prometheus conventions: the dualdb_ prefix, base units
// (_seconds, _bytes) and _total for counters. The full table, with the
// alerting rules and dashboard built on them, is in docs/observability.md
// in the repository.
//
// # Cost
//
// Observer methods run on the paths they measure. Every one is a few
// atomic adds: counters and classic histograms with fixed buckets, the
// children of labelled histograms resolved once in New, no allocation and
// no lock. Lookups (Get, GetByIndex) call no observer at all. The
// benchmarks in bench_test.go compare Put, Get and short scans with and
// without a Collector.
//
// # Concurrency
//
// A Collector is safe for concurrent use by any number of stores'
// goroutines and scrapes.
package metrics
