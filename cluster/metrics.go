package cluster

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are the node's own Prometheus metrics, beside the store
// metrics of package metrics (commits and scans of the replica). Gauges
// are read from raft and the replica when Prometheus scrapes.
type nodeMetrics struct {
	n            *Node
	requests     *prometheus.CounterVec
	forwarded    prometheus.Counter
	applyLatency prometheus.Histogram
	applyErrors  prometheus.Counter

	applied, commit, term, leader, records, restores *prometheus.Desc
}

func newNodeMetrics(n *Node) *nodeMetrics {
	return &nodeMetrics{
		n: n,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dualdb_cluster_http_requests_total", Help: "HTTP API requests, by route and status code.",
		}, []string{"route", "code"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dualdb_cluster_forwarded_total", Help: "Requests this node forwarded to the leader.",
		}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dualdb_cluster_apply_seconds", Help: "Time from proposing a command on the leader to its application.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dualdb_cluster_apply_errors_total", Help: "Proposals that raft refused or whose outcome is unknown.",
		}),
		applied:  prometheus.NewDesc("dualdb_cluster_applied_version", "Raft index of the last command applied to this node's store.", nil, nil),
		commit:   prometheus.NewDesc("dualdb_cluster_commit_index", "Raft commit index as this node knows it.", nil, nil),
		term:     prometheus.NewDesc("dualdb_cluster_term", "Current raft term.", nil, nil),
		leader:   prometheus.NewDesc("dualdb_cluster_is_leader", "1 if this node is the leader.", nil, nil),
		records:  prometheus.NewDesc("dualdb_cluster_records", "Records in this node's store.", nil, nil),
		restores: prometheus.NewDesc("dualdb_cluster_snapshot_restores_total", "Raft snapshots restored into this node's store.", nil, nil),
	}
}

func (m *nodeMetrics) own() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.forwarded, m.applyLatency, m.applyErrors}
}

// Describe implements prometheus.Collector.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.own() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.applied, m.commit, m.term, m.leader, m.records, m.restores} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.own() {
		c.Collect(ch)
	}
	snap := m.n.fsm.rep.Snapshot()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(m.applied, float64(snap.Version()))
	gauge(m.records, float64(snap.Len()))
	gauge(m.commit, float64(m.n.raft.CommitIndex()))
	gauge(m.term, float64(m.n.raft.CurrentTerm()))
	isLeader := 0.0
	if m.n.raft.State() == raft.Leader {
		isLeader = 1
	}
	gauge(m.leader, isLeader)
	ch <- prometheus.MustNewConstMetric(m.restores, prometheus.CounterValue, float64(m.n.fsm.restores.Load()))
}

func (m *nodeMetrics) observeApply(d time.Duration, err error) {
	if err != nil {
		m.applyErrors.Inc()
		return
	}
	m.applyLatency.Observe(d.Seconds())
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (m *nodeMetrics) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	})
}
