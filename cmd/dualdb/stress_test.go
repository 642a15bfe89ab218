package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/stress"
	"github.com/dualdb/dualdb/internal/testtier"
)

// stressJSON runs stress with --json and returns the exit code and the
// decoded results.
func stressJSON(t *testing.T, args ...string) (int, stress.Results, result) {
	t.Helper()
	r := runCLI(t, "", append([]string{"stress", "--json"}, args...)...)
	var res stress.Results
	if r.stdout != "" {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("stress --json printed something else (%v):\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
		}
	}
	return r.code, res, r
}

// A healthy store under a short workload: every kind of operation runs,
// nothing is inconsistent, the store's own order check runs, and the store
// left behind verifies.
func TestStress_Healthy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	code, res, r := stressJSON(t, dir, "--duration", "1500ms", "--workers", "8", "--keys", "500",
		"--no-sync", "--order-check", "50ms", "--checkpoint-every", "300", "--check-every", "50ms")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
	}
	if res.Violations != 0 || res.Errors != 0 {
		t.Fatalf("violations %d, errors %d (%s): %v", res.Violations, res.Errors, res.FirstError, res.Examples)
	}
	if len(res.Ops) != int(stress.NumOps) {
		t.Fatalf("%d op kinds in the results, want %d", len(res.Ops), stress.NumOps)
	}
	for _, o := range res.Ops {
		if o.Count == 0 {
			t.Errorf("no %s operation ran", o.Op)
		}
		if !(o.P50 <= o.P99 && o.P99 <= o.P999) {
			t.Errorf("%s: p50 %v, p99 %v, p99.9 %v are not ordered", o.Op, o.P50, o.P99, o.P999)
		}
	}

	d, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Snapshot()
	if s.Len() != 500 {
		t.Errorf("store left with %d records, want 500", s.Len())
	}
	if f := s.Check(0); len(f) != 0 {
		t.Errorf("store left inconsistent: %v", f)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if v := runCLI(t, "", "verify", dir); v.code != exitOK {
		t.Errorf("verify of the stressed store: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
}

// The naive two-map design shows violations and exits 1. A run that sees
// none is retried: the races are likely, not certain.
func TestStress_Naive(t *testing.T) {
	for try := 1; ; try++ {
		code, res, r := stressJSON(t, "--naive", "--duration", "1s", "--workers", "8", "--keys", "300", "--check-every", "20ms")
		if res.Violations > 0 {
			if code != exitFindings {
				t.Fatalf("%d violations but exit %d, want %d\n%s", res.Violations, code, exitFindings, r.stderr)
			}
			if len(res.Examples) == 0 {
				t.Error("violations without examples")
			}
			t.Logf("naive: %d violations %v; e.g. %s", res.Violations, res.ByKind, res.Examples[0])
			return
		}
		if try == 3 {
			t.Fatalf("3 naive runs saw no violation (exit %d)\n%s", code, r.stderr)
		}
	}
}

func TestStress_Output(t *testing.T) {
	r := runCLI(t, "", "stress", "--naive", "--duration", "300ms", "--workers", "2", "--keys", "100")
	if r.code != exitOK && r.code != exitFindings {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"ops/s", "p50", "p99", "p99.9", "put", "update", "get-index", "scan-index", "total", "violations:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "stress: naive") {
		t.Errorf("no start line on stderr:\n%s", r.stderr)
	}
}

// --cpu-profile and --mem-profile write profiles go tool pprof reads
// (gzip-compressed protocol buffers); a path that cannot be created is a
// usage error naming the flag.
func TestStress_Profiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pb.gz"), filepath.Join(dir, "mem.pb.gz")
	r := runCLI(t, "", "stress", "--naive", "--duration", "300ms", "--workers", "2", "--keys", "100",
		"--cpu-profile", cpu, "--mem-profile", mem)
	if r.code != exitOK && r.code != exitFindings {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, f := range []string{cpu, mem} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: %d bytes, not a gzip-compressed profile", filepath.Base(f), len(b))
		}
	}
	for _, flag := range []string{"--cpu-profile", "--mem-profile"} {
		r := runCLI(t, "", "stress", "--naive", "--duration", "100ms", "--workers", "1", "--keys", "10",
			flag, filepath.Join(dir, "missing", "p.pb.gz"))
		if r.code != exitError || !strings.Contains(r.stderr, flag) {
			t.Errorf("%s into a missing directory: exit %d, stderr %q; want exit %d naming the flag", flag, r.code, r.stderr, exitError)
		}
	}
}

