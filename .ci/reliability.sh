#!/usr/bin/env bash
# Reliability checks, called by .ci/run (issue 5). The default reliability
# suite (process crash, power loss, fault injection, linearizability,
# randomized model) already runs inside `go test -race ./...`; this script
# adds what that run does not:
#
#   1. the fuzz targets, each for $FUZZTIME (default 20s), if they exist:
#      wal/FuzzDecodeRecord, snapshot/FuzzRead, cmd/dualdb/FuzzParseLine;
#   2. `dualdb torture` with the real binary (the re-exec of its own
#      executable, which `go test` cannot exercise), 20 cycles;
#   3. with DUALDB_LONG=1, the long runs (1,000 process kills, 300 power
#      cuts, 60 histories, 30 model seeds; about an hour on 2 cores),
#      without -race, printing the figures RELIABILITY.md quotes.
#
# The power-loss tests need root and xfsprogs (.ci/run installs it); they
# skip with a message elsewhere. Exit status: non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
status=0

echo "reliability: fuzzing (${FUZZTIME} per target)"
for target in wal:FuzzDecodeRecord snapshot:FuzzRead cmd/dualdb:FuzzParseLine; do
  pkg="${target%%:*}" fn="${target##*:}"
  if grep -qs "^func ${fn}(" "$pkg"/*_test.go; then
    echo "reliability: go test ./$pkg -fuzz ^${fn}\$ -fuzztime $FUZZTIME"
    if ! go test "./$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME"; then
      echo "reliability: FAILED fuzz target $pkg/$fn (a failing input is in $pkg/testdata/fuzz/$fn/)"
      status=1
    fi
  else
    echo "reliability: SKIPPED $pkg/$fn: no such fuzz target yet"
  fi
done

echo "reliability: dualdb torture with the real binary"
tmp="$(mktemp -d "${TMPDIR:-/var/tmp}/dualdb-reliability.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/dualdb" ./cmd/dualdb
if ! "$tmp/dualdb" torture "$tmp/torture" --cycles "${TORTURE_CYCLES:-20}"; then
  echo "reliability: FAILED dualdb torture"
  status=1
fi

if [ "${DUALDB_LONG:-}" = 1 ]; then
  echo "reliability: long runs (DUALDB_LONG=1)"
  if ! DUALDB_LONG=1 go test -count=1 -timeout 4h -v ./reliability/ ./cmd/dualdb/ \
      -run 'Torture|Crash|Power|Fault|Linear|Model' 2>&1 | tee "$tmp/long.log" \
      | grep -E '^(=== RUN|--- |PASS|FAIL|ok )|cycles=|histories|operations,|fault injection|caught|seed [0-9]+:' ; then
    :
  fi
  if grep -qE '^(--- FAIL|FAIL)' "$tmp/long.log"; then
    echo "reliability: FAILED long runs; the full log:"; cat "$tmp/long.log"
    status=1
  fi
fi

if [ "$status" = 0 ]; then echo "reliability: OK"; fi
exit "$status"
