#!/usr/bin/env bash
# How the registry's costs grow with its size (examples/scale.rs), release build:
#   scripts/scale.sh N [SECONDS] [STORES]
# For each store (default "sled redb postgres"; PostgreSQL on a throw-away server,
# scripts/pg.sh), builds an empty registry and one of N JWKs and N credentials, restarts
# each (a new process) and measures Create / Update / Delete JWK (SECONDS each, default 5,
# 16 concurrent tasks), the restart, resident memory, the JWKS 304 rate, and on PostgreSQL
# the latency of a change to a second node. Prints a table; the JSON lines are kept in
# $SCALE_OUT (default a temporary file).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:?usage: scripts/scale.sh N [SECONDS] [STORES]}"
seconds="${2:-5}"
stores="${3:-sled redb postgres}"
cargo build --release --example scale --features registry
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
scale="$TARGET/release/examples/scale"
out="${SCALE_OUT:-$(mktemp /tmp/jwk-scale.XXXXXX)}"
work="$(mktemp -d /tmp/jwk-scale-dirs.XXXXXX)"
pg=false
case " $stores " in *" postgres "*) pg=true ;; esac
cleanup() {
  rm -rf "$work"
  if $pg; then pg_stop; fi
}
trap cleanup EXIT
if $pg; then
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  base="${JWK_TEST_POSTGRES%/postgres}"
fi

run() { # run STORE SIZE
  local store=$1 size=$2 dir="$work/$1-$2" where=()
  if [ "$store" = postgres ]; then
    "$(pg_bin_dir)/psql" -q "$JWK_TEST_POSTGRES" -c "CREATE DATABASE scale_$size"
    where=(--postgres "$base/scale_$size")
  else
    where=(--store "$store")
  fi
  local built measured peer=()
  [ "$store" = postgres ] && peer=(--peer)
  built=$("$scale" build --data-dir "$dir" "${where[@]}" --n "$size")
  measured=$("$scale" measure --data-dir "$dir" "${where[@]}" --seconds "$seconds" "${peer[@]}")
  echo "{\"store\":\"$store\",\"n\":$size,\"build\":$built,\"measure\":$measured}" | tee -a "$out"
  rm -rf "$dir"
}

for store in $stores; do
  run "$store" 0
  run "$store" "$n"
done

python3 - "$out" "$n" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
by = {(r["store"], r["n"]): r["measure"] for r in rows}
print()
print("Changes per second from 16 tasks; in brackets the p99 of one change alone (ms).")
print("| store | JWKs | create/s (p99) | update/s (p99) | delete/s (p99) | vs empty | memory/JWK | restart | JWKS 304/s | peer p99 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (store, size), m in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    empty = by.get((store, 0))
    ratio = ""
    per_jwk = ""
    if empty and size:
        ratio = "%.2f / %.2f / %.2f" % tuple(
            m[k]["perSecond"] / max(empty[k]["perSecond"], 1) for k in ("create", "update", "delete"))
        per_jwk = "%.0f B" % ((m["rssBytes"] - empty["rssBytes"]) / size)
    cell = lambda k: "%d (%.1f)" % (m[k]["perSecond"], m[k]["aloneP99Ms"])
    peer = "%.2f ms" % m["peer"]["p99Ms"] if "peer" in m else ""
    print(f"| {store} | {m['keys']} | {cell('create')} | {cell('update')} | {cell('delete')} | {ratio} | {per_jwk} | {m['restartSeconds']:.2f} s | {m['jwks304PerSecond']:.0f} | {peer} |")
EOF
