package reliability

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/dualdb/dualdb/internal/crashtest"
)

// TestMain turns the test binary into the crash child when the harness
// re-executes it with crashtest.ChildEnv set.
func TestMain(m *testing.M) {
	crashtest.RunChildFromEnv()
	if os.Getenv(linChildEnv) != "" {
		linChildMain()
	}
	os.Exit(m.Run())
}

// envInt returns the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// childCommand re-executes this test binary as the crash child.
func childCommand() *exec.Cmd {
	return exec.Command(os.Args[0], "-test.run=^$")
}
