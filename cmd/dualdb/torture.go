package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/dualdb/dualdb/internal/crashtest"
	"github.com/spf13/cobra"
)

type tortureFlags struct {
	cycles   int
	writers  int
	seed     uint64
	maxKill  time.Duration
	ballast  int
	keep     bool
	asJSON   bool
	verbose  bool
	child    bool // hidden: run as the crash child (set by the parent)
	lieAck   bool // hidden: a child that acknowledges before it commits, to test the harness
	noSync   bool // hidden: run the child with NoSync, to test a rig
	failFast bool
}

func newTortureCmd() *cobra.Command {
	var o tortureFlags
	c := &cobra.Command{
		Use:   "torture DIR",
		Short: "Kill a writing process over and over and check that no acknowledged commit is lost",
		Long: `torture tests dualdb on your disk and file system. It starts a child process
(this binary) that opens a store in DIR and writes concurrently — single
puts, deletes, multi-record transactions that move index keys between
records — while checkpoints are taken on a short interval. Every commit is
reported to the parent the moment it is acknowledged. The parent kills the
child with SIGKILL at random moments (also while it opens and recovers the
store, and while it writes a checkpoint), reopens the store and checks:

  - every acknowledged commit is there with its value (else: lost);
  - no transaction is partly applied (else: partial);
  - the version is exactly the number of commits (contiguous versions);
  - the invariants hold and verify finds nothing.

SIGKILL tests the process, not the disk: data in the page cache survives it.
To test power loss, cut the power (or the VM) while torture runs and run
torture again on the same DIR afterwards; a disk or file system that lies
about fsync then shows up as lost acknowledged commits.

DIR must be empty or not exist; torture creates stores named store-NNN in
it and removes them at the end unless --keep is given or something was
found (DIR itself stays).

Exit codes: 0 nothing lost, 1 findings (lost or partial commits, broken
invariants), 2 usage or I/O error.`,
		Example: `  dualdb torture /mnt/ssd/torture --cycles 200
  dualdb torture ./t --cycles 1000 --writers 8 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.child {
				return nil
			}
			if len(args) != 1 {
				return usageErr("usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.child {
				if os.Getenv(crashtest.ChildEnv) == "" {
					return usageErr("--child is for the torture parent only")
				}
				crashtest.RunChildFromEnv() // exits
				return nil
			}
			if o.cycles <= 0 {
				return usageErr("--cycles must be positive")
			}
			if o.writers <= 0 || o.writers > 64 {
				return usageErr("--writers must be between 1 and 64")
			}
			return runTorture(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.cycles, "cycles", 100, "kill-and-check `N` times")
	f.IntVar(&o.writers, "writers", 4, "concurrent writers in the child")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the kill schedule and the workload (0: from the clock)")
	f.DurationVar(&o.maxKill, "max-kill", 500*time.Millisecond, "latest random kill after the child starts")
	f.IntVar(&o.ballast, "ballast", 10000, "static records that make Open and checkpoints take longer (-1: none)")
	f.BoolVar(&o.keep, "keep", false, "keep the stores after the run")
	f.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print every finding and a line per cycle on standard error")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first cycle with findings")
	f.BoolVar(&o.child, "child", false, "run as the crash child")
	f.BoolVar(&o.lieAck, "self-test-lie", false, "make the child acknowledge before committing (the run must fail)")
	f.BoolVar(&o.noSync, "self-test-nosync", false, "run the child with NoSync")
	for _, h := range []string{"child", "self-test-lie", "self-test-nosync"} {
		_ = f.MarkHidden(h)
	}
	return c
}

// tortureJSON is the --json summary; its field names are part of the
// CLI's interface.
type tortureJSON struct {
	Dir               string   `json:"dir"`
	Seed              uint64   `json:"seed"`
	Cycles            int      `json:"cycles"`
	Writers           int      `json:"writers"`
	Stores            int      `json:"stores"`
	Acknowledged      int      `json:"commits_acknowledged"`
	Versioned         int      `json:"commits_versioned"`
	Refused           int      `json:"refused"`
	Unknown           int      `json:"unknown_outcome"`
	InFlightApplied   int      `json:"in_flight_applied"`
	InFlightDropped   int      `json:"in_flight_not_applied"`
	Lost              int      `json:"lost"`
	Partial           int      `json:"partial"`
	WrongResults      int      `json:"wrong_results"`
	Invariant         int      `json:"invariant_findings"`
	VersionMismatch   int      `json:"version_mismatches"`
	OpenFailures      int      `json:"open_failures"`
	KillsInOpen       int      `json:"kills_in_open"`
	KillsInFirstOpen  int      `json:"kills_in_first_open"`
	KillsInCheckpoint int      `json:"kills_in_checkpoint"`
	KillsWhileWriting int      `json:"kills_while_writing"`
	Checkpoints       int      `json:"checkpoints"`
	Seconds           float64  `json:"seconds"`
	OK                bool     `json:"ok"`
	Findings          []string `json:"findings,omitempty"`
}

func runTorture(stdout, stderr io.Writer, dir string, o tortureFlags) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return userErr(nil, "%s is not empty: torture needs an empty or new directory of its own", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return userErr(err, "%s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return userErr(err, "create %s: %v", dir, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to re-execute it: %w", err)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	h := &crashtest.Harness{
		Base:    dir,
		Cfg:     crashtest.Config{Writers: o.writers, Ballast: o.ballast, LieAck: o.lieAck, NoSync: o.noSync},
		Command: func() *exec.Cmd { return exec.Command(exe, "torture", "--child") },
		Rand:    rand.New(rand.NewPCG(o.seed, 0x746f727475726521)),
		MaxKill: o.maxKill,
		Vary:    true,
	}
	if o.verbose {
		h.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	var findings []string
	start := time.Now()
	for i := range o.cycles {
		f, err := h.Cycle(crashtest.Schedule(i))
		if err != nil {
			return fmt.Errorf("cycle %d: %w", i+1, err)
		}
		findings = append(findings, f...)
		if o.verbose {
			fmt.Fprintf(stderr, "cycle %d/%d: %d acknowledged so far, %d findings\n", i+1, o.cycles, h.Totals.Acked, len(findings))
		}
		if o.failFast && len(f) > 0 {
			break
		}
	}
	t := h.Totals
	ok := t.Findings() == 0 && len(findings) == 0
	if ok && !o.keep {
		// Remove the stores, not DIR: it may be a mount point.
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				fmt.Fprintf(stderr, "dualdb: remove %s: %v\n", e.Name(), err)
			}
		}
	}
	if o.asJSON {
		js := tortureJSON{
			Dir: dir, Seed: o.seed, Cycles: t.Cycles, Writers: o.writers, Stores: t.Stores,
			Acknowledged: t.Acked, Versioned: t.Commits, Refused: t.Refused, Unknown: t.Unknown,
			InFlightApplied: t.InFlightApplied, InFlightDropped: t.InFlightDropped,
			Lost: t.Lost, Partial: t.Partial, WrongResults: t.WrongResults, Invariant: t.Invariant,
			VersionMismatch: t.VersionMismatch, OpenFailures: t.ChildOpenFailures + t.Unopenable,
			KillsInOpen: t.KillsInOpen, KillsInFirstOpen: t.KillsInFirstOpen, KillsInCheckpoint: t.KillsInCheckpoint, KillsWhileWriting: t.KillsWhileWriting,
			Checkpoints: t.Checkpoints, Seconds: time.Since(start).Seconds(), OK: ok, Findings: findings,
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(js); err != nil {
			return err
		}
	} else {
		w := func(name string, format string, args ...any) {
			fmt.Fprintf(stdout, "%-22s %s\n", name, fmt.Sprintf(format, args...))
		}
		w("dir", "%s", dir)
		w("seed", "%d", o.seed)
		w("cycles", "%d (%d stores, %d writers, %s)", t.Cycles, t.Stores, o.writers, time.Since(start).Round(time.Second))
		w("commits acknowledged", "%d (%d took a version)", t.Acked, t.Commits)
		w("refused as expected", "%d (conflict, not found, aborted)", t.Refused)
		w("in flight at a cut", "%d applied, %d not applied (both allowed)", t.InFlightApplied, t.InFlightDropped)
		w("cuts", "%d in Open (%d in the first Open of a new store), %d in a checkpoint, %d while writing",
			t.KillsInOpen, t.KillsInFirstOpen, t.KillsInCheckpoint, t.KillsWhileWriting)
		w("checkpoints", "%d explicit ones completed", t.Checkpoints)
		w("lost", "%d", t.Lost)
		w("partial", "%d", t.Partial)
		w("wrong results", "%d", t.WrongResults)
		w("invariant findings", "%d", t.Invariant)
		w("version mismatches", "%d", t.VersionMismatch)
		w("open failures", "%d", t.ChildOpenFailures+t.Unopenable)
		if ok {
			w("result", "OK: nothing acknowledged was lost")
		} else {
			w("result", "FAILED: %d findings; the stores are kept in %s", len(findings), dir)
			for i, f := range findings {
				if i == 50 {
					fmt.Fprintf(stdout, "  ... and %d more (-v prints them all as they come)\n", len(findings)-i)
					break
				}
				fmt.Fprintf(stdout, "  %s\n", f)
			}
		}
	}
	if !ok {
		return errFindings
	}
	return nil
}
