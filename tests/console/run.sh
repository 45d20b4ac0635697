#!/usr/bin/env bash
# Browser tests of the web console: starts `$OMENDB_BIN up` itself (on a free loopback port, with the
# console files embedded in that binary) and drives Debian's Chromium through playwright-core.
#
#   OMENDB_BIN=target/debug/omendb tests/console/run.sh [test files in tests/console, default all]
#
# billing.test.mjs also runs a second `omendb up` with Stripe settings, against a fake Stripe in the test.
#
# CONSOLE_WEB_DIR=web (optional, console development only) makes the service read the console files from
# that directory instead of the embedded copy, so a change to web/ needs no rebuild.
set -euo pipefail

# Paths are taken relative to where run.sh was started.
if [[ -z "${OMENDB_BIN:-}" ]]; then
  echo "run.sh: set OMENDB_BIN to the omendb binary" >&2
  exit 2
fi
OMENDB_BIN="$(cd "$(dirname "$OMENDB_BIN")" && pwd)/$(basename "$OMENDB_BIN")"
if [[ ! -x "$OMENDB_BIN" ]]; then
  echo "run.sh: $OMENDB_BIN is not an executable" >&2
  exit 2
fi
export OMENDB_BIN
if [[ -n "${CONSOLE_WEB_DIR:-}" ]]; then
  CONSOLE_WEB_DIR="$(cd "$CONSOLE_WEB_DIR" && pwd)"
  export CONSOLE_WEB_DIR
fi
cd "$(dirname "$0")"

unset OMENDB_CP_WEB_DIR

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "run.sh: no Chromium at $CHROMIUM (Debian: apt-get install chromium)" >&2
  exit 2
fi
export CHROMIUM

if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
rm -rf artifacts
mkdir -p artifacts
if (($# == 0)); then
  set -- console.test.mjs billing.test.mjs
fi
exec node --test --test-concurrency=1 "$@"
