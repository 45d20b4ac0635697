# Sourced by the real-driver suites (tests/drivers/run.sh, tests/isolation/run.sh): one `omendb server` with
# TLS (a throwaway self-signed certificate) and a SCRAM-SHA-256 user `owner`, on free local ports.
#
# The caller defines `die MESSAGE`, sets `tmp` (a private temporary directory it removes) and `OMENDB_BIN`.
# `server_start` sets `server_pid`, `pg_port`, `http_port` and `password` and returns once /ready answers;
# `server_stop` ends the server (TERM, then KILL after 5 s); `server_log_tail` prints the end of its log.

server_pid=""

server_log_tail() {
  echo "---- last lines of the server log ($tmp/server.log) ----" >&2
  tail -n 40 "$tmp/server.log" >&2 || true
  echo "----" >&2
}

server_stop() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

server_start() {
  command -v openssl >/dev/null || die "openssl is required (self-signed TLS certificate)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tmp/server.key" -out "$tmp/server.crt" >/dev/null 2>&1 || die "openssl could not create a certificate"
  chmod 600 "$tmp/server.key"
  # Self-signed: the certificate is its own CA, for sslmode=verify-full.
  export OMENDB_TLS_CA="$tmp/server.crt"

  pg_port="$(free_port)"
  http_port="$(free_port)"
  while [ "$http_port" = "$pg_port" ]; do http_port="$(free_port)"; done

  password="$(openssl rand -hex 16)"
  local verifier
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

  local ready=0
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
}
