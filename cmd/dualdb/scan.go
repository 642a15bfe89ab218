package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"iter"
	"text/tabwriter"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/spf13/cobra"
)

type scanOptions struct {
	by       string
	from, to string
	limit    int
	reverse  bool
	asJSON   bool
	b64      bool
}

func newScanCmd() *cobra.Command {
	var o scanOptions
	c := &cobra.Command{
		Use:   "scan (DIR | URL)",
		Short: "Print records in key or index-key order",
		Long: `scan prints the records of a store in ascending order of their primary key
(--by key, the default) or of their index key (--by index), or descending with
--reverse. The store is opened read-only and read at one version.

--from is inclusive and --to exclusive, in the direction of the scan: with
--reverse, --from is the highest key printed and the scan stops before --to.
With --base64, --from and --to are given base64-encoded.

The table shows fields that are not plain UTF-8 text Go-escaped in double
quotes; --json prints one JSON line per record in the export format instead
(a field that is not valid UTF-8 is base64 under "<name>_b64").

` + liveHelp,
		Example: `  dualdb scan ./dualdb-demo --limit 5
  dualdb scan ./dualdb-demo --by index --from ada --to b --json
  dualdb scan ./dualdb-demo --reverse --limit 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.by != "key" && o.by != "index" {
				return usageErr("--by must be key or index, not %q", o.by)
			}
			if o.limit < 0 {
				return usageErr("--limit must not be negative")
			}
			var from, to []byte
			var err error
			if cmd.Flags().Changed("from") {
				if from, err = scanBound("--from", o.from, o.b64); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("to") {
				if to, err = scanBound("--to", o.to, o.b64); err != nil {
					return err
				}
			}
			return runScan(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], o, from, to)
		},
	}
	f := c.Flags()
	f.StringVar(&o.by, "by", "key", "order: `key` (primary key) or index (index key)")
	f.StringVar(&o.from, "from", "", "start at `X` (inclusive; open if not given)")
	f.StringVar(&o.to, "to", "", "stop before `Y` (exclusive; open if not given)")
	f.IntVar(&o.limit, "limit", 0, "print at most `N` records (0: all)")
	f.BoolVar(&o.reverse, "reverse", false, "descending order")
	f.BoolVar(&o.asJSON, "json", false, "print JSON lines (the export format)")
	f.BoolVar(&o.b64, "base64", false, "--from and --to are base64-encoded")
	return c
}

func scanBound(flag, s string, b64 bool) ([]byte, error) {
	if !b64 {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, usageErr("%s %q is not base64: %v", flag, s, err)
	}
	return b, nil
}

// scanSeq returns the records of s in the order o asks for.
func scanSeq(s *db.Snapshot, o scanOptions, from, to []byte) iter.Seq[db.Record] {
	switch {
	case o.by == "index" && o.reverse:
		return s.DescendIndex(from, to)
	case o.by == "index":
		return s.AscendIndex(from, to)
	case o.reverse:
		return s.Descend(from, to)
	default:
		return s.Ascend(from, to)
	}
}

func runScan(stdout, stderr io.Writer, dir string, o scanOptions, from, to []byte) (err error) {
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		return ls.scan(stdout, stderr, o, from, to)
	}
	d, err := openStore(dir, true, false, stderr)
	if err != nil {
		return err
	}
	defer closeStore(d, &err)
	s := d.Snapshot()
	return printScan(stdout, o, scanSeq(s, o, from, to), s.Len(), s.Version())
}

// printScan prints the records of seq, up to o.limit, as scan does: JSON
// lines, or a table that ends with a line naming the store's record count
// (total) and version.
func printScan(stdout io.Writer, o scanOptions, seq iter.Seq[db.Record], total int, version uint64) error {
	bw := bufio.NewWriter(stdout)
	n := 0
	if o.asJSON {
		var line []byte
		for r := range seq {
			if o.limit > 0 && n == o.limit {
				break
			}
			line = append(jsonl.AppendRecord(line[:0], r.Key, r.Index, r.Value), '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
			n++
		}
		return bw.Flush()
	}

	// The table is aligned in chunks, so that a large scan streams.
	const chunk = 256
	tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
	keyCol, indexCol := "KEY", "INDEX"
	if o.by == "index" {
		keyCol, indexCol = "INDEX", "KEY"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\n", keyCol, indexCol, "VALUE")
	anyEscaped := false
	for r := range seq {
		if o.limit > 0 && n == o.limit {
			break
		}
		k, ek := show(r.Key)
		i, ei := show(r.Index)
		v, ev := show(r.Value)
		anyEscaped = anyEscaped || ek || ei || ev
		if o.by == "index" {
			k, i = i, k
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, i, v)
		n++
		if n%chunk == 0 {
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if anyEscaped {
		fmt.Fprintln(bw, escapedNote)
	}
	fmt.Fprintf(bw, "(%s of %s, store version %d)\n", count(n), plural(total, "record", "records"), version)
	return bw.Flush()
}
