package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualdb/dualdb/db"
)

// Namespace prefixes every metric name.
const Namespace = "dualdb"

// Histogram buckets, in the metric's unit. Classic buckets are fixed at
// New so that observing is a few atomic adds.
var (
	// commitBuckets span a NoSync commit (microseconds) to a stalled disk.
	commitBuckets = []float64{
		.00001, .000025, .00005, .0001, .00025, .0005,
		.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
	}
	// groupBuckets count commits per WAL transaction.
	groupBuckets = prometheus.ExponentialBuckets(1, 2, 11) // 1 .. 1024
	// traversalBuckets span a scan of a few records to a full-store walk.
	traversalBuckets = []float64{
		.000001, .0000025, .000005, .00001, .000025, .00005, .0001, .00025, .0005,
		.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10,
	}
	// slowBuckets are for checkpoints and order checks.
	slowBuckets = []float64{
		.0001, .001, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 50, 100, 300, 600,
	}
)

// Options configure New. A nil *Options means defaults.
type Options struct {
	// ConstLabels are added to every metric, to tell stores apart that
	// share a registry, e.g. {"store": "users"}. Default none.
	ConstLabels prometheus.Labels
}

// Collector is a db.Observer that exports what a store does as Prometheus
// metrics, and a prometheus.Collector that, once attached to a DB, also
// exports its gauges. It is safe for concurrent use.
type Collector struct {
	commits       prometheus.Counter
	commitFails   prometheus.Counter
	commitOps     prometheus.Counter
	commitLatency prometheus.Histogram

	groupSize   prometheus.Histogram
	walRecords  prometheus.Counter
	walBytes    prometheus.Counter
	walLatency  prometheus.Histogram
	walFailures prometheus.Counter

	checkpoints     prometheus.Counter
	checkpointFails prometheus.Counter
	checkpointDur   prometheus.Histogram
	checkpointSize  prometheus.Gauge
	checkpointRecs  prometheus.Gauge

	recoveryDur      prometheus.Gauge
	recoveryReplayed prometheus.Gauge

	traversal     *prometheus.HistogramVec
	traversalKey  prometheus.Observer // children resolved once, off the hot path
	traversalIdx  prometheus.Observer
	traversed     *prometheus.CounterVec
	traversedKey  prometheus.Counter
	traversedIdx  prometheus.Counter
	orderChecks   prometheus.Counter
	orderFails    prometheus.Counter
	orderFindings prometheus.Counter
	orderDur      prometheus.Histogram
	orderVersion  prometheus.Gauge

	own   []prometheus.Collector // the metrics above, for Describe/Collect
	stats *statsCollector
}

var (
	_ db.Observer          = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// New returns a Collector and, if reg is not nil, registers it with reg.
// Pass it as db.Options.Observer, then call Attach with the opened DB.
// An error is returned only by the registration (for instance a second
// Collector with the same ConstLabels in one registry).
func New(reg prometheus.Registerer, opts *Options) (*Collector, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Collector{stats: newStatsCollector(o.ConstLabels)}
	f := factory{labels: o.ConstLabels, c: c}

	c.commits = f.counter("commits_total", "Commits (Put, Delete, Update) acknowledged durable.")
	c.commitFails = f.counter("commit_failures_total", "Commits that returned an error after reaching the WAL writer.")
	c.commitOps = f.counter("commit_ops_total", "Operations (record puts and deletes) in durable commits.")
	c.commitLatency = f.histogram("commit_duration_seconds", "Time from a commit call to its durable acknowledgement.", commitBuckets)

	c.groupSize = f.histogram("group_commit_size", "Commits written per WAL transaction (group commit).", groupBuckets)
	c.walRecords = f.counter("wal_records_total", "Commit records written to the WAL.")
	c.walBytes = f.counter("wal_bytes_total", "Encoded commit bytes written to the WAL.")
	c.walLatency = f.histogram("wal_write_duration_seconds", "Time of one WAL transaction, fsyncs included.", commitBuckets)
	c.walFailures = f.counter("wal_write_failures_total", "WAL transactions that failed (the store then fails closed).")

	c.checkpoints = f.counter("checkpoints_total", "Snapshot files written.")
	c.checkpointFails = f.counter("checkpoint_failures_total", "Checkpoint attempts that failed.")
	c.checkpointDur = f.histogram("checkpoint_duration_seconds", "Time of one checkpoint attempt.", slowBuckets)
	c.checkpointSize = f.gauge("checkpoint_size_bytes", "Size of the newest snapshot file written since start.")
	c.checkpointRecs = f.gauge("checkpoint_records", "Records in the newest snapshot file written since start.")

	c.recoveryDur = f.gauge("recovery_duration_seconds", "Time Open took to load the newest snapshot file and replay the WAL.")
	c.recoveryReplayed = f.gauge("recovery_replayed_records", "WAL records Open replayed after the snapshot file.")

	c.traversal = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "traversal_duration_seconds", ConstLabels: o.ConstLabels,
		Help:    "Time of one scan (iterator of a Snapshot) by the index it walked: key or index.",
		Buckets: traversalBuckets,
	}, []string{"index"})
	c.traversalKey = c.traversal.WithLabelValues("key")
	c.traversalIdx = c.traversal.WithLabelValues("index")
	c.traversed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "traversal_records_total", ConstLabels: o.ConstLabels,
		Help: "Records yielded by scans, by the index walked: key or index.",
	}, []string{"index"})
	c.traversedKey = c.traversed.WithLabelValues("key")
	c.traversedIdx = c.traversed.WithLabelValues("index")
	c.own = append(c.own, c.traversal, c.traversed)

	c.orderChecks = f.counter("order_checks_total", "Online invariant checks run.")
	c.orderFails = f.counter("order_check_failures_total", "Online invariant checks that found a violation.")
	c.orderFindings = f.counter("order_check_findings_total", "Violations reported by online invariant checks (capped per check).")
	c.orderDur = f.histogram("order_check_duration_seconds", "Time of one online invariant check.", slowBuckets)
	c.orderVersion = f.gauge("order_check_version", "Version of the store checked by the latest online invariant check.")

	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Attach makes the Collector export d's gauges (last durable version,
