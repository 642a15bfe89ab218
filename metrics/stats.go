package metrics

import (
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
)

// statsCollector exports the gauges of an attached DB, read from
// db.Stats() and two file sizes at scrape time, so it costs the store
// nothing between scrapes.
type statsCollector struct {
	db atomic.Pointer[db.DB] // nil: nothing attached, nothing exported

	version, records, walRecords, walFile *prometheus.Desc
	snapVersion, snapTime, failed         *prometheus.Desc
}

func newStatsCollector(labels prometheus.Labels) *statsCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, labels)
	}
	return &statsCollector{
		version:     d("last_durable_version", "Last durable version: readers see this version."),
		records:     d("records", "Records at the last durable version."),
		walRecords:  d("wal_size_records", "Commit records kept in the WAL (replayed by the next Open unless a newer snapshot file is written)."),
		walFile:     d("wal_file_size_bytes", "Size of the WAL file wal.db on disk."),
		snapVersion: d("snapshot_version", "Version of the newest snapshot file, 0 if none."),
		snapTime:    d("snapshot_timestamp_seconds", "Modification time of the newest snapshot file, in Unix seconds; absent if none."),
		failed:      d("failed", "1 once the store failed closed after a WAL write error (reopen it), else 0."),
	}
}

func (s *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.version, s.records, s.walRecords, s.walFile, s.snapVersion, s.snapTime, s.failed} {
		ch <- d
	}
}

func (s *statsCollector) Collect(ch chan<- prometheus.Metric) {
	d := s.db.Load()
	if d == nil {
		return
	}
	st := d.Stats()
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	gauge(s.version, float64(st.Version))
	gauge(s.records, float64(st.Records))
	gauge(s.walRecords, float64(st.WALRecords))
	if fi, err := os.Stat(filepath.Join(d.Dir(), db.WALFile)); err == nil {
		gauge(s.walFile, float64(fi.Size()))
	}
	gauge(s.snapVersion, float64(st.SnapshotVersion))
	if st.SnapshotVersion != 0 {
		name := filepath.Join(d.Dir(), db.SnapDir, snapshot.FileName(st.SnapshotVersion))
		if fi, err := os.Stat(name); err == nil {
			gauge(s.snapTime, float64(fi.ModTime().UnixNano())/1e9)
		}
	}
	failed := 0.0
	if st.Failed != nil {
		failed = 1
	}
	gauge(s.failed, failed)
}
