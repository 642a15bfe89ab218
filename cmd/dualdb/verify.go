package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
)

type verifyFlags struct {
	snapshot    string
	asJSON      bool
	maxFindings int
}

func newVerifyCmd() *cobra.Command {
	var o verifyFlags
	c := &cobra.Command{
		Use:   "verify (DIR | URL | --snapshot FILE)",
		Short: "Check every file of a store and the invariants; exit 1 on findings",
		Long: `verify checks the store in DIR without writing anything: every snapshot
(checksums, record order and count, store id, unique index keys), every WAL
record (checksum, contiguous versions, reaching back to a kept snapshot),
then rebuilds the store as Open does and checks the invariants (order of
both indexes, the bijection between them, equal counts).

Each finding is printed with its file, its position (a byte offset or a
version) and the kind of check that failed, then a summary. With --snapshot,
one snapshot file is checked on its own, with no store around it.

A progress bar is shown on standard error for large stores when it is a
terminal.

Exit codes: 0 no findings, 1 findings, 2 the check could not run (no such
store, store locked by a writer that serves no operator socket, bad flags).

A store held by a process is checked by that process, without a lock: the
invariants of its current version in memory, every kept snapshot file and
every WAL record.

` + liveHelp,
		Example: `  dualdb verify ./dualdb-demo
  dualdb verify ./dualdb-demo --json
  dualdb verify --snapshot ./dualdb-demo/snap/00000000000000000101.dsnap`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.snapshot != "" && len(args) == 0, o.snapshot == "" && len(args) == 1:
				return nil
			case o.snapshot != "":
				return usageErr("verify takes a DIR or --snapshot FILE, not both")
			default:
				return usageErr("usage: %s", cmd.UseLine())
			}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.maxFindings < 0 {
				return usageErr("--max-findings must not be negative")
			}
			target := o.snapshot
			if target == "" {
				target = args[0]
			}
			return runVerify(cmd.OutOrStdout(), cmd.ErrOrStderr(), target, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.snapshot, "snapshot", "", "check the single snapshot `FILE`")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	f.IntVar(&o.maxFindings, "max-findings", 0, "stop after `N` findings (0: 1000)")
	return c
}

// verifyJSON is the --json output of verify; its field names are part of
// the CLI's interface.
type verifyJSON struct {
	Dir        string        `json:"dir,omitempty"`
	Snapshot   string        `json:"snapshot,omitempty"`
	OK         bool          `json:"ok"`
	Loaded     bool          `json:"loaded"` // the state could be rebuilt, as Open would
	Version    uint64        `json:"version"`
	Records    int           `json:"records"`
	Snapshots  int           `json:"snapshots"`
	WALRecords int           `json:"wal_records"`
	Findings   []findingJSON `json:"findings"`
}

type findingJSON struct {
	File    string  `json:"file"`
	Offset  *int64  `json:"offset,omitempty"`  // absent if the position is not a byte offset
	Version *uint64 `json:"version,omitempty"` // absent if no version is concerned
	Check   string  `json:"check"`
	Reason  string  `json:"reason"`
}

func runVerify(stdout, stderr io.Writer, target string, o verifyFlags) error {
	if o.snapshot == "" {
		if ls, err := findLive(target, stderr); err != nil {
			return err
		} else if ls != nil {
			return ls.verify(stdout, stderr, target, o)
		}
	}
	bar := newProgress(stderr, "checking files", false, 300*time.Millisecond)
	if bar != nil && o.snapshot == "" {
		bar.then = "loading the store to check invariants"
	}
	opts := &db.VerifyOptions{Progress: bar.set, MaxFindings: o.maxFindings}
	var (
		rep *db.VerifyReport
		err error
	)
	if o.snapshot != "" {
		if _, err := os.Stat(target); err != nil {
			return wrapErr(err, "verify")
		}
		rep, err = db.VerifySnapshot(target, opts)
	} else {
		if err := requireDir(target); err != nil {
			return err
		}
		rep, err = db.Verify(target, opts)
	}
	bar.finish()
	if err != nil {
		return openErr(target, err)
	}
	if o.asJSON {
		if err := writeJSON(stdout, toVerifyJSON(rep, o.snapshot != "")); err != nil {
			return err
		}
	} else if err := printVerify(stdout, rep, target, o.snapshot != "", opts.MaxFindings); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		return errFindings
	}
	return nil
}

