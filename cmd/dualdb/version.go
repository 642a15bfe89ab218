package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and the VCS revision dualdb was built from",
		Long: `version prints what dualdb --version prints: the module version, the VCS
revision, its time and whether the work tree had uncommitted changes
(vcs.modified), as recorded by the Go toolchain at build time, and the Go
version. A binary built without VCS information (go build -buildvcs=false,
or outside a repository) says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionText(debug.ReadBuildInfo()))
			return err
		},
	}
}

// versionText describes the build from what the Go toolchain recorded in
// the binary, one "name value" line each:
//
//	dualdb v0.0.0-20261130150000-ef00841abcde+dirty
//	module        github.com/dualdb/dualdb
//	vcs.revision  ef00841abcde...
//	vcs.time      2026-11-30T15:00:00Z
//	vcs.modified  true
//	go            go1.26.0
func versionText(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "dualdb (version unknown: the binary carries no build information)\n"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	version := bi.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dualdb %s\n", version)
	line := func(name, value string) { fmt.Fprintf(&b, "%-13s %s\n", name, value) }
	if bi.Main.Path != "" {
		line("module", bi.Main.Path)
	}
	if rev, ok := settings["vcs.revision"]; ok {
		line("vcs.revision", rev)
		if t, ok := settings["vcs.time"]; ok {
			line("vcs.time", t)
		}
		if m, ok := settings["vcs.modified"]; ok {
			line("vcs.modified", m)
		}
	} else {
		line("vcs.revision", "unknown (built without VCS information)")
	}
	line("go", bi.GoVersion)
	return b.String()
}
