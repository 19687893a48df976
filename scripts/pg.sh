#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests, on a loopback port in a temporary directory.
#   source scripts/pg.sh && pg_start     exports JWK_TEST_POSTGRES (a superuser URL) and
#                                        JWK_TEST_POSTGRES_CA (the CA of its TLS certificate),
#                                        stops and deletes the server when the shell exits
#   scripts/pg.sh                        starts one, prints its URL, waits until Ctrl-C
# Uses initdb/pg_ctl from /usr/lib/postgresql/*/bin (Debian's postgresql package, installed
# when missing). PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user (created by the package).

pg_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
    fi
  done | sort -V | tail -n 1
}

pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  local bin
  bin="$(pg_bin_dir)"
  if [ -z "$bin" ]; then
    echo "scripts/pg.sh: installing PostgreSQL (the store tests run a throw-away server)" >&2
    pg_as_root apt-get update -qq
    pg_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin="$(pg_bin_dir)"
  fi
  if [ -z "$bin" ]; then
    echo "scripts/pg.sh: no initdb/pg_ctl under /usr/lib/postgresql/*/bin" >&2
    return 1
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    pg_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
  fi
  PG_DIR="$(mktemp -d /tmp/jwk-pg.XXXXXX)"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  PG_RUN=("${run[@]}")
  PG_CTL="$bin/pg_ctl"
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync \
    -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || {
    cat "$PG_DIR/initdb.log" >&2
    return 1
  }
  pg_tls "${run[@]}" || return 1
  local port tries=0
  while :; do
    port="$(pg_free_port)"
    if "${run[@]}" "$PG_CTL" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 \
          -c ssl=on -c ssl_cert_file=$PG_DIR/server.pem -c ssl_key_file=$PG_DIR/server.key" \
      start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then
      cat "$PG_DIR/server.log" >&2
      return 1
    fi
  done
  trap pg_stop EXIT
  export JWK_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
  export JWK_TEST_POSTGRES_CA="$PG_DIR/ca.pem"
  echo "scripts/pg.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

# TLS for the TLS tests: a throw-away CA and a server certificate for IP 127.0.0.1 only (so
# "localhost" fails the name check), and the role jwk_scram, which must log in with SCRAM
# over TLS (channel binding is then possible). Runs as the server's user ("$@" prefix).
pg_tls() {
  local d="$PG_DIR"
  "$@" openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/ca.key" -subj /CN=jwk-test-ca -days 2 -out "$d/ca.pem" 2>/dev/null &&
    "$@" openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$d/server.key" -subj /CN=127.0.0.1 -out "$d/server.csr" 2>/dev/null &&
    "$@" sh -c "printf 'subjectAltName=IP:127.0.0.1\n' >'$d/server.ext'" &&
    "$@" openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
      -set_serial 1 -days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null || {
    echo "scripts/pg.sh: cannot make the TLS certificates (openssl)" >&2
    return 1
  }
  local hba="$d/data/pg_hba.conf"
  "$@" sh -c "{ printf 'hostssl all jwk_scram 127.0.0.1/32 scram-sha-256\nhost all jwk_scram 127.0.0.1/32 reject\n'; cat '$hba'; } >'$hba.new' && mv '$hba.new' '$hba'"
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUN[@]}" "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  pg_start
  echo "$JWK_TEST_POSTGRES"
  trap 'pg_stop; exit 0' INT TERM
  # `wait` returns as soon as a signal arrives (a foreground sleep would hold the trap).
  while :; do
    sleep 3600 &
    wait $!
  done
fi
