#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests call that a fresh Debian machine
# with only the Rust toolchain lacks (the openssl CLI, which makes test keys at run time,
# Chromium and chromedriver for the web console's browser test, PostgreSQL, python3-venv and
# Schemathesis), runs a throw-away PostgreSQL on loopback for the PostgreSQL store tests
# (scripts/pg.sh; stopped and deleted when the tests end), then Schemathesis against a
# throw-away jwkd (scripts/schemathesis.sh).
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

if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
  echo "scripts/test.sh: installing Chromium and chromedriver (the web console's browser test)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# Without a browser the console test would skip; here it must run.
export JWK_REQUIRE_BROWSER=1

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start
# Without a server the PostgreSQL tests would skip; here they must run.
export JWK_REQUIRE_POSTGRES=1
status=0
# The crate seams: the facade without default features, the store adapters.
scripts/seams.sh || status=$?
cargo test --workspace --locked "$@" || status=$?
# The OpenAPI document against the running server (Schemathesis, `--checks all`, bounded in
# time: JWK_SCHEMATHESIS_SECONDS, default 120).
if [ "$status" = 0 ]; then
  scripts/schemathesis.sh "${JWK_SCHEMATHESIS_SECONDS:-120}" || status=$?
fi
exit "$status"
