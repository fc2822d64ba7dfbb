#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the store tests.
#
#   eval "$(.ci/postgres.sh)"      # start (or reuse) it; exports HBBACKTEST_TEST_POSTGRES_URL
#   .ci/postgres.sh stop           # stop it and delete its files
#
# Installs Debian's `postgresql` with apt-get when no server binaries are found (CI: root on a
# fresh Debian machine). The cluster lives in $HBBACKTEST_PG_DIR (default /tmp/hbbacktest-pg-<uid>),
# owned by an unprivileged user (the server refuses to run as root), listens on 127.0.0.1 only,
# on a free port, with durability off (fsync=off: it is a test server). Running the script again
# reuses a running server, or restarts the existing cluster, so it is idempotent and fast.
# Only the `export` line goes to stdout; progress goes to stderr.
set -euo pipefail

DIR="${HBBACKTEST_PG_DIR:-${TMPDIR:-/tmp}/hbbacktest-pg-$(id -u)}"
ROLE=hbb
PASSWORD=hbb
DATABASE=hbb_test

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local ctl
  if ctl="$(command -v pg_ctl 2>/dev/null)" && [ -x "$(dirname "$ctl")/initdb" ]; then
    dirname "$(readlink -f "$ctl")"
    return 0
  fi
  # Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
  ctl="$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$ctl" ] && [ -x "$(dirname "$ctl")/initdb" ]; then
    dirname "$ctl"
    return 0
  fi
  return 1
}

# Run a command as the cluster's owner (ourselves unless we are root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
  python3 -c '
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$1"
}

print_url() {
  echo "export HBBACKTEST_TEST_POSTGRES_URL=postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$(cat "$DIR/port")/$DATABASE"
}

if [ "${1:-start}" = "stop" ]; then
  if [ -f "$DIR/data/PG_VERSION" ] && BIN="$(find_bin)"; then
    owner="$(stat -c %U "$DIR/data")"
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u "$owner" -- "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    else
      "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$DIR"
  log "stopped, removed $DIR"
  exit 0
fi

if ! BIN="$(find_bin)"; then
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL server binaries (pg_ctl, initdb) not found; install Debian's postgresql (as root)"
    exit 1
  fi
  log "installing Debian's postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(find_bin)" || { log "postgresql installed but pg_ctl/initdb not found"; exit 1; }
fi

if [ "$(id -u)" -eq 0 ]; then
  if id -u postgres >/dev/null 2>&1; then
    OWNER=postgres
  else
    OWNER=hbbpg
    id -u "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
  fi
else
  OWNER="$(id -un)"
fi

# Already running: reuse it, once it answers (it may be starting, or dying after a kill).
running() { as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }
if [ -f "$DIR/port" ] && running; then
  for _ in $(seq 50); do
    running || break # it was dying: start it again below
    if pg_isready -q -h 127.0.0.1 -p "$(cat "$DIR/port")" 2>/dev/null; then
      log "reusing the server in $DIR"
      print_url
      exit 0
    fi
    sleep 0.1
  done
  if running; then
    log "a server runs on $DIR/data but does not answer on port $(cat "$DIR/port"); see $DIR/server.log, or run '$0 stop' and try again"
    exit 1
  fi
fi

mkdir -p "$DIR"
chown "$OWNER" "$DIR"
chmod 700 "$DIR"

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  rm -rf "$DIR/data"
  log "initdb in $DIR/data (owner $OWNER, $("$BIN/initdb" --version))"
  pwfile="$DIR/pw"
  as_owner sh -c "umask 077; printf '%s\n' postgres > '$pwfile'"
  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
  rm -f "$pwfile"
fi

port="$(cat "$DIR/port" 2>/dev/null || true)"
if [ -z "$port" ] || ! port_free "$port"; then
  port="$(free_port)"
fi
as_owner sh -c "echo $port > '$DIR/port'"

log "starting on 127.0.0.1:$port"
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }

psql_admin() {
  as_owner psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres -d postgres "$@"
}
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi
log "ready: database $DATABASE, role $ROLE"
print_url
