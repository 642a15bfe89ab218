package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newRepairCmd() *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "repair DIR",
		Short: "Rebuild a lost or damaged wal.db from the newest snapshot that verifies",
		Long: `repair mends a store whose wal.db is missing, empty, truncated or otherwise
damaged, which Open refuses with a corruption error. It rebuilds wal.db from
the newest snapshot in snap/ that passes every check, keeping the store id
that snapshot carries and listing every snapshot that verifies.

It first prints exactly what it will do and which versions are lost: every
version after that snapshot that only the damaged wal.db held. The damaged
wal.db is kept as wal.db.damaged-<time>, and a newer snapshot that fails its
check as <name>.damaged-<time>; repair deletes nothing. Options fixed at
creation (maximum key and value sizes) are not in a snapshot: the rebuilt
store has the defaults.

repair writes only with --yes, or after a "yes" typed on a terminal; without
--yes and without a terminal it refuses. It is never run automatically. It
refuses a store that opens (nothing to repair), a store held by another
process, and damage that is not in wal.db. Afterwards it runs verify.

Exit codes: 0 repaired and verified, 1 repaired but verify has findings,
2 nothing done (refused, not confirmed, or an error).`,
		Example: `  dualdb repair ./dualdb-demo          # print the plan, ask on a terminal
  dualdb repair ./dualdb-demo --yes    # print the plan and carry it out`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd.InOrStdin(), cmd.OutOrStdout(), args[0], yes)
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "carry out the plan without asking")
	return c
}

// errNotConfirmed is returned when repair was not confirmed.
var errNotConfirmed = errors.New("not confirmed")

func runRepair(stdin io.Reader, stdout io.Writer, dir string, yes bool) error {
	if err := requireDir(dir); err != nil {
		return err
	}
	plan, err := db.PlanRepair(dir)
	switch {
	case errors.Is(err, db.ErrNoRepair):
		return err // says why, naming the store
	case errors.Is(err, db.ErrLocked), errors.Is(err, db.ErrNotStore):
		return openErr(dir, err)
	case err != nil:
		return wrapErr(err, "repair %s", dir)
	}
	printPlan(stdout, plan)
	if !yes {
		f, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return userErr(errNotConfirmed, "repair %s: nothing done: run again with --yes to carry out this plan (standard input is not a terminal to ask on)", dir)
		}
		fmt.Fprint(stdout, "Carry out this plan? Type yes to go on: ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return userErr(errNotConfirmed, "repair %s: nothing done (not confirmed)", dir)
		}
	}
	if err := db.Repair(plan); err != nil {
		return wrapErr(err, "repair %s", dir)
	}
	fmt.Fprintf(stdout, "repaired %s: wal.db rebuilt from snapshot version %d; %s\n", dir, plan.SnapshotVersion, plan.Lost())
	rep, err := db.Verify(dir, nil)
	if err != nil {
		return openErr(dir, err)
	}
	if err := printVerify(stdout, rep, dir, false, 0); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		return errFindings
	}
	return nil
}

// printPlan prints what repair will do.
func printPlan(w io.Writer, p *db.RepairPlan) {
	fmt.Fprintf(w, "repair %s\n", p.Dir)
	fmt.Fprintf(w, "  problem: %s\n", p.Problem)
	fmt.Fprintf(w, "  rebuild from: %s (version %d, %s)\n", relTo(p.Dir, p.Snapshot), p.SnapshotVersion, plural(p.Records, "record", "records"))
	fmt.Fprintf(w, "  steps:\n")
	for i, s := range p.Steps() {
		fmt.Fprintf(w, "    %d. %s\n", i+1, s)
	}
	fmt.Fprintf(w, "  lost: %s\n", p.Lost())
}

// requireDir checks that dir is an existing directory; what is in it is
// for the db package to judge (a damaged store must be described, not
// called "not a store").
func requireDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return userErr(err, "%s: no such directory", dir)
	case err != nil:
		return wrapErr(err, "%s", dir)
	case !st.IsDir():
		return userErr(fs.ErrInvalid, "%s is not a directory", dir)
	}
	return nil
}
