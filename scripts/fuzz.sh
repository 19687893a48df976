#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (default 20): seeds the corpora from the test vectors,
# then runs cargo-fuzz on stable with RUSTC_BOOTSTRAP=1. A long campaign:
#   scripts/fuzz.sh 3600            (an hour per target)
#   scripts/fuzz.sh 0 jwk_str       (one target until stopped)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jwk_str jwk_struct pem der pkcs12 encrypted_pkcs8 fetch_response jws_verify)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz@0.13.2 >/dev/null
fi

if ! command -v python3 >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3 >/dev/null
fi
python3 scripts/fuzz_seeds.py fuzz/corpus

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build --release
for t in "${targets[@]}"; do
  args=(-rss_limit_mb=2048 -max_len=65536 -timeout=10)
  [ "$seconds" = 0 ] || args+=(-max_total_time="$seconds")
  echo "fuzz: $t for ${seconds}s"
  cargo fuzz run --release "$t" "corpus/$t" -- "${args[@]}" 2>&1 | grep -E "^(Done|#[0-9]+ *DONE|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  found=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) 2>/dev/null | head -n 1)
  if [ -n "$found" ]; then
    echo "fuzz: $t found a failing input: fuzz/$found" >&2
    exit 1
  fi
done
