#!/usr/bin/env bash
# Runs the key-conversion benchmarks (engine and RustCrypto floor, benches/convert.rs), the
# VerifyLayer overhead (benches/verify.rs) and the peer benchmarks (engine against josekit
# and jsonwebtoken, benches/peers, its own workspace), then prints the tables with the
# ratios. Arguments go to criterion, e.g. `benches/compare.sh --quick`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench convert -- "$@"
cargo bench --bench verify -- "$@"
(cd benches/peers && cargo bench -- "$@")
python3 benches/table.py
