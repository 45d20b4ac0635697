# The driver shared by the pytest suites that run on OmenDB and on the real PostgreSQL (tests/isolation,
# tests/catalog). A suite's run.sh sets, then sources this file:
#   suite          its directory name under tests/ (messages, temporary directory)
#   here           its directory
#   target_var     the environment variable its conftest.py reads the target from (omendb | postgres)
#   suite_checks   shell commands checking its Python dependencies (each `die`s with an install hint)
#   suite_versions Python code printing the versions of what it tests with
# and passes its arguments: [all|omendb|postgres] [pytest args]. One `omendb server` (TLS + SCRAM-SHA-256,
# tests/support/tls-server.sh) on free local ports; PostgreSQL from OMENDB_TEST_PG (libpq conninfo, trust
# auth, no TLS), where every test must pass. Exits non-zero if any run failed.


usage() { echo "usage: OMENDB_BIN=/path/to/omendb [OMENDB_TEST_PG=conninfo] $0 [all|omendb|postgres] [pytest args]" >&2; }
die() { echo "tests/$suite/run.sh: $*" >&2; exit 2; }

mode=all
case "${1:-}" in
  all | omendb | postgres) mode="$1"; shift ;;
  -h | --help) usage; exit 0 ;;
esac

command -v python3 >/dev/null || die "python3 is required"
python3 -c 'import psycopg, pytest' 2>/dev/null \
  || die "needs psycopg 3 and pytest: python3 -m pip install 'psycopg[binary]>=3.1' pytest"
for check in "${suite_checks[@]}"; do eval "$check"; done
if [ "$mode" = postgres ] && [ -z "${OMENDB_TEST_PG:-}" ]; then
  usage; die "OMENDB_TEST_PG is not set (libpq conninfo of the PostgreSQL to compare with)"
fi

run_pytest() {   # target, then pytest args
  local target="$1"; shift
  (cd "$here" && env "$target_var=$target" PYTHONDONTWRITEBYTECODE=1 \
    python3 -m pytest -q -p no:cacheprovider -rfExX "$@" .)
}

failed=()

# --- PostgreSQL: the reference ----------------------------------------------------------------------------
run_postgres() {
  printf '\n==> postgres: %s (%s)\n' "$OMENDB_TEST_PG" "$(python3 -c "$suite_versions")"
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
    echo "tests/$suite/run.sh: FAILED: ${failed[*]}" >&2
    exit 1
  fi
  echo; echo "tests/$suite/run.sh: postgres passed"
  exit 0
fi

# --- omendb -----------------------------------------------------------------------------------------------
[ -n "${OMENDB_BIN:-}" ] || { usage; die "OMENDB_BIN is not set (path of the omendb binary to test)"; }
case "$OMENDB_BIN" in /*) ;; */*) OMENDB_BIN="$PWD/$OMENDB_BIN" ;; esac
[ -x "$OMENDB_BIN" ] || OMENDB_BIN="$(command -v "$OMENDB_BIN" 2>/dev/null || true)"
[ -n "$OMENDB_BIN" ] && [ -x "$OMENDB_BIN" ] || die "OMENDB_BIN is not an executable file"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/omendb-$suite.XXXXXX")"
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

server_start

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
  echo "tests/$suite/run.sh: the server died while the tests ran" >&2
  failed+=(server)
fi

if [ -n "${OMENDB_TEST_PG:-}" ]; then
  run_postgres "$@"
elif [ -n "${OMENDB_NO_SKIP:-}" ]; then
  echo "tests/$suite/run.sh: OMENDB_TEST_PG is not set and OMENDB_NO_SKIP forbids skipping the PostgreSQL run" >&2
  failed+=(postgres)
else
  printf '\n==> postgres: SKIPPED (OMENDB_TEST_PG is not set): the suite is only checked on OmenDB\n'
fi

if [ "${#failed[@]}" -gt 0 ]; then
  case " ${failed[*]} " in *" omendb "* | *" server "*) server_log_tail ;; esac
  echo "tests/$suite/run.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo
echo "tests/$suite/run.sh: passed"
