#!/usr/bin/env bash
# The bench module is its own Go module: vet it and run its tests, which
# include a quick run of every workload on every engine with checked
# answers, so the harness never rots.
set -euo pipefail
cd "$(dirname "$0")/../bench"
go vet ./...
go test -count=1 ./...
