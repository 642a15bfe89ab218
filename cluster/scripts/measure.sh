#!/usr/bin/env bash
# Throughput and read latency of dualdbd (3 nodes and 1 node), an embedded
# dualdb store and, if installed, etcd, all on 127.0.0.1, for docs/cluster.md.
# Usage: scripts/measure.sh [SECONDS]   (from the cluster directory)
set -euo pipefail
secs=${1:-10}
work=$(mktemp -d /tmp/dualdbd-measure.XXXXXX)
bin=$work/dualdbd
go build -o "$bin" ./cmd/dualdbd
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() { # HTTP_ADDR
  for _ in $(seq 1 200); do curl -sf "http://$1/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "no ready node at $1" >&2; return 1
}
start() { # ID RAFT HTTP FLAGS...
  local id=$1 raft=$2 http=$3; shift 3
  "$bin" serve --id "$id" --data-dir "$work/$id" --raft-addr "$raft" --http-addr "$http" "$@" >"$work/$id.log" 2>&1 &
  pids+=($!)
}
bench() { echo "# $*"; "$bin" bench --duration "${secs}s" "$@"; }
# leader prints who leads the dualdbd cluster behind HTTP_ADDR, and the term.
leader() { curl -s "http://$1/v1/status" | sed -E 's/.*"leader":\{"id":"([^"]*)".*"term":([0-9]+).*/leader \1 term \2/'; }

echo "== dualdbd, 3 nodes"
start n1 127.0.0.1:19001 127.0.0.1:19101 --bootstrap; wait_ready 127.0.0.1:19101
start n2 127.0.0.1:19002 127.0.0.1:19102 --join 127.0.0.1:19101
start n3 127.0.0.1:19003 127.0.0.1:19103 --join 127.0.0.1:19101
wait_ready 127.0.0.1:19102; wait_ready 127.0.0.1:19103
all=127.0.0.1:19101,127.0.0.1:19102,127.0.0.1:19103
leader 127.0.0.1:19101
bench --addrs 127.0.0.1:19101 --clients 1
bench --addrs 127.0.0.1:19101 --clients 64
bench --addrs $all --clients 1
bench --addrs $all --clients 64
bench --addrs 127.0.0.1:19101 --op get --clients 1
bench --addrs 127.0.0.1:19102 --op get --clients 1
bench --addrs 127.0.0.1:19102 --op stale --clients 1
bench --addrs $all --op get --clients 16
bench --addrs $all --op stale --clients 16
leader 127.0.0.1:19101

echo "== dualdbd, 1 node"
start s1 127.0.0.1:19004 127.0.0.1:19104 --bootstrap; wait_ready 127.0.0.1:19104
bench --addrs 127.0.0.1:19104 --clients 1
bench --addrs 127.0.0.1:19104 --clients 64

echo "== dualdb embedded (db.Put, no network)"
bench --embedded "$work/embedded1" --clients 1
bench --embedded "$work/embedded64" --clients 64

if command -v etcd >/dev/null; then
  echo "== $(etcd --version | head -1), 3 nodes"
  cluster=e1=http://127.0.0.1:19201,e2=http://127.0.0.1:19202,e3=http://127.0.0.1:19203
  for i in 1 2 3; do
    etcd --name e$i --data-dir "$work/e$i" --listen-client-urls http://127.0.0.1:1930$i \
      --advertise-client-urls http://127.0.0.1:1930$i --listen-peer-urls http://127.0.0.1:1920$i \
      --initial-advertise-peer-urls http://127.0.0.1:1920$i --initial-cluster $cluster \
      --initial-cluster-state new >"$work/e$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 1 200); do curl -sf http://127.0.0.1:1930$i/health | grep -q true && break; sleep 0.1; done
  done
  eall=127.0.0.1:19301,127.0.0.1:19302,127.0.0.1:19303
  bench --etcd --addrs $eall --clients 1
  bench --etcd --addrs $eall --clients 64
  bench --etcd --addrs 127.0.0.1:19301 --op get --clients 1
  bench --etcd --addrs 127.0.0.1:19301 --op stale --clients 1
  bench --etcd --addrs $eall --op get --clients 16
  bench --etcd --addrs $eall --op stale --clients 16
  echo "== etcd, 1 node"
  etcd --name s --data-dir "$work/es" --listen-client-urls http://127.0.0.1:19305 \
    --advertise-client-urls http://127.0.0.1:19305 --listen-peer-urls http://127.0.0.1:19205 \
    --initial-advertise-peer-urls http://127.0.0.1:19205 --initial-cluster s=http://127.0.0.1:19205 >"$work/es.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do curl -sf http://127.0.0.1:19305/health | grep -q true && break; sleep 0.1; done
  bench --etcd --addrs 127.0.0.1:19305 --clients 1
  bench --etcd --addrs 127.0.0.1:19305 --clients 64
fi
