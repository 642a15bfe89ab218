package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dualdb/dualdb/cluster"
	"github.com/dualdb/dualdb/db"
)

// runBench measures a cluster (or, with --embedded, a standalone store):
// N clients doing one operation in a loop for a fixed time, spread over
// the given nodes. It prints operations per second and latency quantiles.
func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		addrs    = fs.String("addrs", "", "comma-separated HTTP addresses of nodes; clients are spread over them")
		clients  = fs.Int("clients", 1, "concurrent clients")
		duration = fs.Duration("duration", 10*time.Second, "how long to run")
		op       = fs.String("op", "put", "put, get (linearizable) or stale (stale get)")
		keys     = fs.Int("keys", 10000, "records written before a read benchmark")
		valSize  = fs.Int("value-size", 100, "value size in bytes")
		embedded = fs.String("embedded", "", "instead of a cluster: a new store directory for db.Open (put only)")
		etcd     = fs.Bool("etcd", false, "the nodes are etcd servers (v3 JSON gateway), for comparison")
	)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *clients < 1 || *duration <= 0 || *keys < 1 {
		return usageError{errors.New("bench: --clients, --duration and --keys must be positive")}
	}
	value := strings.Repeat("v", *valSize)
	var do func(ctx context.Context, client, i int) error
	switch {
	case *embedded != "":
		if *op != "put" {
			return usageError{errors.New("bench: --embedded measures put only")}
		}
		if _, err := os.Stat(*embedded); err == nil {
			return fmt.Errorf("bench: %s exists; --embedded wants a new directory", *embedded)
		}
		d, err := db.Open(*embedded, nil)
		if err != nil {
			return err
		}
		defer d.Close()
		do = func(_ context.Context, client, i int) error {
			k := fmt.Sprintf("bench-c%d-%d", client, i)
			return d.Put([]byte(k), []byte("ix-"+k), []byte(value))
		}
	default:
		list := strings.Split(*addrs, ",")
		if *addrs == "" {
			return usageError{errors.New("bench: --addrs or --embedded is required")}
		}
		c := &cluster.Client{HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients + 4}, Timeout: 30 * time.Second}}
		ok := func(r cluster.Response, err error, want int) error {
			if err != nil {
				return err
			}
			if r.Code != want {
				return fmt.Errorf("HTTP %d: %s", r.Code, strings.TrimSpace(string(r.Raw)))
			}
			return nil
		}
		if *etcd {
			do, err := etcdOp(c, list, *op, *keys, value)
			if err != nil {
				return err
			}
			res := measure(*clients, *duration, do)
			report("etcd-"+*op, *clients, *duration, res)
			return nil
		}
		switch *op {
		case "put":
			do = func(ctx context.Context, client, i int) error {
				k := fmt.Sprintf("bench-c%d-%d", client, i)
				r, err := c.Put(ctx, list[client%len(list)], k, "ix-"+k, value)
				return ok(r, err, http.StatusOK)
			}
		case "get", "stale":
			consistency := map[string]string{"get": "linearizable", "stale": "stale"}[*op]
			if err := preload(c, list[0], *keys, value); err != nil {
				return err
			}
			do = func(ctx context.Context, client, i int) error {
				k := fmt.Sprintf("read-%d", (client*7919+i)%*keys)
				r, err := c.Get(ctx, list[client%len(list)], k, consistency)
				return ok(r, err, http.StatusOK)
			}
		default:
			return usageError{fmt.Errorf("bench: unknown --op %q", *op)}
		}
	}
	res := measure(*clients, *duration, do)
	report(*op, *clients, *duration, res)
	return nil
}

func report(op string, clients int, d time.Duration, res benchResult) {
	fmt.Printf("op=%s clients=%d duration=%s ops=%d errors=%d ops/s=%.0f p50=%s p99=%s max=%s\n",
		op, clients, d, res.ops, res.errors, float64(res.ops)/d.Seconds(),
		res.q(0.5).Round(time.Microsecond), res.q(0.99).Round(time.Microsecond), res.q(1).Round(time.Microsecond))
	if res.firstErr != nil {
		fmt.Printf("first error: %v\n", res.firstErr)
	}
}

// etcdOp returns the same work for etcd's v3 JSON gateway: a put of a new
// key (etcd has no second index, so one key per record), or a read that is
// linearizable (etcd's default) or serializable (stale).
func etcdOp(c *cluster.Client, addrs []string, op string, keys int, value string) (func(ctx context.Context, client, i int) error, error) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	call := func(ctx context.Context, addr, path string, body any) error {
		r, err := c.Do(ctx, http.MethodPost, addr, path, body)
		if err != nil {
			return err
		}
		if r.Code != http.StatusOK {
			return fmt.Errorf("etcd %s: HTTP %d: %s", path, r.Code, strings.TrimSpace(string(r.Raw)))
		}
		return nil
	}
	switch op {
	case "put":
		return func(ctx context.Context, client, i int) error {
			k := fmt.Sprintf("bench-c%d-%d", client, i)
			return call(ctx, addrs[client%len(addrs)], "/v3/kv/put", map[string]string{"key": b64(k), "value": b64(value)})
		}, nil
	case "get", "stale":
		for i := range keys {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := call(ctx, addrs[0], "/v3/kv/put", map[string]string{"key": b64(fmt.Sprintf("read-%d", i)), "value": b64(value)})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("bench: etcd preload: %w", err)
			}
		}
		return func(ctx context.Context, client, i int) error {
			k := fmt.Sprintf("read-%d", (client*7919+i)%keys)
			return call(ctx, addrs[client%len(addrs)], "/v3/kv/range", map[string]any{"key": b64(k), "serializable": op == "stale"})
		}, nil
	}
	return nil, usageError{fmt.Errorf("bench: unknown --op %q", op)}
}

// preload writes the records a read benchmark reads, 500 per transaction.
func preload(c *cluster.Client, addr string, n int, value string) error {
	for start := 0; start < n; start += 500 {
		var ops []cluster.Op
		for i := start; i < min(n, start+500); i++ {
			k := fmt.Sprintf("read-%d", i)
			ops = append(ops, cluster.Op{Op: "put", Key: k, Index: "ix-" + k, Value: value})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r, err := c.Txn(ctx, addr, ops)
		cancel()
		if err != nil {
			return fmt.Errorf("bench: preload: %w", err)
		}
		if r.Code != http.StatusOK {
			return fmt.Errorf("bench: preload: HTTP %d: %s", r.Code, r.Raw)
		}
	}
	return nil
}

type benchResult struct {
	ops, errors int
	lat         []time.Duration
	firstErr    error
}

func (r benchResult) q(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

func measure(clients int, d time.Duration, do func(ctx context.Context, client, i int) error) benchResult {
	var (
		mu  sync.Mutex
		res benchResult
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ops, errs := 0, 0
			var first error
			for i := 0; time.Now().Before(deadline); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				start := time.Now()
				err := do(ctx, c, i)
				cancel()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				ops++
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			res.ops += ops
			res.errors += errs
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(res.lat)
	return res
}
