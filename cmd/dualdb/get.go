package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/spf13/cobra"
)

func newGetCmd() *cobra.Command {
	var (
		index    string
		asJSON   bool
		b64      bool
		hasIndex bool
	)
	c := &cobra.Command{
		Use:   "get (DIR | URL) (KEY | --index IDX)",
		Short: "Print the record with a key or an index key",
		Long: `get prints the record with primary key KEY, or with index key IDX.

The store is opened read-only. Fields that are not plain UTF-8 text are
printed Go-escaped in double quotes; --json prints the record as one line of
the export format (a field that is not valid UTF-8 is base64 under
"<name>_b64"). With --base64, KEY or IDX is given base64-encoded, for keys
that cannot be typed.

Exits 1 if no record has the key, 2 on a usage or I/O error (such as a
missing store).

` + liveHelp,
		Example: `  dualdb get ./dualdb-demo user:0000000001
  dualdb get ./dualdb-demo --index ada.lovelace1@example.com --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			hasIndex = cmd.Flags().Changed("index")
			switch {
			case len(args) == 2 && !hasIndex, len(args) == 1 && hasIndex:
				return nil
			case len(args) == 2 && hasIndex:
				return usageErr("get takes a KEY or --index, not both")
			default:
				return usageErr("usage: %s", cmd.UseLine())
			}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			what, arg := "key", ""
			if hasIndex {
				what, arg = "index key", index
			} else {
				arg = args[1]
			}
			q := []byte(arg)
			if b64 {
				var err error
				if q, err = base64.StdEncoding.DecodeString(arg); err != nil {
					return usageErr("--base64: %s %q is not base64: %v", what, arg, err)
				}
			}
			return runGet(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], q, hasIndex, asJSON)
		},
	}
	c.Flags().StringVar(&index, "index", "", "look the record up by its index key `IDX`")
	c.Flags().BoolVar(&asJSON, "json", false, "print the record as a JSON line (the export format)")
	c.Flags().BoolVar(&b64, "base64", false, "KEY or IDX is base64-encoded")
	return c
}

func runGet(stdout, stderr io.Writer, dir string, q []byte, byIndex, asJSON bool) (err error) {
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		return ls.get(stdout, stderr, q, byIndex, asJSON)
	}
	d, err := openStore(dir, true, false, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)
	var r db.Record
	if byIndex {
		r, err = d.GetByIndex(q)
	} else {
		r, err = d.Get(q)
	}
	if errors.Is(err, db.ErrNotFound) {
		what := "key"
		if byIndex {
			what = "index key"
		}
		// A finding, not a failure: the store was read, the key is not there.
		s, _ := show(q)
		fmt.Fprintf(stderr, "dualdb: no record has %s %s (store version %d)\n", what, s, d.Version())
		return errFindings
	}
	if err != nil {
		return wrapErr(err, "get")
	}
	if asJSON {
		_, err = stdout.Write(append(jsonl.AppendRecord(nil, r.Key, r.Index, r.Value), '\n'))
		return err
	}
	return printRecord(stdout, r)
}

// printRecord prints r for a human, one field a line.
func printRecord(w io.Writer, r db.Record) error {
	anyEscaped := false
	for _, f := range []struct {
		name string
		v    []byte
	}{{"key", r.Key}, {"index", r.Index}, {"value", r.Value}} {
		s, esc := show(f.v)
		anyEscaped = anyEscaped || esc
		if _, err := fmt.Fprintf(w, "%-6s %s\n", f.name, s); err != nil {
			return err
		}
	}
	if anyEscaped {
		_, err := fmt.Fprintln(w, escapedNote)
		return err
	}
	return nil
}
