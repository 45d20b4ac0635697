#!/usr/bin/env bash
# Real-driver tests: starts one `omendb server` (TLS + SCRAM-SHA-256) on free local ports and runs the
# psycopg 3 (python) and/or node-postgres (node) suites against it.
#
#   OMENDB_BIN=target/debug/omendb tests/drivers/run.sh [python|node|all]     (default: all)
#
# Needs: openssl, python3 with psycopg 3 and pytest (python suite), node >= 20 and npm (node suite).
# Exits non-zero if any suite failed. The server and its temp dir are removed on exit (also on Ctrl-C).
set -euo pipefail

usage() { echo "usage: OMENDB_BIN=/path/to/omendb $0 [python|node|all]" >&2; }
die() { echo "tests/drivers/run.sh: $*" >&2; exit 2; }

suite="${1:-all}"
case "$suite" in
  python | node | all) ;;
  -h | --help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"

[ -n "${OMENDB_BIN:-}" ] || { usage; die "OMENDB_BIN is not set (path of the omendb binary to test)"; }
case "$OMENDB_BIN" in /*) ;; */*) OMENDB_BIN="$PWD/$OMENDB_BIN" ;; esac
[ -x "$OMENDB_BIN" ] || OMENDB_BIN="$(command -v "$OMENDB_BIN" 2>/dev/null || true)"
[ -n "$OMENDB_BIN" ] && [ -x "$OMENDB_BIN" ] || die "OMENDB_BIN is not an executable file"
command -v python3 >/dev/null || die "python3 is required (free ports, readiness check, python suite)"
if [ "$suite" != node ]; then
  python3 -c 'import psycopg, pytest' 2>/dev/null \
    || die "the python suite needs psycopg 3 and pytest: python3 -m pip install 'psycopg[binary]' pytest"
fi
if [ "$suite" != python ]; then
  command -v node >/dev/null || die "node (>= 20) is required for the node suite"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/omendb-drivers.XXXXXX")"
# shellcheck source=../support/tls-server.sh
. "$here/../support/tls-server.sh"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  server_stop
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '\n==> %s\n' "$*"; }

# --- server ---------------------------------------------------------------------------------------
server_start

export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=owner PGPASSWORD="$password" PGDATABASE=omendb
export PGSSLMODE=require
unset PGSERVICE PGSSLROOTCERT PGPASSFILE PGOPTIONS 2>/dev/null || true

# --- suites ---------------------------------------------------------------------------------------
failed=()

if [ "$suite" = python ] || [ "$suite" = all ]; then
  log "python: psycopg $(python3 -c 'import psycopg; print(psycopg.__version__)')"
  if ! (cd "$here/python" && PYTHONDONTWRITEBYTECODE=1 python3 -m pytest -q -p no:cacheprovider -rxX .); then
    failed+=(python)
  fi
fi

if [ "$suite" = node ] || [ "$suite" = all ]; then
  log "node: node-postgres (node $(node --version))"
  if [ ! -d "$here/node/node_modules/sequelize" ]; then
    command -v npm >/dev/null || die "npm is required to install the node suite's dependencies"
    (cd "$here/node" && npm ci --no-audit --no-fund)
  fi
  if ! (cd "$here/node" && node --test --test-reporter=spec); then
    failed+=(node)
  fi
  # The ORM suite also runs against PostgreSQL (the driver suite checks OmenDB's wire details only).
  if [ -n "${OMENDB_TEST_PG:-}" ]; then
    log "node: Sequelize against PostgreSQL ($OMENDB_TEST_PG)"
    pg_env="$(python3 -c 'import os, shlex
d = dict(kv.split("=", 1) for kv in os.environ["OMENDB_TEST_PG"].split())
print(" ".join(f"PG{k.upper()}={shlex.quote(v)}" for k, v in d.items() if k in ("host", "port", "user", "password")))')"
    if ! (cd "$here/node" && env PGDATABASE=postgres PGPASSWORD= PGSSLMODE=disable DRIVER_TESTS_PLAINTEXT=1 $pg_env \
        node --test --test-reporter=spec test/sequelize.test.js); then
      failed+=(node-postgres)
    fi
  elif [ -n "${OMENDB_NO_SKIP:-}" ]; then
    echo "tests/drivers/run.sh: OMENDB_TEST_PG is not set and OMENDB_NO_SKIP forbids skipping the PostgreSQL run" >&2
    failed+=(node-postgres)
  else
    log "node: Sequelize against PostgreSQL: SKIPPED (OMENDB_TEST_PG is not set)"
  fi
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "tests/drivers/run.sh: the server died while the tests ran" >&2
  failed+=(server)
fi

if [ "${#failed[@]}" -gt 0 ]; then
  server_log_tail
  echo "tests/drivers/run.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo
echo "tests/drivers/run.sh: $suite passed"
