#!/usr/bin/env bash
# Reliability checks of the long tier, called by .ci/long: what no
# `go test` run does.
#
#   1. the fuzz targets, each for $FUZZTIME (default 20s):
#      wal/FuzzDecodeRecord, snapshot/FuzzRead, cmd/dualdb/FuzzParseLine
#      (a target that is missing, renamed say, is a failure);
#   2. `dualdb torture` with the real binary (the re-exec of its own
#      executable, which `go test` cannot exercise), $TORTURE_CYCLES
#      cycles (default 20).
#
# The reliability test suite itself runs in both tiers of `go test`
# (docs/reliability.md, docs/testing.md). Exit status: non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
status=0
tmp="$(mktemp -d "${TMPDIR:-/var/tmp}/dualdb-reliability.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "reliability: fuzzing (${FUZZTIME} per target)"
for target in wal:FuzzDecodeRecord snapshot:FuzzRead cmd/dualdb:FuzzParseLine; do
  pkg="${target%%:*}" fn="${target##*:}"
  if grep -qs "^func ${fn}(" "$pkg"/*_test.go; then
    echo "reliability: go test ./$pkg -fuzz ^${fn}\$ -fuzztime $FUZZTIME"
    corpus="$pkg/testdata/fuzz/$fn"
    before="$(ls "$corpus" 2>/dev/null | sort || true)"
    if ! go test "./$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" 2>&1 | tee "$tmp/fuzz.log"; then
      after="$(ls "$corpus" 2>/dev/null | sort || true)"
      if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$tmp/fuzz.log"; then
        # Go 1.26's fuzz coordinator can fail a target at the end of
        # -fuzztime on a busy machine, with no failing input (a race
        # fixed in Go 1.27). A real finding always writes its input.
        echo "reliability: $pkg/$fn: 'context deadline exceeded' with no failing input written: Go's fuzz coordinator, not a finding"
      else
        echo "reliability: FAILED fuzz target $pkg/$fn (a failing input, if one was found, is in $corpus/)"
        status=1
      fi
    fi
  else
    echo "reliability: FAILED: no fuzz target $fn in $pkg (renamed? update this list and docs/testing.md)"
    status=1
  fi
done

echo "reliability: dualdb torture with the real binary"
go build -o "$tmp/dualdb" ./cmd/dualdb
if ! "$tmp/dualdb" torture "$tmp/torture" --cycles "${TORTURE_CYCLES:-20}"; then
  echo "reliability: FAILED dualdb torture"
  status=1
fi

if [ "$status" = 0 ]; then echo "reliability: OK"; fi
exit "$status"
