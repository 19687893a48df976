#!/usr/bin/env bash
# Measures the public JWKS against jwkd's own /healthz in one run, on loopback with wrk
# (2 threads, 64 connections, 10 s each): a release build on a fresh data dir with one memory
# environment serving 16 generated keys (8 P-256, 4 RSA-2048, 4 Ed25519), then
#   /healthz, /.well-known/jwks/production.json (200), the same with If-None-Match (304).
#   scripts/load-jwks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
cargo build --release --bin jwkd
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
dir=$(mktemp -d)
"$TARGET/release/jwkd" --data-dir "$dir" serve --listen 127.0.0.1:18091 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do [ -s "$dir/admin-token" ] && break; sleep 0.1; done
T=$(cat "$dir/admin-token"); B=http://127.0.0.1:18091
post() { curl -sf -X POST "$B$1" -H "Authorization: Bearer $T" -d "$2" >/dev/null; }
post /apiops/environments/ '{"name":"production","target":{"type":"memory"}}'
post /apiops/projects/ '{"name":"MyProject"}'
for i in $(seq 1 8); do
  post /apiops/projects/MyProject/jwks/generate/ "{\"name\":\"ec-$i\",\"keyType\":\"EC\",\"curve\":\"P-256\",\"useType\":\"SIGNATURE\",\"algorithm\":\"ES256\"}"
done
for i in $(seq 1 4); do
  post /apiops/projects/MyProject/jwks/generate/ "{\"name\":\"rsa-$i\",\"keyType\":\"RSA\",\"keySize\":2048,\"useType\":\"SIGNATURE\",\"algorithm\":\"RS256\"}"
  post /apiops/projects/MyProject/jwks/generate/ "{\"name\":\"ed-$i\",\"keyType\":\"OKP\",\"curve\":\"Ed25519\",\"useType\":\"SIGNATURE\",\"algorithm\":\"EdDSA\"}"
done
etag=$(curl -sfI "$B/.well-known/jwks/production.json" | tr -d '\r' | sed -n 's/^etag: //Ip')
keys=$(curl -sf "$B/.well-known/jwks/production.json" | grep -o '"kty"' | wc -l)
echo "== $keys keys, ETag $etag"
echo "== GET /healthz"
wrk -t2 -c64 -d10s --latency "$B/healthz"
echo "== GET /.well-known/jwks/production.json (200)"
wrk -t2 -c64 -d10s --latency "$B/.well-known/jwks/production.json"
echo "== GET /.well-known/jwks/production.json with If-None-Match (304)"
wrk -t2 -c64 -d10s --latency -H "If-None-Match: $etag" "$B/.well-known/jwks/production.json"
