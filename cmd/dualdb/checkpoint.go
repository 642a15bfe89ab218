package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/spf13/cobra"
)

func newCheckpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint (DIR | URL)",
		Short: "Write a snapshot file of the store now",
		Long: `checkpoint opens the store for writing, writes a snapshot file of its last
version (snap/<version>.dsnap), records it, removes snapshot files beyond the
number kept and truncates the WAL up to the oldest one kept, like the
automatic checkpoints of a running store. It prints the file's version and
size.

An empty store has nothing to write; a store whose newest snapshot file is
already at the last version gets no new one. A store held by a process is
checkpointed by that process (POST /v1/checkpoint).

` + liveHelp,
		Example: `  dualdb checkpoint ./dualdb-demo`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckpoint(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
		},
	}
}

func runCheckpoint(stdout, stderr io.Writer, dir string) (err error) {
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		return ls.checkpoint(stdout, stderr)
	}
	d, err := openStore(dir, false, false, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)
	before := d.Stats().Checkpoints
	v, err := d.Checkpoint()
	if err != nil {
		return wrapErr(err, "checkpoint %s", dir)
	}
	if v == 0 {
		return printCheckpoint(stdout, dir, "", 0, 0, 0)
	}
	st := d.Stats()
	rel := filepath.Join(db.SnapDir, snapshot.FileName(v))
	fi, err := os.Stat(filepath.Join(dir, rel))
	if err != nil {
		return wrapErr(err, "checkpoint %s", dir)
	}
	what := "wrote"
	if st.Checkpoints == before {
		what = "already had"
	}
	return printCheckpoint(stdout, dir, what, v, st.Records, fi.Size())
}

// printCheckpoint prints what checkpoint did: what ("wrote" or "already
// had") the snapshot file of version v, of records records and bytes
// bytes, or for v 0 that the store in dir is empty.
func printCheckpoint[N ~int | ~uint64](w io.Writer, dir, what string, v uint64, records N, bytes int64) error {
	var err error
	if v == 0 {
		_, err = fmt.Fprintf(w, "store %s is empty: no snapshot file to write\n", dir)
		return err
	}
	rel := filepath.Join(db.SnapDir, snapshot.FileName(v))
	_, err = fmt.Fprintf(w, "checkpoint: %s snapshot file %s: version %d, %s, %s (%s bytes)\n",
		what, rel, v, plural(records, "record", "records"), size(bytes), count(bytes))
	return err
}
