#!/usr/bin/env bash
# Runs Schemathesis (`--checks all`, bounded in time) against a throw-away jwkd on loopback,
# testing the served OpenAPI document against what the server answers. Installs python3-venv
# when missing and Schemathesis (pinned) in a venv under cargo's target directory.
#   scripts/schemathesis.sh [seconds]   (default 120)
# The run is reproducible: a fixed seed (JWK_SCHEMATHESIS_SEED; set it to "random" to explore
# new cases, as a change of the API or the document deserves, for minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-120}"
version=4.32.5
# shellcheck source=scripts/target-dir.sh
source scripts/target-dir.sh
venv=$TARGET/schemathesis-venv

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "scripts/schemathesis.sh: installing python3-venv" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi

cargo build --locked -q --bin jwkd
work=$(mktemp -d)
jwkd_pid=
cleanup() {
  if [ -n "$jwkd_pid" ]; then kill "$jwkd_pid" 2>/dev/null || true; wait "$jwkd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$TARGET/debug/jwkd" serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  >"$work/stdout" 2>"$work/stderr" &
jwkd_pid=$!
base=
for _ in $(seq 1 100); do
  base=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$work/stdout")
  [ -n "$base" ] && break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "scripts/schemathesis.sh: jwkd did not start" >&2
  cat "$work/stderr" >&2
  exit 1
fi
token=$(cat "$work/data/admin-token")

# Data the examples in the document name, so operations reach past their 404s (with the venv's
# Python: a fresh machine may have no curl).
call() {
  "$venv/bin/python" - "$base" "$token" "$@" <<'PY'
import sys, urllib.request, urllib.error
base, token, method, path, body = sys.argv[1:6]
request = urllib.request.Request(base + path, data=body.encode(), method=method,
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
try:
    urllib.request.urlopen(request, timeout=30).read()
except urllib.error.HTTPError as e:
    sys.exit(f"scripts/schemathesis.sh: {method} {path} answered {e.code}: {e.read().decode()}")
PY
}
call POST /apiops/environments/ '{"name":"production","target":{"type":"memory"}}'
call POST /apiops/projects/ '{"name":"MyProject"}'
call POST /apiops/projects/MyProject/jwks/ \
  '{"name":"my-jwk","sourceType":"COPY_PASTE","jwkStr":"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\",\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"kid\":\"1\"}"}'
call POST /apiops/projects/MyProject/credentials/ '{"username":"api-user"}'
call POST /apiops/users/ '{"username":"alice"}'
certificate=$("$venv/bin/python" -c 'import json, sys; print(json.dumps({"name": "my-certificate", "environmentName": "production", "pem": open(sys.argv[1]).read()}))' testdata/samples/p256-cert.pem)
call POST /apiops/projects/MyProject/certificates/ "$certificate"

seed=(--seed "${JWK_SCHEMATHESIS_SEED:-20261130}")
if [ "${JWK_SCHEMATHESIS_SEED:-}" = random ]; then seed=(); fi

status=0
"$venv/bin/schemathesis" --no-color --config-file scripts/schemathesis.toml run \
  "${seed[@]}" \
  "$base/apiops/openapi.json" --url "$base" \
  --checks all \
  -H "Authorization: Bearer $token" \
  --max-time "$budget" --workers 1 --request-timeout 30 \
  || status=$?
if [ "$status" != 0 ]; then
  echo "scripts/schemathesis.sh: Schemathesis found failures (exit $status); jwkd's log:" >&2
  tail -n 50 "$work/stderr" >&2
fi
exit "$status"
