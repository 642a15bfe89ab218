package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export (DIR | URL) [-o FILE]",
		Short: "Write every record as JSON lines, in key order",
		Long: `export writes every record of the store, read at one version, as JSON lines
in ascending primary-key order, to standard output or to FILE:

  {"key":"user:0000000001","index":"ada@example.com","value":"{\"id\":1}"}

A field that is valid UTF-8 is a JSON string; any other is base64 (standard
alphabet, padded) under the name with "_b64" appended, e.g. "value_b64", so
any bytes survive. The output is deterministic: a store's records always give
the same file, and export, import into a new store, export again gives an
identical file. The store is opened read-only.

With -o, the file is written under a temporary name and renamed when
complete, so an export that fails leaves no partial FILE.

` + liveHelp,
		Example: `  dualdb export ./dualdb-demo -o users.jsonl
  dualdb export ./dualdb-demo | head -3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], out)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to `FILE` instead of standard output")
	return c
}

func runExport(stdout, stderr io.Writer, dir, out string) (err error) {
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		return ls.export(stdout, stderr, out)
	}
	d, err := openStore(dir, true, false, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)
	s := d.Snapshot()
	if out == "" || out == "-" {
		_, err := exportTo(stdout, s)
		return err
	}
	n, err := writeFileAtomic(out, func(w io.Writer) (int, error) { return exportTo(w, s) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s at version %d to %s\n", plural(n, "record", "records"), s.Version(), out)
	return nil
}

// exportTo writes the records of s to w and returns how many.
func exportTo(w io.Writer, s *db.Snapshot) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	n := 0
	for r := range s.Ascend(nil, nil) {
		line = append(jsonl.AppendRecord(line[:0], r.Key, r.Index, r.Value), '\n')
		if _, err := bw.Write(line); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

// writeFileAtomic writes path through fn: to a temporary file in the same
// directory that is synced, closed and renamed to path when fn succeeds,
// and removed when anything fails.
func writeFileAtomic(path string, fn func(io.Writer) (int, error)) (n int, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		// The temporary name is random; the user knows only path.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return 0, userErr(err, "create %s: %v", path, pe.Err)
		}
		return 0, wrapErr(err, "create %s", path)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // already failing; the file is removed
			if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if n, err = fn(f); err != nil {
		return n, wrapErr(err, "write %s", f.Name())
	}
	if err := f.Sync(); err != nil {
		return n, wrapErr(err, "sync %s", f.Name())
	}
	if err := f.Close(); err != nil {
		return n, wrapErr(err, "close %s", f.Name())
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return n, wrapErr(err, "rename %s", f.Name())
	}
	return n, nil
}
