// Package cputime reads the CPU time the process has used, for benchmarks
// and load tools that run on a shared machine, where CPU time is a steadier
// measure of work than elapsed time.
package cputime
