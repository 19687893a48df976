#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests call that a fresh Debian machine
# with only the Rust toolchain lacks (the openssl CLI, which makes test keys at run time).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v openssl >/dev/null 2>&1; then
  echo "scripts/test.sh: installing the openssl CLI (tests generate keys with it)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

exec cargo test --workspace --locked "$@"
