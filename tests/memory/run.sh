#!/usr/bin/env bash
# Tables larger than memory: tests/memory/test_bounded_memory.py against a release build of omendb.
#
#   OMENDB_BIN=target/release/omendb tests/memory/run.sh [pytest args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -n "${OMENDB_BIN:-}" ] || { echo "tests/memory/run.sh: OMENDB_BIN is not set (a release build)" >&2; exit 2; }
case "$OMENDB_BIN" in /*) ;; *) OMENDB_BIN="$PWD/$OMENDB_BIN" ;; esac
export OMENDB_BIN
cd "$here" && PYTHONDONTWRITEBYTECODE=1 exec python3 -m pytest -q -s -p no:cacheprovider -rfE "$@" test_bounded_memory.py
