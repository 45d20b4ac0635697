#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis, against a live `omendb up`:
# no response may be a 5xx, and every response must match the status codes, content types and schemas the
# document declares. Needs OMENDB_BIN (the omendb binary) and schemathesis (PyPI); scripts/test has both.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${OMENDB_BIN:?set OMENDB_BIN to the omendb binary}"
max_time="${SCHEMATHESIS_MAX_TIME:-90}"

work="$(mktemp -d /tmp/omendb-schemathesis.XXXXXX)"
# Small quotas: fuzzing creates databases, and each one is a real server process.
cat >"$work/config.toml" <<'TOML'
[plans.free]
storage_gib = 1
max_connections = 20
cpu = 0.25
memory_mib = 256
auto_retrain = false
monitoring = "none"
pause_when_idle_s = 900
max_databases = 2
statement_timeout_ms = 60000

[plans.pro]
storage_gib = 50
max_connections = 200
cpu = 1.0
memory_mib = 2048
auto_retrain = true
monitoring = "metrics"
max_databases = 1
statement_timeout_ms = 0

[plans.enterprise]
storage_gib = 500
max_connections = 2000
cpu = 4.0
memory_mib = 16384
auto_retrain = true
monitoring = "full"
max_databases = 1
statement_timeout_ms = 0
TOML

RUST_LOG=warn "$OMENDB_BIN" up --config "$work/config.toml" --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/up.out" 2>"$work/up.err" &
up_pid=$!
cleanup() {
  kill -INT "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=""
for _ in $(seq 1 200); do
  base="$(sed -n 's/^control plane listening on //p' "$work/up.out")"
  [ -n "$base" ] && break
  kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.err"; echo "omendb up exited" >&2; exit 1; }
  sleep 0.05
done
[ -n "$base" ] || { echo "omendb up did not start" >&2; exit 1; }

token="$(python3 - "$base" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/v1/auth/signup", method="POST",
    data=json.dumps({"email": "fuzz@example.com", "password": "fuzzing is fun 123"}).encode(),
    headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["tokens"]["access_token"])
PY
)"

# Access tokens live 15 minutes: longer than the run. Its cache directory goes to the temp dir.
cd "$work"
set +e
schemathesis run "$base/v1/openapi.json" \
  --url "$base" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "$max_time" \
  --workers 2 \
  --suppress-health-check too_slow,filter_too_much \
  --request-timeout 30 \
  --seed 20261124 \
  "$@"
status=$?
if grep -E "panicked|ERROR" "$work/up.err"; then
  echo "omendb up logged errors during the run (above)" >&2
  exit 1
fi
exit $status
