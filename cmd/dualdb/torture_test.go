package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/crashtest"
	"github.com/dualdb/dualdb/internal/testtier"
)

// The torture parent re-executes its own binary as the crash child; under
// `go test` that binary is the test binary, which becomes the child here,
// before any test runs.
func init() {
	if os.Getenv(crashtest.ChildEnv) != "" {
		crashtest.RunChildFromEnv()
	}
}

func runTortureCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"torture"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestTorture_CleanRun: 4 cycles in the fast tier, each kill mode of
// crashtest.Schedule once (fresh, Open, random, checkpoint); 6 in the long.
func TestTorture_CleanRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	cycles := testtier.Pick("4", "6")
	code, out, errs := runTortureCLI(t, dir, "--cycles", cycles, "--writers", "3", "--ballast", "2000", "--seed", "42")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"cycles", "commits acknowledged", "lost                   0", "partial                0", "result                 OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("a clean run left stores behind in %s (no --keep): %v %v", dir, ents, err)
	}
}

func TestTorture_JSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	code, out, errs := runTortureCLI(t, dir, "--cycles", "3", "--ballast", "-1", "--json", "--keep")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var js tortureJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if !js.OK || js.Cycles != 3 || js.Lost != 0 || js.Partial != 0 || js.Acknowledged == 0 {
		t.Errorf("summary %+v", js)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("--keep: %v", err)
	}
}

// A child that acknowledges before it commits loses commits at a kill:
// torture must say so and exit 1.
func TestTorture_DetectsLostCommits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	code, out, _ := runTortureCLI(t, dir, "--cycles", "5", "--ballast", "-1", "--self-test-lie", "--json")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (findings)\n%s", code, exitFindings, out)
	}
	var js tortureJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if js.OK || js.Lost == 0 {
		t.Errorf("lost commits not reported: %+v", js)
	}
}

func TestTorture_Usage(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no dir", nil},
		{"zero cycles", []string{filepath.Join(t.TempDir(), "t"), "--cycles", "0"}},
		{"bad writers", []string{filepath.Join(t.TempDir(), "t"), "--writers", "0"}},
		{"dir not empty", []string{full}},
		{"child without parent", []string{"--child"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, out, errs := runTortureCLI(t, tc.args...); code != exitError {
				t.Errorf("exit %d, want %d\n%s%s", code, exitError, out, errs)
			}
		})
	}
}
