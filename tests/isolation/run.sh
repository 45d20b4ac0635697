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

suite=isolation
here="$(cd "$(dirname "$0")" && pwd)"
target_var=ISOLATION_TARGET
suite_checks=()
suite_versions='import psycopg; print(f"psycopg {psycopg.__version__}")'
# shellcheck source=../support/pytest-suite.sh
. "$here/../support/pytest-suite.sh"
