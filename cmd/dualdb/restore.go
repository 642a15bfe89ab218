package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
)

func newRestoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE DIR",
		Short: "Create a new store from a backup",
		Long: `restore creates a new store in DIR from FILE, a backup written by
dualdb backup (or any snapshot file of a store). With FILE -, the backup is
read from standard input.

DIR must not exist or must be an empty directory: restore never replaces or
mixes into a store. The backup is checked in full before the store is
created; a damaged or truncated backup is refused and leaves nothing behind.
The new store opens at the backup's version with its records, and keeps the
backup's store id.`,
		Example: `  dualdb restore demo.dsnap ./restored
  ssh host 'cat demo.dsnap' | dualdb restore - ./restored`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.OutOrStdout(), cmd.InOrStdin(), args[0], args[1])
		},
	}
}

func runRestore(stdout io.Writer, stdin io.Reader, file, dir string) error {
	if err := restoreTarget(dir); err != nil {
		return err
	}
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer f.Close() // read only
		if fi, err := f.Stat(); err != nil {
			return fmt.Errorf("restore: %w", err)
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf("restore: %s is not a regular file", file)
		}
		r = f
	}
	if err := db.Restore(dir, r); err != nil {
		return wrapErr(err, "restore %s into %s", file, dir)
	}
	// Prove the new store opens, and say what it holds.
	d, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return wrapErr(err, "restored %s into %s, but the new store does not open", file, dir)
	}
	v, n := d.Version(), d.Snapshot().Len()
	if err := d.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "restore: created store %s from %s: version %d, %s\n", dir, file, v, plural(n, "record", "records"))
	return nil
}

// restoreTarget refuses a DIR that restore must not write into, with a
// message that says what is there.
func restoreTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("restore: %s is a file, not a directory", dir)
		}
		return fmt.Errorf("restore: %w", err)
	case len(entries) == 0:
		return nil
	}
	if _, err := os.Lstat(filepath.Join(dir, db.WALFile)); err == nil {
		return fmt.Errorf("restore: %s already holds a store: restore only creates a new store (give a new or empty directory)", dir)
	}
	var names []string
	for _, e := range entries[:min(len(entries), 5)] {
		names = append(names, e.Name())
	}
	more := ""
	if len(entries) > 5 {
		more = fmt.Sprintf(" and %d more", len(entries)-5)
	}
	return fmt.Errorf("restore: %s is not empty (it holds %s%s): restore only creates a new store (give a new or empty directory)", dir, strings.Join(names, ", "), more)
}
