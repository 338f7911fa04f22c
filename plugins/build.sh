#!/usr/bin/env bash
# Rebuild every test plug-in from its source. The built .wasm files are
# committed, so tests and CI never need this (nor node); run it after editing
# a plug-in's source. Needs: node + npm (AssemblyScript), python with wasmtime
# and ziglang (C: pip install ziglang).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/assemblyscript/build.sh"
bash "$here/games/build.sh"   # GameBox games (bundled ones land in src/wasmplug/gamebox/games/)
PYTHON="${PYTHON:-python3}" bash "$here/c/build.sh"
"${PYTHON:-python3}" "$here/wat/build.py" "$here/wat" "$here/hostile"
bash "$here/extensions/build.sh"
bash "$here/sql/build.sh"        # wasmplug.sql examples (slugify.js is built when used)
