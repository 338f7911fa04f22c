#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for GameBox's catalogue tests.
#   eval "$(.ci/postgres.sh start)"   # exports GAMEBOX_TEST_POSTGRES_URL and GAMEBOX_PG_DIR
#   .ci/postgres.sh stop "$GAMEBOX_PG_DIR"
# Installs PostgreSQL with apt-get when it is missing; the server runs as the
# `postgres` user when we are root, in a temporary folder, on a random port.
set -euo pipefail
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-start}" in
start)
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    apt-get update -q >&2 && apt-get install -y -q postgresql >&2
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d /tmp/gamebox-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U gamebox >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export GAMEBOX_TEST_POSTGRES_URL=postgresql+psycopg://gamebox@127.0.0.1:$port/postgres"
  echo "export GAMEBOX_PG_DIR=$dir"
  ;;
stop)
  dir=$2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  ;;
esac
