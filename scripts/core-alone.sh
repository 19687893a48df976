#!/usr/bin/env bash
# The facade with `default-features = false` is the conversion core alone: it builds, and
# nothing of the registry side (HTTP server, stores, async runtime, HTTP client) is in its
# dependency tree.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo check --locked -q -p jwk-engine --no-default-features --lib
tree=$(cargo tree --locked -p jwk-engine --no-default-features -e normal --prefix none)
status=0
for heavy in axum hyper sled redb tokio-postgres tokio ureq jwk-registry jwk-server jwk-fetch; do
  if printf '%s\n' "$tree" | awk '{print $1}' | grep -qx "$heavy"; then
    echo "scripts/core-alone.sh: jwk-engine without default features depends on $heavy" >&2
    status=1
  fi
done
exit "$status"
