#!/usr/bin/env bash
# Measures the PostgreSQL store on a throw-away server (scripts/pg.sh), release builds:
#  1. commit on node A -> visible in node B's in-process resolver, p50/p99 over 1000 changes
#     (examples/propagation.rs);
#  2. Create JWK throughput through jwkd with 1 node, then 2 nodes on one database (wrk,
#     64 connections in all, 10 s, one memory environment; the 2-node run splits the
#     connections over both nodes and adds their rates).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
cargo build --release --bin jwkd --example propagation
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start
base="${JWK_TEST_POSTGRES%/postgres}"
psql_() { "$(pg_bin_dir)/psql" -q "$JWK_TEST_POSTGRES" -c "$1"; }
pids=()
dirs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${dirs[@]}"; do rm -rf "$d"; done
  pg_stop
}
trap cleanup EXIT

echo "== propagation"
psql_ "CREATE DATABASE propagation"
"$TARGET/release/examples/propagation" "$base/propagation" 1000

node() { # node DATA_DIR PORT DB
  "$TARGET/release/jwkd" --data-dir "$1" --postgres "$base/$3" serve --listen "127.0.0.1:$2" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "jwkd on port $2 did not start" >&2
  return 1
}

setup() { # setup PORT TOKEN
  local B=http://127.0.0.1:$1
  curl -sf -X POST "$B/apiops/environments/" -H "Authorization: Bearer $2" -d '{"name":"production","target":{"type":"memory"}}' >/dev/null
  curl -sf -X POST "$B/apiops/projects/" -H "Authorization: Bearer $2" -d '{"name":"MyProject"}' >/dev/null
}

rate() { grep 'Requests/sec' "$1" | awk '{print $2}'; }

echo "== create, 1 node"
psql_ "CREATE DATABASE one"
a=$(mktemp -d); dirs+=("$a")
node "$a" 18101 one
T=$(cat "$a/admin-token")
setup 18101 "$T"
TOKEN=$T PREFIX=a wrk -t2 -c64 -d10s --latency -s scripts/load-create.lua http://127.0.0.1:18101 | tee /tmp/jwk-wrk-1.txt
kill "${pids[@]}"; pids=()

echo "== create, 2 nodes on one database"
psql_ "CREATE DATABASE two"
a=$(mktemp -d); b=$(mktemp -d); dirs+=("$a" "$b")
node "$a" 18102 two
cp "$a/master.key" "$b/master.key"
node "$b" 18103 two
T=$(cat "$a/admin-token")
setup 18102 "$T"
TOKEN=$T PREFIX=a wrk -t1 -c32 -d10s --latency -s scripts/load-create.lua http://127.0.0.1:18102 >/tmp/jwk-wrk-2a.txt &
w=$!
TOKEN=$T PREFIX=b wrk -t1 -c32 -d10s --latency -s scripts/load-create.lua http://127.0.0.1:18103 >/tmp/jwk-wrk-2b.txt
wait $w
cat /tmp/jwk-wrk-2a.txt /tmp/jwk-wrk-2b.txt
echo "2 nodes: $(rate /tmp/jwk-wrk-2a.txt) + $(rate /tmp/jwk-wrk-2b.txt) req/s"
echo "JWKs in the registry: $("$(pg_bin_dir)/psql" -tA "$base/two" -c "SELECT count(*) FROM jwk_kv WHERE k LIKE 'jwk/%'")"
