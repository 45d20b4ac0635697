#!/usr/bin/env bash
# System-catalog and third-party-tool tests (psycopg 3 + SQLAlchemy 2 + pytest, Django 5, the JDBC driver, psql, pg_dump): starts one
# `omendb server` (TLS + SCRAM-SHA-256) on free local ports and runs tests/catalog against it; when
# OMENDB_TEST_PG is set (a libpq conninfo of a real PostgreSQL, trust auth, no TLS, e.g.
# "host=127.0.0.1 port=5432 user=postgres"), runs the same suite against that PostgreSQL too, where every test
# must pass.
#
#   OMENDB_BIN=target/debug/omendb [OMENDB_TEST_PG=...] tests/catalog/run.sh [all|omendb|postgres] [pytest args]
#
# `all` (default) runs omendb, then PostgreSQL if OMENDB_TEST_PG is set; `postgres` needs no OMENDB_BIN.
# Extra arguments go to pytest (e.g. -k inspector -x). Exits non-zero if any run failed.
set -euo pipefail

suite=catalog
here="$(cd "$(dirname "$0")" && pwd)"
target_var=CATALOG_TARGET
suite_checks=(
  "python3 -c 'import sqlalchemy' 2>/dev/null || die \"needs SQLAlchemy 2 (its postgresql+psycopg dialect): python3 -m pip install 'sqlalchemy>=2'\""
  "python3 -c 'import sqlalchemy, sys; sys.exit(int(sqlalchemy.__version__.split(\".\")[0]) < 2)' || die \"needs SQLAlchemy 2: python3 -m pip install 'sqlalchemy>=2'\""
  "python3 -c 'import django' 2>/dev/null || die \"needs Django 5: python3 -m pip install 'django>=5,<6'\""
  "python3 -c 'import alembic' 2>/dev/null || die \"needs Alembic: python3 -m pip install 'alembic>=1.13,<2'\""
  "{ command -v javac >/dev/null && [ -f /usr/share/java/postgresql.jar ]; } || die \"needs a JDK and the PostgreSQL JDBC driver: apt-get install default-jdk-headless libpostgresql-jdbc-java\""
)
suite_versions='import psycopg, sqlalchemy; print(f"psycopg {psycopg.__version__}, SQLAlchemy {sqlalchemy.__version__}")'
# shellcheck source=../support/pytest-suite.sh
. "$here/../support/pytest-suite.sh"
