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
			// The format of cobra's --version, which prints Version.
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "dualdb version %s\n", buildVersion(debug.ReadBuildInfo()))
			return err
		},
	}
}

// buildVersion describes the build from what the Go toolchain recorded in
// the binary: the module version, then one "name value" line each. It is
// the root command's Version, which cobra prints for --version as
// "dualdb version " + Version; a custom version template would link
// text/template's reflection and keep the linker from dropping unused
// methods (3.5 MB more binary).
//
//	dualdb version v0.0.0-20261130150000-ef00841abcde+dirty
//	module        github.com/dualdb/dualdb
//	vcs.revision  ef00841abcde...
//	vcs.time      2026-11-30T15:00:00Z
//	vcs.modified  true
//	go            go1.26.0
func buildVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "unknown: the binary carries no build information"
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
	b.WriteString(version)
	line := func(name, value string) { fmt.Fprintf(&b, "\n%-13s %s", name, value) }
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
