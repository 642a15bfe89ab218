//go:build race

package reliability

// raceEnabled: the test binary, and so every crash child it re-executes,
// runs with the race detector, several times slower; the process-based
// tests run fewer cycles by default.
const raceEnabled = true
