// Package testtier tells dualdb's tests which tier is running.
//
// The fast tier is the default: `go test -race ./...` runs every package's
// contract at sizes that finish in about two minutes on two cores. The
// long tier, asked for with DUALDB_LONG=1 (`.ci/long` sets it), runs the
// same tests at their full sizes and the tests that exist only there: the
// reliability suite at its CI size, the scrape by a real Prometheus server,
// the 100,000-user demo. docs/testing.md lists every knob.
package testtier

import (
	"os"
	"strconv"
	"testing"
)

// Env is the environment variable that selects the long tier.
const Env = "DUALDB_LONG"

// Long reports whether the long tier was asked for: Env set to 1 or true.
func Long() bool {
	v, _ := strconv.ParseBool(os.Getenv(Env))
	return v
}

// Pick returns fast in the fast tier and long in the long tier.
func Pick[T any](fast, long T) T {
	if Long() {
		return long
	}
	return fast
}

// SkipUnlessLong skips the test in the fast tier, saying how to run it.
func SkipUnlessLong(t testing.TB, what string) {
	t.Helper()
	if !Long() {
		t.Skipf("long tier only (%s=1, or .ci/long): %s", Env, what)
	}
}
