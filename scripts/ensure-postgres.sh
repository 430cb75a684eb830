#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 and print a URL that logs in to it.
# Uses the machine's server when one runs; otherwise starts (and, as root, installs) one.
# Progress goes to stderr; only the URL goes to stdout.
set -euo pipefail
HOST=127.0.0.1
PORT=${PGPORT:-5432}
log() { echo "ensure-postgres: $*" >&2; }

try_url() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

start_cluster() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then log "PostgreSQL is not installed and I am not root"; exit 1; fi
    log "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql postgresql-client >&2
  fi
  for version in $(ls /etc/postgresql); do
    log "starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  done
  for _ in $(seq 1 30); do
    pg_isready -h "$HOST" -p "$PORT" >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "PostgreSQL did not come up"; exit 1
}

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_isready -h "$HOST" -p "$PORT" >/dev/null 2>&1; then
  start_cluster
fi

for url in "${ZHIHUI_TEST_PG_URL:-}" "postgresql://postgres@$HOST:$PORT/postgres" \
           "postgresql://postgres:postgres@$HOST:$PORT/postgres"; do
  if [ -n "$url" ] && try_url "$url"; then echo "$url"; exit 0; fi
done

# The server runs but will not let us in over TCP: give the postgres role a password (as root).
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  log "setting a password for the postgres role"
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
  url="postgresql://postgres:postgres@$HOST:$PORT/postgres"
  if try_url "$url"; then echo "$url"; exit 0; fi
fi
log "cannot log in to PostgreSQL at $HOST:$PORT"
exit 1
