package metrics_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
)

// openObserved opens a store in a fresh temp dir with a Collector
// registered in a new registry and attached to the DB.
func openObserved(t *testing.T, opts *db.Options) (*db.DB, *metrics.Collector, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var o db.Options
	if opts != nil {
		o = *opts
	}
	o.Observer = m
	d, err := db.Open(filepath.Join(t.TempDir(), "store"), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	m.Attach(d)
	return d, m, reg
}

// scrape gathers reg and returns its families by name.
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// pick returns the metric of family name whose labels include the given
// name=value pairs, or fails the test.
func pick(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	mf, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("metric %s%v not exported", name, labels)
	return nil
}

// value returns the value of a counter or gauge, or the sample count of a
// histogram.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := pick(t, fams, name, labels...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %s has no value", name)
	return 0
}

func histSum(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	return pick(t, fams, name, labels...).GetHistogram().GetSampleSum()
}

func key(i int) []byte   { return fmt.Appendf(nil, "k%04d", i) }
func index(i int) []byte { return fmt.Appendf(nil, "x%04d", i) }

// A workload of known size gives counters that match it exactly.
func TestCollector_CountsWorkload(t *testing.T) {
	d, _, reg := openObserved(t, &db.Options{NoSync: true, CheckpointEvery: -1})
	const puts = 40
	for i := range puts {
		if err := d.Put(key(i), index(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// One multi-record transaction: 3 ops, one commit.
	if err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put(key(100), index(100), nil); err != nil {
			return err
		}
		if err := tx.Put(key(101), index(101), nil); err != nil {
			return err
		}
		return tx.Delete(key(0))
	}); err != nil {
		t.Fatal(err)
	}
	// Neither a conflict nor a rolled-back transaction is a commit.
	if err := d.Put(key(1), index(2), nil); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("Put of a taken index key: %v, want ErrConflict", err)
	}
	if err := d.Update(func(tx *db.Tx) error {
		_ = tx.Put(key(200), index(200), nil)
		return errors.New("roll back")
	}); err == nil {
		t.Fatal("Update returning an error committed")
	}
	const commits = puts + 1
	const records = puts + 2 - 1

	// Scans: two by key, one by index, one stopped early.
	s := d.Snapshot()
	n := 0
	for range s.Ascend(nil, nil) {
		n++
	}
	for range s.Descend(key(10), key(4)) {
		n++
	}
	stopped := 0
	for range s.AscendIndex(nil, nil) {
		stopped++
		if stopped == 5 {
			break
		}
	}
	if n != records+6 {
		t.Fatalf("scanned %d records by key, want %d", n, records+6)
	}
	if ev := d.CheckOnline(nil); len(ev.Findings) != 0 {
		t.Fatalf("CheckOnline on a healthy store: %v", ev.Findings)
	}

	fams := scrape(t, reg)
	st := d.Stats()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dualdb_commits_total", nil, commits},
		{"dualdb_commit_failures_total", nil, 0},
		{"dualdb_commit_ops_total", nil, puts + 3},
		{"dualdb_commit_duration_seconds", nil, commits}, // sample count
		{"dualdb_wal_records_total", nil, commits},
		{"dualdb_wal_bytes_total", nil, float64(st.WALBytesWritten)},
		{"dualdb_group_commit_size", nil, float64(st.GroupCommits)},
		{"dualdb_wal_write_duration_seconds", nil, float64(st.GroupCommits)},
		{"dualdb_wal_write_failures_total", nil, 0},
		{"dualdb_traversal_duration_seconds", []string{"index", "key"}, 2},
		{"dualdb_traversal_duration_seconds", []string{"index", "index"}, 1},
		{"dualdb_traversal_records_total", []string{"index", "key"}, records + 6},
		{"dualdb_traversal_records_total", []string{"index", "index"}, 5},
		{"dualdb_order_checks_total", nil, 1},
		{"dualdb_order_check_failures_total", nil, 0},
		{"dualdb_order_check_version", nil, commits},
		{"dualdb_last_durable_version", nil, commits},
		{"dualdb_records", nil, records},
		{"dualdb_wal_size_records", nil, commits},
		{"dualdb_failed", nil, 0},
		{"dualdb_checkpoint_failures_total", nil, 0},
		{"dualdb_recovery_replayed_records", nil, 0},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Every commit is in one group: the group sizes add up to the commits.
	if got := histSum(t, fams, "dualdb_group_commit_size"); got != commits {
		t.Errorf("sum of group commit sizes = %v, want %d", got, commits)
	}
	if got := value(t, fams, "dualdb_wal_file_size_bytes"); got <= 0 {
		t.Errorf("dualdb_wal_file_size_bytes = %v, want > 0", got)
	}
	if got := histSum(t, fams, "dualdb_commit_duration_seconds"); got <= 0 || got > 60 {
		t.Errorf("sum of commit latencies = %vs, not plausible", got)
	}
}

