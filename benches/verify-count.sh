#!/usr/bin/env bash
# Instructions per token verification, engine against jsonwebtoken, counted by callgrind:
# exact and repeatable whatever the machine's load, unlike wall-clock timings on a shared
# 2-core machine. One run per algorithm verifies the same token N + 1 times with each
# library; the figure is the inclusive cost of `jwk_verify::Verifier::verify` and of
# `jsonwebtoken::decode`, divided by N + 1.
# Usage: benches/verify-count.sh [N]   (default 200; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/peers"
n="${1:-200}"
cargo build --release --example count
printf '| token verification | engine (instructions) | jsonwebtoken (instructions) | engine / jsonwebtoken |\n|---|---|---|---|\n'
for alg in RS256 PS256 ES256 ES384 EdDSA HS256; do
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" target/release/examples/count "$alg" "$n" > /dev/null 2>&1
  costs=$(callgrind_annotate --inclusive=yes "$out")
  rm -f "$out"
  pick() { awk -v f="$1" '$0 ~ f {gsub(",", "", $1); print $1; exit}' <<< "$costs"; }
  e=$(pick 'jwk_verify::verify::Verifier::verify ')
  j=$(pick 'jsonwebtoken::decoding::decode ')
  python3 -c "n=$n+1; e=$e//n; j=$j//n; print(f'| $alg | {e:,} | {j:,} | {e/j:.2f}x |')"
done
