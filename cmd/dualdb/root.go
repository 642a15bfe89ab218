package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes, documented in `dualdb --help`.
const (
	exitOK       = 0 // success
	exitFindings = 1 // a check found a defect (verify, stress, torture)
	exitError    = 2 // usage or I/O error
)

// errFindings makes a command exit 1 after it has printed its findings.
var errFindings = errors.New("findings")

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "dualdb",
		Short: "Inspect, verify and exercise dualdb stores",
		Long: `dualdb works with dualdb stores: embedded, persistent Go stores whose
records carry a primary key and a unique index key.

Exit codes:
  0  ok
  1  findings: a check found a defect (verify, stress, torture)
  2  usage or I/O error (bad flags, missing store, store locked by another process)`,
		Version:       buildVersion(debug.ReadBuildInfo()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Every subcommand, one file each. A command is added here and nowhere
	// else: reading this list tells what the binary can do.
	root.AddCommand(
		newDemoCmd(),
		newInspectCmd(),
		newVerifyCmd(),
		newGetCmd(),
		newScanCmd(),
		newExportCmd(),
		newImportCmd(),
		newCheckpointCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newRepairCmd(),
		newWatchCmd(),
		newStressCmd(),
		newTortureCmd(),
		newVersionCmd(),
	)
	return root
}

// run executes the CLI with args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context that commands which wait (watch
// --follow) end on, as they end on an interrupt.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	default:
		fmt.Fprintln(stderr, errLine(err))
		return exitError
	}
}