// A checkpoint and a reopen show up in the checkpoint, snapshot and
// recovery metrics.
func TestCollector_CheckpointAndRecovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(dir, &db.Options{NoSync: true, CheckpointEvery: -1, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(d)
	for i := range 30 {
		if err := d.Put(key(i), index(i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	v, err := d.Checkpoint()
	if err != nil {
		t.Skipf("Checkpoint not available in this build: %v", err)
	}
	for i := 30; i < 35; i++ {
		if err := d.Put(key(i), index(i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, reg)
	if got := value(t, fams, "dualdb_checkpoints_total"); got != 1 {
		t.Errorf("dualdb_checkpoints_total = %v, want 1", got)
	}
	if got := value(t, fams, "dualdb_checkpoint_duration_seconds"); got != 1 {
		t.Errorf("dualdb_checkpoint_duration_seconds count = %v, want 1", got)
	}
	if got := value(t, fams, "dualdb_checkpoint_records"); got != 30 {
		t.Errorf("dualdb_checkpoint_records = %v, want 30", got)
	}
	if got := value(t, fams, "dualdb_checkpoint_size_bytes"); got <= 0 {
		t.Errorf("dualdb_checkpoint_size_bytes = %v, want > 0", got)
	}
	if got := value(t, fams, "dualdb_snapshot_version"); got != float64(v) {
		t.Errorf("dualdb_snapshot_version = %v, want %d", got, v)
	}
	age := float64(time.Now().Unix()) - value(t, fams, "dualdb_snapshot_timestamp_seconds")
	if age < -5 || age > 300 {
		t.Errorf("snapshot age from dualdb_snapshot_timestamp_seconds = %vs, not plausible", age)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen with a new collector: recovery replays the 5 commits after
	// the snapshot.
	reg2 := prometheus.NewRegistry()
	m2, err := metrics.New(reg2, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := db.Open(dir, &db.Options{NoSync: true, CheckpointEvery: -1, Observer: m2})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	m2.Attach(d2)
	fams = scrape(t, reg2)
	if got := value(t, fams, "dualdb_recovery_replayed_records"); got != 5 {
		t.Errorf("dualdb_recovery_replayed_records = %v, want 5", got)
	}
	if got := value(t, fams, "dualdb_recovery_duration_seconds"); got <= 0 {
		t.Errorf("dualdb_recovery_duration_seconds = %v, want > 0", got)
	}
	if got := value(t, fams, "dualdb_records"); got != 35 {
		t.Errorf("dualdb_records after reopen = %v, want 35", got)
	}
}

// Failures reported by the DB land in the failure counters, not in the
// success metrics.
func TestCollector_Failures(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	m.Commit(db.CommitEvent{Version: 7, Ops: 2, Latency: time.Millisecond, Err: boom})
	m.GroupCommit(db.GroupCommitEvent{Records: 3, Bytes: 100, Latency: time.Millisecond, Err: boom})
	m.Checkpoint(db.CheckpointEvent{Version: 7, Duration: time.Second, Err: boom})
	m.OrderCheck(db.OrderCheckEvent{Version: 9, Findings: []string{"order: a", "bijection: b"}, Duration: time.Millisecond})
	m.OrderCheck(db.OrderCheckEvent{Version: 10, Full: true, Duration: time.Millisecond})

	fams := scrape(t, reg)
	for name, want := range map[string]float64{
		"dualdb_commits_total":               0,
		"dualdb_commit_failures_total":       1,
		"dualdb_commit_duration_seconds":     0,
		"dualdb_wal_write_failures_total":    1,
		"dualdb_wal_records_total":           0,
		"dualdb_group_commit_size":           0,
		"dualdb_checkpoints_total":           0,
		"dualdb_checkpoint_failures_total":   1,
		"dualdb_checkpoint_duration_seconds": 1,
		"dualdb_order_checks_total":          2,
		"dualdb_order_check_failures_total":  1,
		"dualdb_order_check_findings_total":  2,
		"dualdb_order_check_version":         10,
	} {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Without an attached DB no store gauge is exported.
	if _, ok := fams["dualdb_last_durable_version"]; ok {
		t.Error("dualdb_last_durable_version exported with no DB attached")
	}
}

// The online order check of Options.OrderCheckInterval runs in the
// background while writers go on, and is counted; a healthy store never
// fails it.
func TestCollector_OnlineOrderCheck(t *testing.T) {
	d, _, reg := openObserved(t, &db.Options{
		NoSync: true, OrderCheckInterval: 10 * time.Millisecond,
		OrderCheckFullLimit: 50, // the store outgrows it: sampled checks too
	})
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if err := d.Put(key(i%500), index(i%500), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			fams := scrape(t, reg)
			if value(t, fams, "dualdb_order_checks_total") >= 5 && i >= 500 {
				if got := value(t, fams, "dualdb_order_check_failures_total"); got != 0 {
					t.Fatalf("order check failures on a healthy store: %v", got)
				}
				if got := value(t, fams, "dualdb_order_check_duration_seconds"); got < 5 {
					t.Fatalf("order check duration samples = %v, want >= 5", got)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the online order check did not run 5 times in 20s")
		}
	}
}

// Stores told apart by ConstLabels share a registry; two collectors with
// the same labels do not.
func TestNew_ConstLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, &metrics.Options{ConstLabels: prometheus.Labels{"store": "users"}}); err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(reg, &metrics.Options{ConstLabels: prometheus.Labels{"store": "orders"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, &metrics.Options{ConstLabels: prometheus.Labels{"store": "users"}}); err == nil {
		t.Fatal("a second collector with the same labels registered")
	}
	m.Commit(db.CommitEvent{Version: 1, Ops: 1})
	fams := scrape(t, reg)
	if got := value(t, fams, "dualdb_commits_total", "store", "orders"); got != 1 {
		t.Errorf(`dualdb_commits_total{store="orders"} = %v, want 1`, got)
	}
	if got := value(t, fams, "dualdb_commits_total", "store", "users"); got != 0 {
		t.Errorf(`dualdb_commits_total{store="users"} = %v, want 0`, got)
	}
}

// Names, help texts and units pass Prometheus's own linter.
func TestCollector_Lint(t *testing.T) {
	_, _, reg := openObserved(t, &db.Options{NoSync: true})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// docs/observability.md lists exactly the metrics the package exports.
func TestObservabilityDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	d, _, reg := openObserved(t, &db.Options{NoSync: true, CheckpointEvery: -1})
	if err := d.Put([]byte("k"), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checkpoint(); err != nil {
		t.Logf("no checkpoint (%v): dualdb_snapshot_timestamp_seconds is taken from the Describe list", err)
	}
	exported := exportedNames(t, reg)
	// The table rows: | `dualdb_name` | type | ...
	row := regexp.MustCompile("(?m)^\\| `(dualdb_[a-z_]+)`")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		if !strings.HasPrefix(m[1], "dualdb_stress_") {
			documented = append(documented, m[1])
		}
	}
	slices.Sort(documented)
	for _, n := range exported {
		if _, ok := slices.BinarySearch(documented, n); !ok {
			t.Errorf("%s is exported but not in the docs/observability.md metrics table", n)
		}
	}
	for _, n := range documented {
		if _, ok := slices.BinarySearch(exported, n); !ok {
			t.Errorf("%s is in the docs/observability.md metrics table but not exported", n)
		}
	}
}

// exportedNames returns the sorted names of every metric the collector in
// reg describes (histograms by their base name).
func exportedNames(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	names := map[string]bool{}
	for n := range scrape(t, reg) {
		names[n] = true
	}
	// Gauges exported only in some states (no snapshot yet) are still
	// described; take their names from the descriptors.
	ch := make(chan *prometheus.Desc, 100)
	m, err := metrics.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { m.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if s := fq.FindStringSubmatch(d.String()); s != nil {
			names[s[1]] = true
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
