package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
)

func newWatchCmd() *cobra.Command {
	var from uint64
	c := &cobra.Command{
		Use:   "watch DIR [--from V]",
		Short: "Print the change feed as JSON lines",
		Long: `watch prints every commit after version V (default 0) as one JSON line, in
version order, with its ops in commit order:

  {"version":7,"ops":[{"op":"put","key":"user:7","index":"ada@example.com","value":"{}","record_version":7}]}

A put gives the record written; a delete the record removed, whose
record_version is the commit that had written it. A key, index or value that
is not valid UTF-8 is base64 under "<name>_b64", as in export.

The store must be stopped: watch opens it read-only, prints the changes its
write-ahead log holds after V, and exits. A store held by a running process
is refused (exit 2): following it live needs that process's operator socket.
The log holds the commits after the oldest kept snapshot; if V is older,
watch fails (exit 2) and says where the log starts: load the store's state
(export) and watch from its version. A summary goes to standard error.`,
		Example: `  dualdb watch ./dualdb-demo
  dualdb watch ./dualdb-demo --from 3 | jq -c '.ops[] | {op, key}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd, args[0], from)
		},
	}
	c.Flags().Uint64Var(&from, "from", 0, "print the commits after version `V`")
	return c
}

func runWatch(cmd *cobra.Command, dir string, from uint64) (err error) {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	d, err := openStore(dir, true, false, stderr)
	if errors.Is(err, db.ErrLocked) {
		return userErr(err, "store %s is held by a running process: watching it live needs that process's "+
			"operator socket, which this build does not serve; stop the process to read the feed from its log", dir)
	}
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
