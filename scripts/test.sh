#!/usr/bin/env bash
# The test command: everything the test suite needs on a fresh Debian machine, then the suite.
#
#   bash scripts/test.sh [PYTEST ARGUMENTS...]
#
# 1. System packages, when missing: chromium (the browser tests drive Debian's
#    chromium, never a downloaded browser), postgresql (GameBox's catalogue tests
#    run against PostgreSQL as well as SQLite), nodejs + npm (the JS examples that
#    use npm packages) and python3-venv. As root (CI) it
#    installs them with apt-get; otherwise it says what to install and stops.
# 2. A throwaway PostgreSQL server on a random loopback port, stopped at exit
#    (unless GAMEBOX_TEST_POSTGRES_URL already names a server).
# 3. The virtual environment .venv with the test and ray extras.
# 4. pytest, with WASMPLUG_TEST_REQUIRE_ALL=1: a test that cannot run here for
#    want of set-up this script does fails instead of being skipped
#    (docs/contributing.md). pytest's exit status is the script's; 5 (no test
#    collected) is a failure too. The whole run is bounded by
#    WASMPLUG_TEST_TIME_LIMIT (default 60m, GNU timeout's syntax).
#
# Needs no stdin; PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
say() { printf 'scripts/test.sh: %s\n' "$*" >&2; }

# -- 1. system packages ------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)  # the JS PDK examples that use npm packages
# wasmplug.sql's C extension (optional at install: without it the tests of its callback fail)
command -v gcc >/dev/null || missing+=(gcc)
"$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(
  sysconfig.get_paths()["include"], "Python.h")))' || missing+=(python3-dev)
if [ -z "${GAMEBOX_TEST_POSTGRES_URL:-}" ] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  missing+=(postgresql)
fi
if [ ! -x .venv/bin/python ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing system packages: ${missing[*]}"
    say "install them, then run this script again:"
    say "    sudo apt-get install -y ${missing[*]}"
    say "(or run this script as root, as CI does: it then installs them itself)"
    exit 1
  fi
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

# -- 2. a throwaway PostgreSQL -----------------------------------------------------
if [ -z "${GAMEBOX_TEST_POSTGRES_URL:-}" ]; then
  pg_env=$(bash scripts/postgres.sh start)
  eval "$pg_env"
  trap 'bash scripts/postgres.sh stop "$GAMEBOX_PG_DIR"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  say "PostgreSQL for the catalogue tests: $GAMEBOX_TEST_POSTGRES_URL"
fi

# -- 3. the virtual environment ----------------------------------------------------
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -e ".[test,ray]"

# -- 4. the suite ------------------------------------------------------------------
export WASMPLUG_TEST_REQUIRE_ALL=1
status=0
timeout --foreground --kill-after=30s "${WASMPLUG_TEST_TIME_LIMIT:-60m}" \
  .venv/bin/python -m pytest "$@" || status=$?
case $status in
  0) ;;
  5) say "pytest collected no test: that is a failure" ;;
  124|137) say "the run took longer than WASMPLUG_TEST_TIME_LIMIT (${WASMPLUG_TEST_TIME_LIMIT:-60m}): stopped" ;;
esac
exit "$status"
