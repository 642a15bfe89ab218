package metrics_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
)

// Wire a Collector into an application: it observes the DB's events and,
// once attached, exports the DB's gauges. Serve reg with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on /metrics.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "dualdb-metrics-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, &metrics.Options{ConstLabels: prometheus.Labels{"store": "users"}})
	if err != nil {
		log.Fatal(err)
	}
	d, err := db.Open(dir, &db.Options{Observer: m})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	m.Attach(d)

	if err := d.Put([]byte("user:1"), []byte("ada@example.com"), nil); err != nil {
		log.Fatal(err)
	}
	if err := d.Put([]byte("user:2"), []byte("alan@example.com"), nil); err != nil {
		log.Fatal(err)
	}

	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dualdb_commits_total Commits (Put, Delete, Update) acknowledged durable.
# TYPE dualdb_commits_total counter
dualdb_commits_total{store="users"} 2
# HELP dualdb_records Records at the last durable version.
# TYPE dualdb_records gauge
dualdb_records{store="users"} 2
`), "dualdb_commits_total", "dualdb_records")
	fmt.Println("metrics match:", err == nil)
	// Output: metrics match: true
}
