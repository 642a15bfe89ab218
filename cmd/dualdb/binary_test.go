package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testOnlyPackages must never be linked into the dualdb binary: the rigs
// the reliability tests use to break a store, and test libraries.
var testOnlyPackages = []string{
	"github.com/dualdb/dualdb/internal/crashtest/faultfs",
	"github.com/dualdb/dualdb/internal/crashtest/xfsrig",
	"github.com/anishathalye/porcupine",
	"testing",
}

// goTool returns the path of the go command, or skips the test.
func goTool(t *testing.T) string {
	t.Helper()
	g, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not in PATH; skipping a test that builds the dualdb binary")
	}
	return g
}

// buildDualdb builds this command into a temporary directory and returns
// the binary's path. VCS stamping follows the environment (GOFLAGS
// -buildvcs): the version check holds either way.
func buildDualdb(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dualdb")
	out, err := exec.Command(goTool(t), "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinary checks the dualdb binary itself, built once for its subtests.
func TestBinary(t *testing.T) {
	bin := buildDualdb(t)
	t.Run("NoTestRigs", func(t *testing.T) { checkNoTestRigs(t, bin) })
	t.Run("Version", func(t *testing.T) { checkBinaryVersion(t, bin) })
}

// checkNoTestRigs: the fault-injecting file system, the power-loss rig and
// test libraries stay out of the binary: not among the packages it is built
// from, and no symbol of theirs in it. The harness `dualdb torture` needs is
// in both.
func checkNoTestRigs(t *testing.T, bin string) {
	out, err := exec.Command(goTool(t), "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/dualdb/dualdb/internal/crashtest") {
		t.Fatalf("go list -deps does not list the torture harness, internal/crashtest; the list is not what this test expects:\n%s", out)
	}
	for _, p := range testOnlyPackages {
		if slices.Contains(deps, p) {
			t.Errorf("the dualdb binary is built from %s, a package only tests may use", p)
		}
	}

	nm, err := exec.Command(goTool(t), "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	if !strings.Contains(string(nm), "github.com/dualdb/dualdb/internal/crashtest.") {
		t.Fatal("no symbol of internal/crashtest in the binary; go tool nm does not show what this test expects")
	}
	for _, line := range strings.Split(string(nm), "\n") {
		for _, p := range testOnlyPackages {
			if strings.Contains(line, " "+p+".") {
				t.Errorf("the dualdb binary holds %s", strings.TrimSpace(line))
			}
		}
	}
}

// checkBinaryVersion: the built binary reports the module version and VCS revision that the
// Go toolchain recorded in it, as `go version -m` reads them.
func checkBinaryVersion(t *testing.T, bin string) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("dualdb --version: %v", err)
	}
	m, err := exec.Command(goTool(t), "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	recorded := map[string]string{}
	for _, line := range strings.Split(string(m), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			recorded["version"] = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				recorded[k] = v
			}
		}
	}
	got := string(out)
	if v := recorded["version"]; v == "" || !strings.HasPrefix(got, "dualdb version "+v+"\n") {
		t.Errorf("go version -m records module version %q; dualdb --version printed\n%s", v, got)
	}
	rev, stamped := recorded["vcs.revision"]
	t.Logf("go version -m: vcs.revision %q, vcs.modified %q", rev, recorded["vcs.modified"])
	if !stamped {
		if !strings.Contains(got, "vcs.revision  unknown") {
			t.Errorf("a binary without VCS information printed\n%s", got)
		}
		return
	}
	for _, k := range []string{"vcs.revision", "vcs.modified"} {
		if want := fmt.Sprintf("\n%-13s %s\n", k, recorded[k]); !strings.Contains(got, want) {
			t.Errorf("go version -m records %s=%s; dualdb --version printed\n%s", k, recorded[k], got)
		}
	}
}
