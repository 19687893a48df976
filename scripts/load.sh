#!/usr/bin/env bash
# Measures jwkd on loopback with wrk (64 connections, 10 s): GET of one JWK, then Create JWK
# with unique names, against a release build on a fresh data dir with one memory environment.
#   scripts/load.sh          over HTTP
#   scripts/load.sh --tls    over HTTPS (a throw-away self-signed P-256 certificate)
set -euo pipefail
cd "$(dirname "$0")/.."
tls=()
scheme=http
curl_tls=()
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --bin jwkd
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
dir=$(mktemp -d)
if [ "${1:-}" = --tls ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/tls.key" \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 -out "$dir/tls.pem" 2>/dev/null
  tls=(--tls-cert "$dir/tls.pem" --tls-key "$dir/tls.key")
  scheme=https
  curl_tls=(--cacert "$dir/tls.pem")
fi
"$TARGET/release/jwkd" --data-dir "$dir" serve --listen 127.0.0.1:18090 "${tls[@]}" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
sleep 2
T=$(cat "$dir/admin-token"); B=$scheme://127.0.0.1:18090
curl -s "${curl_tls[@]}" -X POST $B/apiops/environments/ -H "Authorization: Bearer $T" -d '{"name":"production","target":{"type":"memory"}}' >/dev/null
curl -s "${curl_tls[@]}" -X POST $B/apiops/projects/ -H "Authorization: Bearer $T" -d '{"name":"MyProject"}' >/dev/null
curl -s "${curl_tls[@]}" -X POST $B/apiops/projects/MyProject/jwks/ -H "Authorization: Bearer $T" \
  -d '{"name":"my-jwk","sourceType":"COPY_PASTE","jwkStr":"{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}"}' >/dev/null
echo "== GET /apiops/projects/MyProject/jwks/my-jwk/"
wrk -t2 -c64 -d10s --latency -H "Authorization: Bearer $T" $B/apiops/projects/MyProject/jwks/my-jwk/
echo "== POST /apiops/projects/MyProject/jwks/ (create)"
TOKEN=$T wrk -t2 -c64 -d10s --latency -s scripts/load-create.lua $B
