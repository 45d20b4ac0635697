#!/usr/bin/env bash
# Concurrency and isolation tests (psycopg 3 + pytest): starts one `omendb server` (TLS + SCRAM-SHA-256) on
# free local ports and runs tests/isolation against it; when OMENDB_TEST_PG is set (a libpq conninfo of a real
# PostgreSQL, trust auth, no TLS, e.g. "host=127.0.0.1 port=5432 user=postgres"), runs the same suite against
# that PostgreSQL too, where every test must pass.
#
#   OMENDB_BIN=target/debug/omendb [OMENDB_TEST_PG=...] tests/isolation/run.sh [all|omendb|postgres] [pytest args]
#
# `all` (default) runs omendb, then PostgreSQL if OMENDB_TEST_PG is set; `postgres` needs no OMENDB_BIN.
# Extra arguments go to pytest (e.g. -k g2 -x). Exits non-zero if any run failed.
set -euo pipefail

usage() { echo "usage: OMENDB_BIN=/path/to/omendb [OMENDB_TEST_PG=conninfo] $0 [all|omendb|postgres] [pytest args]" >&2; }
die() { echo "tests/isolation/run.sh: $*" >&2; exit 2; }

mode=all
case "${1:-}" in
  all | omendb | postgres) mode="$1"; shift ;;
  -h | --help) usage; exit 0 ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"

command -v python3 >/dev/null || die "python3 is required"
python3 -c 'import psycopg, pytest' 2>/dev/null \
  || die "needs psycopg 3 and pytest: python3 -m pip install 'psycopg[binary]>=3.1' pytest"
if [ "$mode" = postgres ] && [ -z "${OMENDB_TEST_PG:-}" ]; then
  usage; die "OMENDB_TEST_PG is not set (libpq conninfo of the PostgreSQL to compare with)"
fi

run_pytest() {   # target, then pytest args
  local target="$1"; shift
  (cd "$here" && ISOLATION_TARGET="$target" PYTHONDONTWRITEBYTECODE=1 \
    python3 -m pytest -q -p no:cacheprovider -rfExX "$@" .)
}

failed=()

# --- PostgreSQL: the reference ----------------------------------------------------------------------------
run_postgres() {
  printf '\n==> postgres: %s (psycopg %s)\n' "$OMENDB_TEST_PG" "$(python3 -c 'import psycopg; print(psycopg.__version__)')"
  # The libpq environment of the omendb run (password, sslmode=require, ...) must not leak into this one.
  if ! (
    unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE PGSERVICE PGOPTIONS PGSSLROOTCERT PGPASSFILE
    run_pytest postgres "$@"
  ); then
    failed+=(postgres)
  fi
}

if [ "$mode" = postgres ]; then
  run_postgres "$@"
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "tests/isolation/run.sh: FAILED: ${failed[*]}" >&2
    exit 1
  fi
  echo; echo "tests/isolation/run.sh: postgres passed"
  exit 0
fi

# --- omendb -----------------------------------------------------------------------------------------------
[ -n "${OMENDB_BIN:-}" ] || { usage; die "OMENDB_BIN is not set (path of the omendb binary to test)"; }
case "$OMENDB_BIN" in /*) ;; */*) OMENDB_BIN="$PWD/$OMENDB_BIN" ;; esac
[ -x "$OMENDB_BIN" ] || OMENDB_BIN="$(command -v "$OMENDB_BIN" 2>/dev/null || true)"
[ -n "$OMENDB_BIN" ] && [ -x "$OMENDB_BIN" ] || die "OMENDB_BIN is not an executable file"
command -v openssl >/dev/null || die "openssl is required (self-signed TLS certificate)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/omendb-isolation.XXXXXX")"
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log_tail() {
  echo "---- last lines of the server log ($tmp/server.log) ----" >&2
  tail -n 40 "$tmp/server.log" >&2 || true
  echo "----" >&2
}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$tmp/server.key" -out "$tmp/server.crt" >/dev/null 2>&1 || die "openssl could not create a certificate"
chmod 600 "$tmp/server.key"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
pg_port="$(free_port)"
http_port="$(free_port)"
while [ "$http_port" = "$pg_port" ]; do http_port="$(free_port)"; done

password="$(openssl rand -hex 16)"
verifier="$(printf '%s' "$password" | "$OMENDB_BIN" passwd)" || die "'$OMENDB_BIN passwd' failed"

printf '\n==> starting %s server on 127.0.0.1:%s (http 127.0.0.1:%s)\n' "$OMENDB_BIN" "$pg_port" "$http_port"
mkdir "$tmp/data"
OMENDB_USER="owner:$verifier" "$OMENDB_BIN" server \
  --data-dir "$tmp/data" \
  --listen "127.0.0.1:$pg_port" \
  --http-listen "127.0.0.1:$http_port" \
  --database omendb \
  --tls-cert "$tmp/server.crt" --tls-key "$tmp/server.key" \
  >"$tmp/server.log" 2>&1 </dev/null &
server_pid=$!

ready=0
for _ in $(seq 600); do   # up to 60 s: debug builds start slowly
  if ! kill -0 "$server_pid" 2>/dev/null; then
    server_log_tail
    die "the server exited during startup"
  fi
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$http_port/ready" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  server_log_tail
  die "the server did not become ready within 60 s"
fi

printf '\n==> omendb (expected failures: %s)\n' "$here/expected_failures.txt"
if ! (
  export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=owner PGPASSWORD="$password" PGDATABASE=omendb
  export PGSSLMODE=require
  unset PGSERVICE PGSSLROOTCERT PGPASSFILE PGOPTIONS 2>/dev/null || true
  run_pytest omendb "$@"
); then
  failed+=(omendb)
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "tests/isolation/run.sh: the server died while the tests ran" >&2
  failed+=(server)
fi

if [ -n "${OMENDB_TEST_PG:-}" ]; then
  run_postgres "$@"
elif [ -n "${OMENDB_NO_SKIP:-}" ]; then
  echo "tests/isolation/run.sh: OMENDB_TEST_PG is not set and OMENDB_NO_SKIP forbids skipping the PostgreSQL run" >&2
  failed+=(postgres)
else
  printf '\n==> postgres: SKIPPED (OMENDB_TEST_PG is not set): the suite is only checked on OmenDB\n'
fi

if [ "${#failed[@]}" -gt 0 ]; then
  case " ${failed[*]} " in *" omendb "* | *" server "*) server_log_tail ;; esac
  echo "tests/isolation/run.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo
echo "tests/isolation/run.sh: passed"
