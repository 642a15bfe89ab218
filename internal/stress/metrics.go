package stress

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers the run's own counters with reg:
// dualdb_stress_ops_total{op}, dualdb_stress_violations_total{kind},
// dualdb_stress_conflicts_total and dualdb_stress_errors_total.
func (r *Run) RegisterMetrics(reg prometheus.Registerer) error {
	var cs []prometheus.Collector
	for op := range NumOps {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "ops_total",
			Help:        "Operations done by dualdb stress, by kind.",
			ConstLabels: prometheus.Labels{"op": op.String()},
		}, func() float64 { return float64(r.sum(op)) }))
	}
	for k := range NumViolations {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "violations_total",
			Help:        "Inconsistent observations counted by the dualdb stress checker, by kind.",
			ConstLabels: prometheus.Labels{"kind": k.String()},
		}, func() float64 { return float64(r.v.counts[k].Load()) }))
	}
	cs = append(cs,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "conflicts_total",
			Help: "Puts refused because another worker had taken the index key (expected).",
		}, func() float64 { return float64(r.conflicts.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "dualdb", Subsystem: "stress", Name: "errors_total",
			Help: "Operations of dualdb stress that failed with an error.",
		}, func() float64 { return float64(r.errors()) }),
	)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
