package reliability

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/dualdb/dualdb/internal/crashtest"
	"github.com/dualdb/dualdb/internal/testtier"
)

// TestCrash_ProcessKill kills the writing process: a child writes concurrently
// (single puts, multi-record updates moving index keys, automatic and
// explicit checkpoints) and is SIGKILLed at random moments, in Open and in
// checkpoints too; every cut is checked against the model of what was
// acknowledged. Cycles: 5 in the fast tier (each kill mode of
// crashtest.Schedule once); in the long tier 100, or 50 under -race, where
// the child runs with the race detector too. DUALDB_CRASH_CYCLES overrides.
func TestCrash_ProcessKill(t *testing.T) {
	cycles := testtier.Pick(5, 100)
	if raceEnabled && testtier.Long() {
		cycles = 50
	}
	cycles = envInt("DUALDB_CRASH_CYCLES", cycles)
	seed := uint64(envInt("DUALDB_CRASH_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d (DUALDB_CRASH_SEED reproduces the kill schedule)", seed)
	h := &crashtest.Harness{
		Base:    t.TempDir(),
		Command: childCommand,
		Rand:    rand.New(rand.NewPCG(seed, 5)),
		Logf:    t.Logf,
		KeepDir: os.Getenv("DUALDB_KEEP_FAILED"),
		Vary:    true,
	}
	runCycles(t, h, cycles)
}

// runCycles runs cycles on h with a mix of kill modes: fresh stores cut in
// their first Open, cuts in Open, in checkpoints and at random moments.
func runCycles(t *testing.T, h *crashtest.Harness, cycles int) {
	t.Helper()
	start := time.Now()
	for i := range cycles {
		f, err := h.Cycle(crashtest.Schedule(i))
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if len(f) > 0 {
			t.Errorf("cycle %d: %d findings", i, len(f))
		}
		if h.Totals.Findings() > 20 {
			t.Fatalf("too many findings; stopping. %s", h.Totals)
		}
	}
	t.Logf("%s in %v", h.Totals, time.Since(start).Round(time.Second))
	if h.Totals.Acked == 0 {
		t.Errorf("no commit was acknowledged: the workload did not run")
	}
	if h.Totals.VersionsChecked == 0 {
		t.Errorf("no recovered record had its Record.Version checked")
	}
}

// TestCrash_HarnessCatchesLies checks the checker: a child that
// acknowledges each operation before calling the store must show up as
// lost commits after a few cuts.
func TestCrash_HarnessCatchesLies(t *testing.T) {
	h := &crashtest.Harness{
		Base:    t.TempDir(),
		Command: childCommand,
		Cfg:     crashtest.Config{LieAck: true, Ballast: -1},
		Rand:    rand.New(rand.NewPCG(1, 2)),
	}
	for i := 0; i < 10 && h.Totals.Lost == 0; i++ {
		if _, err := h.Cycle(crashtest.KillRandom); err != nil {
			t.Fatal(err)
		}
	}
	if h.Totals.Lost == 0 {
		t.Fatalf("a child acknowledging before it commits went unnoticed: %s", h.Totals)
	}
	t.Logf("caught: %s", h.Totals)
}

// TestCrash_HarnessCatchesWrongVersions checks the version check: a child
// that reports each commit's version one too high must show up as records
// whose Record.Version differs from their acknowledged commit's.
func TestCrash_HarnessCatchesWrongVersions(t *testing.T) {
	h := &crashtest.Harness{
		Base:    t.TempDir(),
		Command: childCommand,
		Cfg:     crashtest.Config{LieVersion: true, Ballast: -1},
		Rand:    rand.New(rand.NewPCG(1, 3)),
	}
	for i := 0; i < 10 && h.Totals.RecordVersions == 0; i++ {
		if _, err := h.Cycle(crashtest.KillRandom); err != nil {
			t.Fatal(err)
		}
	}
	if h.Totals.RecordVersions == 0 {
		t.Fatalf("a child reporting wrong commit versions went unnoticed: %s", h.Totals)
	}
	t.Logf("caught: %s", h.Totals)
}
