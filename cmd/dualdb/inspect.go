package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/dualdb/dualdb/db"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect (DIR | URL)",
		Short: "Describe a store: id, versions, WAL, snapshots, files",
		Long: `inspect describes the store in DIR: its id, format version and the options
fixed when it was created, its last version and record count, the WAL
(first and last version, records, bytes), each snapshot (version, bytes,
records, compression ratio, and whether it passes its check) and every file
with its size.

inspect never writes. It loads the store read-only to count the records; a
store that does not load, or whose wal.db is missing or damaged, is still
described from what is there, with the reason (run verify for the details,
repair to rebuild a lost wal.db). Files dualdb did not write are listed as
such. It fails on a directory that is not a store.

` + liveHelp,
		Example: `  dualdb inspect ./dualdb-demo
  dualdb inspect ./dualdb-demo --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// inspectJSON is the --json output of inspect; its field names are part
// of the CLI's interface.
type inspectJSON struct {
	Dir          string         `json:"dir"`
	StoreID      string         `json:"store_id"`
	Format       uint32         `json:"format"`
	MaxKeySize   int            `json:"max_key_size"`
	MaxValueSize int            `json:"max_value_size"`
	Version      uint64         `json:"version"`
	Records      int            `json:"records"`
	LoadError    string         `json:"load_error,omitempty"`
	WAL          walJSON        `json:"wal"`
	Snapshots    []snapshotJSON `json:"snapshots"`
	Files        []fileJSON     `json:"files"`
	Strangers    []string       `json:"not_dualdb_files"` // files dualdb did not write or cannot prove it wrote
}

type walJSON struct {
	File    string `json:"file"`
	First   uint64 `json:"first"`
	Last    uint64 `json:"last"`
	Records int    `json:"records"`
	Bytes   int64  `json:"bytes"`
}

type snapshotJSON struct {
	File     string  `json:"file"`
	Version  uint64  `json:"version"`
	Bytes    int64   `json:"bytes"`
	Records  uint64  `json:"records"`
	RawBytes int64   `json:"raw_bytes"`
	Ratio    float64 `json:"ratio"`
	Error    string  `json:"error,omitempty"`
}

type fileJSON struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

func runInspect(stdout, stderr io.Writer, dir string, asJSON bool) error {
	if ls, err := findLive(dir, stderr); err != nil {
		return err
	} else if ls != nil {
		return ls.inspect(stdout, stderr, asJSON)
	}
	if err := requireDir(dir); err != nil {
		return err
	}
	info, err := db.Inspect(dir)
	if err != nil {
		return openErr(dir, err)
	}
	if asJSON {
		return writeJSON(stdout, toInspectJSON(info))
	}
	return printInspect(stdout, info, "")
}

func toInspectJSON(info *db.Info) inspectJSON {
	out := inspectJSON{
		Dir: info.Dir, StoreID: info.StoreID, Format: info.Format,
		MaxKeySize: info.MaxKeySize, MaxValueSize: info.MaxValueSize,
		Version: info.Version, Records: info.Records, LoadError: info.LoadError,
		WAL: walJSON{File: info.WAL.File, First: info.WAL.First, Last: info.WAL.Last,
			Records: info.WAL.Records, Bytes: info.WAL.Bytes},
		Snapshots: []snapshotJSON{},
		Files:     []fileJSON{},
		Strangers: append([]string{}, info.Strangers...),
	}
	for _, s := range info.Snapshots {
		out.Snapshots = append(out.Snapshots, snapshotJSON{File: s.File, Version: s.Version, Bytes: s.Bytes,
			Records: s.Records, RawBytes: s.RawBytes, Ratio: s.Ratio, Error: s.Err})
	}
	for _, f := range info.Files {
		out.Files = append(out.Files, fileJSON{Name: f.Name, Bytes: f.Bytes})
	}
	return out
}

// writeJSON writes v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// relTo returns path relative to dir when it is inside it.
func relTo(dir, path string) string {
	rel, err := filepath.Rel(dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}

// printInspect prints info for a human, each line prefixed by indent.
func printInspect(w io.Writer, info *db.Info, indent string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row := func(format string, args ...any) { fmt.Fprintf(tw, indent+format+"\n", args...) }
	row("store\t%s", info.Dir)
	switch {
	case info.Format != 0:
		row("store id\t%s", info.StoreID)
		row("format\t%d", info.Format)
		row("created with\tmax key size %s, max value size %s", size(int64(info.MaxKeySize)), size(int64(info.MaxValueSize)))
	case info.StoreID != "":
		row("store id\t%s (from the newest snapshot that verifies; wal.db cannot be read)", info.StoreID)
	default:
		row("store id\tunknown: wal.db cannot be read and no snapshot verifies")
	}
	row("version\t%d", info.Version)
	if info.LoadError != "" {
		row("records\tunknown: the store does not load (run dualdb verify): %s", info.LoadError)
	} else {
		row("records\t%s", count(info.Records))
	}
	wal := relTo(info.Dir, info.WAL.File)
	if info.Format == 0 {
		row("WAL\t%s: cannot be read, %s", wal, size(info.WAL.Bytes))
	} else if info.WAL.Records == 0 {
		row("WAL\t%s: empty, %s", wal, size(info.WAL.Bytes))
	} else {
		row("WAL\t%s: versions %d-%d, %s, %s", wal, info.WAL.First, info.WAL.Last,
			plural(info.WAL.Records, "record", "records"), size(info.WAL.Bytes))
	}
	if len(info.Snapshots) == 0 {
		row("snapshots\tnone")
	}
	for i, s := range info.Snapshots {
		label := ""
		if i == 0 {
			label = "snapshots"
		}
		line := fmt.Sprintf("%s: version %d, %s, %s", relTo(info.Dir, s.File), s.Version,
			plural(s.Records, "record", "records"), size(s.Bytes))
		if s.RawBytes > 0 {
			line += fmt.Sprintf(" (%.0f%% of %s raw)", 100*s.Ratio, size(s.RawBytes))
		}
		row("%s\t%s", label, line)
		if s.Err != "" {
			row("\t  FAILS ITS CHECK (run verify): %s", s.Err)
		}
	}
	var total int64
	for _, f := range info.Files {
		total += f.Bytes
	}
	if len(info.Strangers) > 0 {
		row("not dualdb's\t%s (left alone)", strings.Join(info.Strangers, ", "))
	}
	row("files\t%s, %s", plural(len(info.Files), "file", "files"), size(total))
	if err := tw.Flush(); err != nil {
		return err
	}
	width := 0
	for _, f := range info.Files {
		width = max(width, len(f.Name))
	}
	for _, f := range info.Files {
		if _, err := fmt.Fprintf(w, "%s  %-*s  %10s\n", indent, width, f.Name, size(f.Bytes)); err != nil {
			return err
		}
	}
	return nil
}
