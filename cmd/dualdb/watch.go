package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
)

func newWatchCmd() *cobra.Command {
	var from uint64
	var follow bool
	c := &cobra.Command{
		Use:   "watch DIR|URL [--from V] [--follow]",
		Short: "Print the change feed as JSON lines",
		Long: `watch prints every commit after version V (default 0) as one JSON line, in
version order, with its ops in commit order:

  {"version":7,"ops":[{"op":"put","key":"user:7","index":"ada@example.com","value":"{}","record_version":7}]}

A put gives the record written; a delete the record removed, whose
record_version is the commit that had written it. A key, index or value that
is not valid UTF-8 is base64 under "<name>_b64", as in export.

watch prints the commits after V up to the store's version when it starts,
and exits; with --follow it goes on printing each new commit as it becomes
durable, until interrupted. A store held by a running process is read
through that process's operator socket (or DIR may be the URL of a handler
the application mounts), with one line on standard error saying so; a
stopped store is read from its write-ahead log, and there is nothing to
follow. The log holds the commits after the oldest kept snapshot file; if V
is older, watch fails (exit 2) and says so: load the store's state (export)
and watch from its version. A summary goes to standard error.`,
		Example: `  dualdb watch ./dualdb-demo
  dualdb watch ./dualdb-demo --from 3 | jq -c '.ops[] | {op, key}'
  dualdb watch ./app-store --follow          # while the application runs`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd, args[0], from, follow)
		},
	}
	c.Flags().Uint64Var(&from, "from", 0, "print the commits after version `V`")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new commits of a running store until interrupted")
	return c
}

func runWatch(cmd *cobra.Command, dir string, from uint64, follow bool) (err error) {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return ls.watch(ctx, stdout, stderr, from, follow)
	}
	if follow {
		return userErr(nil, "watch --follow: no process holds %s (its operator socket does not answer), so no commit can come; "+
			"without --follow, watch prints what its log holds", dir)
	}
	d, err := openStore(dir, true, false, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)
	last := d.Version()
	if from >= last {
		fmt.Fprintf(stderr, "watch %s: no commits after version %d (the store is at version %d)\n", dir, from, last)
		return nil
	}
	n, err := writeChanges(stdout, d, from, last)
	if errors.Is(err, db.ErrCompacted) {
		st := d.Stats()
		return userErr(err, "the log of %s no longer holds version %d: it starts at version %d. "+
			"Load the store's state (dualdb export, at version %d) and watch --from that version",
			dir, from+1, st.WALFirst, last)
	}
	if err != nil {
		return wrapErr(err, "watch %s", dir)
	}
	fmt.Fprintf(stderr, "watch %s: %s, versions %d-%d\n", dir, plural(n, "commit", "commits"), from+1, last)
	return nil
}

// writeChanges writes the changes after version from up to last as JSON
// lines and returns how many it wrote.
func writeChanges(w io.Writer, d *db.DB, from, last uint64) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	var line []byte
	for c, err := range d.Changes(context.Background(), from) {
		if err != nil {
			return n, err
		}
		line = db.AppendChangeJSON(line[:0], c)
		if _, err := bw.Write(line); err != nil {
			return n, err
		}
		n++
		if c.Version >= last {
			break
		}
	}
	return n, bw.Flush()
}

// watch prints the change feed of the live store after version from: up
// to the version the process is at when it answers, or, with follow, on
// until ctx ends (an interrupt), which is a normal end. A bounded answer
// must end at the version it names, so a feed cut short is an error, never
// taken for a whole one.
func (ls *liveStore) watch(ctx context.Context, stdout, stderr io.Writer, from uint64, follow bool) error {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := ls.do(ctx, http.MethodGet, "/v1/changes", q)
	if err != nil {
		var he *liveHTTPError
		if errors.As(err, &he) && he.Code == http.StatusGone {
			return userErr(err, "the log of %s no longer holds version %d (%s). "+
				"Load the store's state (dualdb export) and watch --from its version", ls.dir, from+1, he.Message)
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	last, err := ls.version(resp)
	if err != nil {
		return err
	}
	ls.announce(stderr, last)
	if !follow && from >= last {
		fmt.Fprintf(stderr, "watch %s: no commits after version %d (the store is at version %d)\n", ls.dir, from, last)
		return nil
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<30) // a line holds a whole commit
	n, seen := 0, from
	for sc.Scan() {
		var head struct {
			Version uint64 `json:"version"`
		}
		if err := json.Unmarshal(sc.Bytes(), &head); err != nil || head.Version != seen+1 {
			return fmt.Errorf("%s/v1/changes: line %d is not the change of version %d: %s", ls.via, n+1, seen+1, excerpt(sc.Bytes()))
		}
		if _, err := stdout.Write(append(sc.Bytes(), '\n')); err != nil {
			return err
		}
		n, seen = n+1, head.Version
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%s/v1/changes: the feed was cut after version %d: %w", ls.via, seen, err)
	}
	if !follow && seen != last {
		return fmt.Errorf("%s/v1/changes: the feed ended at version %d, before the version %d it names: it is incomplete", ls.via, seen, last)
	}
	if n == 0 {
		fmt.Fprintf(stderr, "watch %s: no commits after version %d\n", ls.dir, from)
		return nil
	}
	fmt.Fprintf(stderr, "watch %s: %s, versions %d-%d\n", ls.dir, plural(n, "commit", "commits"), from+1, seen)
	return nil
}
