#!/usr/bin/env bash
# The crate seams hold: the facade with `default-features = false` is the conversion core
# alone (it builds, and nothing of the registry side is in its dependency tree), and the
# store adapters depend on jwk-store, not on the registry, its cryptography or its fetcher.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

# refuse PACKAGE CARGO-ARGS... -- CRATES...: fails when PACKAGE's normal dependencies hold one.
refuse() {
  local package=$1
  shift
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local tree
  tree=$(cargo tree --locked -p "$package" "${args[@]}" -e normal --prefix none)
  for crate in "$@"; do
    if printf '%s\n' "$tree" | awk '{print $1}' | grep -qx "$crate"; then
      echo "scripts/seams.sh: $package ${args[*]} depends on $crate" >&2
      status=1
    fi
  done
}

cargo check --locked -q -p jwk-engine --no-default-features --lib
refuse jwk-engine --no-default-features -- \
  axum hyper sled redb tokio-postgres tokio ureq jwk-registry jwk-server jwk-fetch
for adapter in jwk-store-sled jwk-store-redb jwk-store-postgres; do
  refuse "$adapter" -- jwk-registry jwk-core jwk-fetch aes-gcm ureq
done
# No import circle between the registry's modules (the check proves first that it finds one).
python3 scripts/modules.py --self-test || status=1
exit "$status"
