package stress

import "time"

// Results are what a run found; `dualdb stress --json` prints them, so the
// JSON field names are part of the CLI's interface.
type Results struct {
	Store   string  `json:"store"`
	Workers int     `json:"workers"`
	Records int     `json:"records"`
	Seed    uint64  `json:"seed"`
	Mix     string  `json:"mix"` // the share of each kind of operation, as --mix reads it
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the CPU time (user plus system) the whole process
	// used during the run: the store, the workers, the checker, the GC. On
	// a shared machine, Total.Count / CPUSeconds (operations per
	// CPU-second) moves less with the load than ops/s. 0 where the
	// platform does not tell.
	CPUSeconds float64           `json:"cpu_seconds"`
	Ops        []OpResult        `json:"ops"`               // one per Op, in order
	Total      OpResult          `json:"total"`             // every worker operation (OpCheck excluded) as one kind, op "total"
	Commits    *CommitStats      `json:"commits,omitempty"` // a store with a WAL only: its commits during the run
	Conflicts  uint64            `json:"conflicts"`
	Errors     uint64            `json:"errors"`
	FirstError string            `json:"first_error,omitempty"`
	Violations uint64            `json:"violations"`
	ByKind     map[string]uint64 `json:"violations_by_kind"` // by Violation.String, every kind present
	Examples   []string          `json:"examples,omitempty"` // a few per kind
}

// CommitStats counts a store's commits during a run (the load excluded),
// from db.Stats.
type CommitStats struct {
	Commits         uint64  `json:"commits"`          // durable commits
	WALTransactions uint64  `json:"wal_transactions"` // group commits: WAL (bbolt) transactions that wrote them
	PerTransaction  float64 `json:"per_transaction"`  // Commits / WALTransactions, the mean group size
	Checkpoints     uint64  `json:"checkpoints"`      // snapshot files written
}

// OpResult is the count and latency of one kind of operation; latencies
// are in seconds.
type OpResult struct {
	Op        string  `json:"op"`
	Count     uint64  `json:"count"`
	PerSecond float64 `json:"ops_per_second"`
	P50       float64 `json:"p50_seconds"`
	P99       float64 `json:"p99_seconds"`
	P999      float64 `json:"p999_seconds"`
}

func (r *Run) results(elapsed, cpu time.Duration) Results {
	res := Results{
		Store: r.store.Name(), Workers: r.cfg.Workers, Records: r.cfg.Keys, Seed: r.cfg.Seed, Mix: r.cfg.Mix.String(),
		Seconds: elapsed.Seconds(), CPUSeconds: cpu.Seconds(), Conflicts: r.conflicts.Load(), Errors: r.errors(),
		Violations: r.v.total(), ByKind: map[string]uint64{},
	}
	if err := r.Err(); err != nil {
		res.FirstError = err.Error()
	}
	if cc, ok := r.store.(commitCounter); ok {
		end := cc.commitCounts()
		c := CommitStats{
			Commits:         end.Commits - r.commitsAtStart.Commits,
			WALTransactions: end.WALTransactions - r.commitsAtStart.WALTransactions,
			Checkpoints:     end.Checkpoints - r.commitsAtStart.Checkpoints,
		}
		if c.WALTransactions > 0 {
			c.PerTransaction = float64(c.Commits) / float64(c.WALTransactions)
		}
		res.Commits = &c
	}
	for k := range NumViolations {
		res.ByKind[k.String()] = r.v.counts[k].Load()
	}
	r.v.mu.Lock()
	res.Examples = append(res.Examples, r.v.examples...)
	r.v.mu.Unlock()
	opResult := func(name string, h *Histogram) OpResult {
		return OpResult{
			Op: name, Count: h.Count(), PerSecond: float64(h.Count()) / elapsed.Seconds(),
			P50: h.Quantile(0.5).Seconds(), P99: h.Quantile(0.99).Seconds(), P999: h.Quantile(0.999).Seconds(),
		}
	}
	var total Histogram
	for op := range NumOps {
		var h Histogram
		for _, t := range r.tallies {
			h.Merge(&t.lat[op])
		}
		res.Ops = append(res.Ops, opResult(op.String(), &h))
		if op != OpCheck {
			total.Merge(&h)
		}
	}
	res.Total = opResult("total", &total)
	return res
}