// records, WAL size, version and age of the newest snapshot file, failed
// state), read from d.Stats() at each scrape. It replaces a DB attached
// before; nil detaches. The event metrics do not depend on it.
func (c *Collector) Attach(d *db.DB) { c.stats.db.Store(d) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.own {
		m.Describe(ch)
	}
	c.stats.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.own {
		m.Collect(ch)
	}
	c.stats.Collect(ch)
}

// Commit implements db.Observer.
func (c *Collector) Commit(ev db.CommitEvent) {
	if ev.Err != nil {
		c.commitFails.Inc()
		return
	}
	c.commits.Inc()
	c.commitOps.Add(float64(ev.Ops))
	c.commitLatency.Observe(ev.Latency.Seconds())
}

// GroupCommit implements db.Observer.
func (c *Collector) GroupCommit(ev db.GroupCommitEvent) {
	c.walLatency.Observe(ev.Latency.Seconds())
	if ev.Err != nil {
		c.walFailures.Inc()
		return
	}
	c.groupSize.Observe(float64(ev.Records))
	c.walRecords.Add(float64(ev.Records))
	c.walBytes.Add(float64(ev.Bytes))
}

// Checkpoint implements db.Observer.
func (c *Collector) Checkpoint(ev db.CheckpointEvent) {
	c.checkpointDur.Observe(ev.Duration.Seconds())
	if ev.Err != nil {
		c.checkpointFails.Inc()
		return
	}
	c.checkpoints.Inc()
	c.checkpointSize.Set(float64(ev.Bytes))
	c.checkpointRecs.Set(float64(ev.Records))
}

// Recovery implements db.Observer.
func (c *Collector) Recovery(ev db.RecoveryEvent) {
	c.recoveryDur.Set(ev.Duration.Seconds())
	c.recoveryReplayed.Set(float64(ev.Replayed))
}

// Scan implements db.Observer.
func (c *Collector) Scan(ev db.ScanEvent) {
	if ev.ByIndex {
		c.traversalIdx.Observe(ev.Duration.Seconds())
		c.traversedIdx.Add(float64(ev.Items))
		return
	}
	c.traversalKey.Observe(ev.Duration.Seconds())
	c.traversedKey.Add(float64(ev.Items))
}

// OrderCheck implements db.Observer. The findings themselves are logged
// by the DB with the version; here they are counted.
func (c *Collector) OrderCheck(ev db.OrderCheckEvent) {
	c.orderChecks.Inc()
	c.orderDur.Observe(ev.Duration.Seconds())
	c.orderVersion.Set(float64(ev.Version))
	if len(ev.Findings) > 0 {
		c.orderFails.Inc()
		c.orderFindings.Add(float64(len(ev.Findings)))
	}
}

// factory builds the unlabelled metrics of a Collector and records them
// for Describe and Collect.
type factory struct {
	labels prometheus.Labels
	c      *Collector
}

func (f factory) counter(name, help string) prometheus.Counter {
	m := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels})
	f.c.own = append(f.c.own, m)
	return m
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	m := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels})
	f.c.own = append(f.c.own, m)
	return m
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	m := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets,
	})
	f.c.own = append(f.c.own, m)
	return m
}
