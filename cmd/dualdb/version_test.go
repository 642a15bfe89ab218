package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/dualdb/dualdb", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "ef00841abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-11-30T15:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, c := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", stamped, true, `v0.3.0
module        github.com/dualdb/dualdb
vcs.revision  ef00841abcdef0123456789abcdef0123456789a
vcs.time      2026-11-30T15:00:00Z
vcs.modified  true
go            go1.26.0`},
		{"no vcs", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/dualdb/dualdb", Version: "(devel)"}}, true, `(devel)
module        github.com/dualdb/dualdb
vcs.revision  unknown (built without VCS information)
go            go1.26.0`},
		{"no build info", nil, false, "unknown: the binary carries no build information"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := buildVersion(c.bi, c.ok); got != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// --version and the version command print the same, from this binary's
// build information.
func TestVersion_CLI(t *testing.T) {
	flag := runCLI(t, "", "--version")
	cmd := runCLI(t, "", "version")
	if flag.code != exitOK || cmd.code != exitOK {
		t.Fatalf("exit %d and %d\n%s%s", flag.code, cmd.code, flag.stderr, cmd.stderr)
	}
	if flag.stdout != cmd.stdout {
		t.Errorf("--version printed\n%s\nversion printed\n%s", flag.stdout, cmd.stdout)
	}
	if want := "dualdb version " + buildVersion(debug.ReadBuildInfo()) + "\n"; flag.stdout != want {
		t.Errorf("--version printed\n%s\nwant\n%s", flag.stdout, want)
	}
	if !strings.HasPrefix(flag.stdout, "dualdb version ") || !strings.Contains(flag.stdout, "\nvcs.revision ") {
		t.Errorf("--version printed\n%s", flag.stdout)
	}
	if r := runCLI(t, "", "version", "extra"); r.code != exitError {
		t.Errorf("version with an argument: exit %d, want %d", r.code, exitError)
	}
}