func TestStress_Usage(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no dir", []string{"stress"}, "needs a directory"},
		{"two dirs", []string{"stress", "a", "b"}, "one directory"},
		{"dir not empty", []string{"stress", full}, "not empty"},
		{"not loopback", []string{"stress", "--naive", "--metrics", "192.0.2.1:9464"}, "not a loopback address"},
		{"not loopback pprof", []string{"stress", "--naive", "--pprof", "[2001:db8::1]:6060"}, "not a loopback address"},
		{"bad addr", []string{"stress", "--naive", "--pprof", "6060"}, "host:port"},
		{"no workers", []string{"stress", "--naive", "--workers", "0"}, "--workers"},
		{"bad mix", []string{"stress", "--naive", "--mix", "get=50"}, `--mix "get=50": shares add up to 50`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, "", c.args...)
			if r.code != exitError || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitError, c.want)
			}
		})
	}
}

func TestStressConfig_ListenAddrs(t *testing.T) {
	for _, c := range []struct {
		in, want string
		any, ok  bool
	}{
		{":9464", "127.0.0.1:9464", false, true},
		{"127.0.0.1:0", "127.0.0.1:0", false, true},
		{"127.1.2.3:80", "127.1.2.3:80", false, true},
		{"localhost:6060", "localhost:6060", false, true},
		{"[::1]:6060", "[::1]:6060", false, true},
		{"0.0.0.0:6060", "", false, false},
		{"example.com:80", "", false, false},
		{"0.0.0.0:6060", "0.0.0.0:6060", true, true},
		{":9464", ":9464", true, true},
	} {
		got, _, err := stressConfig{pprofAddr: c.in, listenAny: c.any}.listenAddrs()
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("listenAddrs(%q, any=%v) = %q, %v; want %q, ok=%v", c.in, c.any, got, err, c.want, c.ok)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the writes of several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startStress runs the CLI with args in the background until ctx is
// cancelled or the run ends, and returns its stderr and a channel with
// its exit code.
func startStress(ctx context.Context, args ...string) (*syncBuffer, *syncBuffer, <-chan int) {
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	done := make(chan int, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetIn(strings.NewReader(""))
		root.SetOut(stdout)
		root.SetErr(stderr)
		err := root.ExecuteContext(ctx)
		switch {
		case err == nil:
			done <- exitOK
		case errors.Is(err, errFindings):
			done <- exitFindings
		default:
			fmt.Fprintln(stderr, "dualdb:", err)
			done <- exitError
		}
	}()
	return stdout, stderr, done
}

// waitURL waits for stress to print the URL of what (metrics or pprof).
func waitURL(t *testing.T, stderr *syncBuffer, done <-chan int, what string) string {
	t.Helper()
	re := regexp.MustCompile(`stress: ` + what + ` on (http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("stress exited %d before serving %s:\n%s", code, what, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("stress printed no %s URL in 30s:\n%s", what, stderr.String())
	return ""
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	return string(body)
}

// /metrics and /debug/pprof/ serve while stress runs; cancelling ends the
// run early with results.
func TestStress_MetricsAndPprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "store")
	stdout, stderr, done := startStress(ctx, "stress", dir, "--duration", "60s", "--workers", "4", "--keys", "200",
		"--no-sync", "--order-check", "50ms", "--metrics", "127.0.0.1:0", "--pprof", "127.0.0.1:0")
	metricsURL := waitURL(t, stderr, done, "metrics")
	pprofURL := waitURL(t, stderr, done, "pprof")

	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		body = httpGet(t, metricsURL)
		if strings.Contains(body, "\ndualdb_order_checks_total ") && !strings.Contains(body, "\ndualdb_order_checks_total 0\n") &&
			strings.Contains(body, `dualdb_traversal_duration_seconds_count{index="index"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no order check and scan in /metrics after 30s:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"dualdb_commits_total ", "dualdb_commit_duration_seconds_bucket{le=", "dualdb_group_commit_size_bucket",
		"dualdb_last_durable_version ", "dualdb_records 200", "dualdb_order_check_failures_total 0",
		`dualdb_stress_ops_total{op="get-index"}`, `dualdb_stress_violations_total{kind="snapshot"} 0`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if g := httpGet(t, pprofURL+"goroutine?debug=1"); !strings.Contains(g, "stress.(*Run).worker") {
		t.Errorf("goroutine profile shows no stress worker:\n%.2000s", g)
	}
	httpGet(t, pprofURL+"mutex?debug=1")
	httpGet(t, pprofURL+"block?debug=1")

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after cancel\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stress did not stop within 30s of the cancel")
	}
	if !strings.Contains(stdout.String(), "violations: 0") {
		t.Errorf("no results after cancel:\n%s", stdout.String())
	}
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("/metrics still served after the run")
	}
}

// A real Prometheus server on loopback scrapes `dualdb stress --metrics`
// with the alerting rules of monitoring/ loaded, and answers a P99 commit
// latency through its HTTP API. Long tier only: it starts a server.
func TestStress_Prometheus(t *testing.T) {
	testtier.SkipUnlessLong(t, "starts a real Prometheus server")
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not in PATH (Debian: apt-get install prometheus); skipping the end-to-end scrape")
	}
	rules, err := filepath.Abs("../../monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tmp := t.TempDir()
	_, stderr, done := startStress(ctx, "stress", filepath.Join(tmp, "store"), "--duration", "60s", "--workers", "8",
		"--keys", "1000", "--no-sync", "--metrics", "127.0.0.1:0")
	metricsURL := waitURL(t, stderr, done, "metrics")
	target, err := url.Parse(metricsURL)
	if err != nil {
		t.Fatal(err)
	}

	// A free loopback port for Prometheus's web API.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: dualdb
    static_configs:
      - targets: [%q]
`, rules, target.Host)
	cfgFile := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var plog syncBuffer
	prom := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(tmp, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.Stdout, prom.Stderr = &plog, &plog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		prom.Process.Kill()
		prom.Wait()
	}()

	api := "http://" + promAddr
	query := func(q string) (float64, bool) {
		resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false // not up yet
		}
		defer resp.Body.Close()
		var out struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" || len(out.Data.Result) == 0 {
			return 0, false
		}
		s, _ := out.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil && s != "NaN"
	}

	p99q := `histogram_quantile(0.99, sum by (le) (rate(dualdb_commit_duration_seconds_bucket[10s])))`
	var p99 float64
	deadline := time.Now().Add(45 * time.Second)
	for {
		if v, ok := query(p99q); ok {
			p99 = v
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no P99 commit latency from Prometheus in 45s\nprometheus log:\n%s\nstress:\n%s", plog.String(), stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if p99 <= 0 || p99 > 10 {
		t.Errorf("P99 commit latency from Prometheus = %vs, not plausible", p99)
	}
	t.Logf("P99 commit latency through Prometheus: %.3gms", p99*1000)
	if v, ok := query(`sum(dualdb_stress_violations_total)`); !ok || v != 0 {
		t.Errorf("sum(dualdb_stress_violations_total) = %v (ok %v), want 0", v, ok)
	}
	if v, ok := query(`histogram_quantile(0.99, sum by (le, index) (rate(dualdb_traversal_duration_seconds_bucket{index="index"}[10s])))`); !ok || v <= 0 {
		t.Errorf("P99 traversal latency by index = %v (ok %v), want > 0", v, ok)
	}

	// The alerting rules load and evaluate against the live series.
	resp, err := http.Get(api + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rulesOut struct {
		Data struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&rulesOut); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rulesOut.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("rule %s/%s: %s", g.Name, r.Name, r.LastError)
			}
		}
	}
	if n < 4 {
		t.Errorf("Prometheus loaded %d rules from %s, want at least 4", n, rules)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("stress exit %d\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stress did not stop within 30s of the cancel")
	}
}
