package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dualdb/dualdb/cluster"
)

// Measurements for docs/cluster.md, run by hand:
//
//	DUALDB_MEASURE=1 go test -run TestMeasure -v -timeout 30m .
//
// They report times; they assert only that the cluster recovers.

func measureOn(t *testing.T) {
	if os.Getenv("DUALDB_MEASURE") == "" {
		t.Skip("set DUALDB_MEASURE=1 to run the measurements")
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// TestMeasure_Failover: time from kill -9 of the leader to the first write
// acknowledged through a surviving node, with dualdbd's default timeouts.
func TestMeasure_Failover(t *testing.T) {
	measureOn(t)
	procRaftTimeout = cluster.DefaultElectionTimeout.String()
	defer func() { procRaftTimeout = "300ms" }()
	pc := newProcCluster(t, 3)
	var took []time.Duration
	for round := range 7 {
		l := pc.waitLeader(pc.running())
		var rest []*procNode
		for _, pn := range pc.nodes {
			if pn != l {
				rest = append(rest, pn)
			}
		}
		killed := time.Now()
		pc.kill9(l)
		var first time.Duration
		for i := 0; first == 0; i++ {
			if time.Since(killed) > time.Minute {
				t.Fatal("no write acknowledged within a minute of the kill")
			}
			ctx, cancel := context.WithTimeout(bg, 2*time.Second)
			k := fmt.Sprintf("f%d-%d", round, i)
			r, err := pc.c.Put(ctx, rest[i%2].httpAddr, k, "ix-"+k, "v")
			cancel()
			if err == nil && r.Code == http.StatusOK {
				first = time.Since(killed)
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}
		took = append(took, first)
		t.Logf("round %d: killed %s, first acknowledged write after %s", round, l.id, first.Round(time.Millisecond))
		pc.start(l)
		pc.waitConverged(60 * time.Second)
	}
	t.Logf("failover (raft timeout %s): median %s, min %s, max %s over %d kills", procRaftTimeout,
		median(took).Round(time.Millisecond), slices.Min(took).Round(time.Millisecond), slices.Max(took).Round(time.Millisecond), len(took))
}

// TestMeasure_CatchUp: a follower is killed, 100,000 records (100-byte
// values, 1,000 commands of 100) are written, and the follower restarted;
// the time from its restart to an equal state hash is reported, with the
// default snapshot settings (it replays the log) and with a short log
// (it must install the leader's snapshot).
func TestMeasure_CatchUp(t *testing.T) {
	measureOn(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"log replay (defaults)", nil},
		{"snapshot install (--snapshot-threshold 256 --trailing-logs 64 --snapshot-interval 1s)",
			[]string{"--snapshot-threshold", "256", "--trailing-logs", "64", "--snapshot-interval", "1s"}},
	} {
		procFlags = tc.flags
		pc := newProcCluster(t, 3)
		procFlags = nil
		l := pc.waitLeader(pc.running())
		var f *procNode
		for _, pn := range pc.nodes {
			if pn != l {
				f = pn
			}
		}
		pc.kill9(f)
		value := string(make([]byte, 100))
		for b := range 1000 {
			var ops []cluster.Op
			for i := range 100 {
				k := fmt.Sprintf("c%04d-%03d", b, i)
				ops = append(ops, cluster.Op{Op: "put", Key: k, Index: "ix-" + k, Value: value})
			}
			r, err := pc.c.Txn(bg, l.httpAddr, ops)
			if err != nil || r.Code != 200 {
				t.Fatalf("txn %d: %d %s %v", b, r.Code, r.Raw, err)
			}
		}
		if len(tc.flags) > 0 {
			time.Sleep(3 * time.Second) // let the leader take its snapshot (checked every second)
		}
		want, err := pc.c.Status(bg, l.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pc.start(f)
		var st cluster.Status
		waitFor(t, 5*time.Minute, f.id+" to catch up", func() error {
			st, err = pc.c.Status(bg, f.httpAddr)
			if err != nil {
				return err
			}
			if st.StateHash != want.StateHash {
				return fmt.Errorf("at version %d of %d", st.AppliedVersion, want.AppliedVersion)
			}
			return nil
		})
		t.Logf("%s: %d records, restarted follower equal after %s (snapshot restores: %d)",
			tc.name, want.Records, time.Since(start).Round(time.Millisecond), st.Restores)
		pc.stopAll()
	}
}
