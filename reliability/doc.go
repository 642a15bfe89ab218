// Package reliability holds dualdb's crash, power-loss, fault-injection,
// linearizability and randomized model tests. It has no code outside its
// tests; the harness they share with `dualdb torture` is
// internal/crashtest. docs/reliability.md says what each test checks, how
// to run it, and the figures of the last long run; docs/testing.md lists
// the sizes of the fast and the long tier.
package reliability
