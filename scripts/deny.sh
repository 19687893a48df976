#!/usr/bin/env bash
# Supply chain: bans, licenses and sources (deny.toml). The RustSec advisory database cannot be
# fetched from here; deny.toml lists the advisories accepted, with reasons, for a local run of
# `cargo deny check advisories` against a snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "scripts/deny.sh: installing cargo-deny" >&2
  cargo install --locked cargo-deny@0.20.2 >/dev/null
fi
# cargo-deny reads the metadata of every platform's crates (windows-sys …), which a Linux
# build never downloads: fetch them all first, or --offline fails on a fresh machine.
cargo fetch --locked --quiet
cargo deny --offline check bans licenses sources
