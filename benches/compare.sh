#!/usr/bin/env bash
# Runs the key-conversion benchmarks (engine and RustCrypto floor, benches/convert.rs) and the
# peer benchmarks (engine and josekit, benches/peers, its own workspace), then prints one
# table with the ratios. Arguments go to criterion, e.g. `benches/compare.sh --quick`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench convert -- "$@"
(cd benches/peers && cargo bench -- "$@")
python3 benches/table.py