func toVerifyJSON(rep *db.VerifyReport, single bool) verifyJSON {
	out := verifyJSON{OK: len(rep.Findings) == 0, Loaded: rep.Loaded, Version: rep.Version, Records: rep.Records,
		Snapshots: rep.Snapshots, WALRecords: rep.WALRecords, Findings: []findingJSON{}}
	if single {
		out.Snapshot = rep.Dir
	} else {
		out.Dir = rep.Dir
	}
	for _, f := range rep.Findings {
		fj := findingJSON{File: f.File, Check: f.Check, Reason: f.Reason}
		if f.Offset >= 0 {
			fj.Offset = &f.Offset
		}
		if f.Version != 0 {
			fj.Version = &f.Version
		}
		out.Findings = append(out.Findings, fj)
	}
	return out
}

// position returns a finding's position for a human.
func position(f db.Finding) string {
	switch {
	case f.Offset >= 0 && f.Version != 0:
		return fmt.Sprintf("offset %d (version %d)", f.Offset, f.Version)
	case f.Offset >= 0:
		return fmt.Sprintf("offset %d", f.Offset)
	case f.Version != 0:
		return fmt.Sprintf("version %d", f.Version)
	default:
		return ""
	}
}

// printVerify prints each finding and a summary. In the report of a
// single snapshot, rep.Dir is the file's directory.
func printVerify(w io.Writer, rep *db.VerifyReport, target string, single bool, maxFindings int) error {
	for _, f := range rep.Findings {
		file := relTo(rep.Dir, f.File)
		if single || file == "." {
			file = f.File
		}
		if pos := position(f); pos != "" {
			file += ": " + pos
		}
		if _, err := fmt.Fprintf(w, "%s: %s: %s\n", file, f.Check, f.Reason); err != nil {
			return err
		}
	}
	if !single && !rep.Loaded && repairable(target) {
		if _, err := fmt.Fprintf(w, "wal.db is lost or damaged: `dualdb repair %s` prints how it would rebuild it from the newest snapshot that verifies\n", target); err != nil {
			return err
		}
	}
	if maxFindings == 0 {
		maxFindings = 1000
	}
	var checked string
	if single {
		checked = fmt.Sprintf("snapshot file of version %d, %s", rep.Version, plural(rep.Records, "record", "records"))
	} else {
		// Verify rebuilds the store as Open does; when that fails, the
		// report's version and count are those of nothing.
		state := fmt.Sprintf("version %d, %s", rep.Version, plural(rep.Records, "record", "records"))
		if !rep.Loaded {
			state = "the store does not load"
		}
		checked = fmt.Sprintf("%s; checked %s and %s", state,
			plural(rep.Snapshots, "snapshot", "snapshots"), plural(rep.WALRecords, "WAL record", "WAL records"))
	}
	var err error
	switch n := len(rep.Findings); {
	case n == 0:
		_, err = fmt.Fprintf(w, "verify %s: ok, no findings (%s)\n", target, checked)
	case n >= maxFindings:
		_, err = fmt.Fprintf(w, "verify %s: %s, stopped at --max-findings (%s)\n", target, plural(n, "finding", "findings"), checked)
	default:
		_, err = fmt.Fprintf(w, "verify %s: %s (%s)\n", target, plural(n, "finding", "findings"), checked)
	}
	return err
}

// repairable reports whether `dualdb repair` has a plan for the store in
// dir (planning writes nothing).
func repairable(dir string) bool {
	_, err := db.PlanRepair(dir)
	return err == nil
}
