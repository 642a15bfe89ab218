#!/usr/bin/env bash
# Observability checks of the long tier, called by .ci/long:
#   - promtool check rules and promtool test rules on monitoring/alerts.yml;
#   - the Grafana dashboard is valid JSON with the data source as a
#     variable, and every metric the dashboard and the rules name exists
#     (go test ./monitoring).
# Installs Debian's prometheus package (promtool) when it is missing and
# we are root with apt-get; otherwise the promtool steps are skipped with
# a message, like the tests that need it. Idempotent; takes seconds once
# promtool is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "observability: installing Debian's prometheus package for promtool"
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
         >/tmp/dualdb-apt-prometheus.log 2>&1; then
      echo "observability: apt-get install prometheus failed:"; tail -5 /tmp/dualdb-apt-prometheus.log
    fi
  fi
fi

if command -v promtool >/dev/null; then
  echo "observability: $(promtool --version 2>&1 | head -1)"
  promtool check rules monitoring/alerts.yml
  (cd monitoring && promtool test rules alerts_test.yml)
else
  echo "observability: SKIPPED promtool check/test rules: promtool is not installed (Debian: apt-get install prometheus)"
fi

echo "observability: dashboard and metric names"
go test -count=1 ./monitoring
