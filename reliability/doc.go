// Package reliability holds dualdb's crash, power-loss, fault-injection,
// linearizability and randomized model tests. It has no code
// outside its tests; the harness they share with `dualdb torture` is
// internal/crashtest. RELIABILITY.md at the module root says what each
// test checks, how to run it, and the figures of the last long run.
package reliability
