#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for GameBox's catalogue tests (scripts/test.sh).
#   pg_env=$(bash scripts/postgres.sh start) && eval "$pg_env"
#       # exports GAMEBOX_TEST_POSTGRES_URL and GAMEBOX_PG_DIR
#   bash scripts/postgres.sh stop "$GAMEBOX_PG_DIR"
# The server runs as the `postgres` user when we are root, in a temporary
# folder, on a random free port of 127.0.0.1, with trust authentication for
# the user `gamebox` (loopback only). Needs Debian's postgresql package.
set -euo pipefail
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then
    echo "scripts/postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "$bin"
}
case "${1:-start}" in
start)
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/gamebox-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U gamebox -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
  for attempt in 1 2 3; do  # (another process may take the free port before the server does)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null; then
      echo "export GAMEBOX_TEST_POSTGRES_URL=postgresql+psycopg://gamebox@127.0.0.1:$port/postgres"
      echo "export GAMEBOX_PG_DIR=$dir"
      exit 0
    fi
  done
  cat "$dir/server.log" >&2
  rm -rf "$dir"
  exit 1
  ;;
stop)
  dir=$2
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: scripts/postgres.sh start | stop DIR" >&2
  exit 2
  ;;
esac
