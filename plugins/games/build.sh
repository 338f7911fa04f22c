#!/usr/bin/env bash
# Builds the GameBox games (AssemblyScript, @extism/as-pdk):
#   src/wasmplug/gamebox/games/<name>.ts -> <name>.wasm beside it (bundled, package data)
#   plugins/games/src/<name>.ts          -> plugins/games/<name>.wasm (test-only games)
# Runs from any cwd; installs the pinned toolchain with `npm ci` if needed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bundled="$(cd "$here/../../src/wasmplug/gamebox/games" && pwd)"
cd "$here"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
asc="$here/node_modules/.bin/asc"
# Same flags as plugins/assemblyscript (see its README): release build, the
# incremental GC runtime, and our abort handler (no env.abort import).
flags=(--optimizeLevel 3 --shrinkLevel 0 --noAssert --runtime incremental
       --use "abort=../../src/wasmplug/gamebox/games/lib/game/gameAbort" --path "$here/node_modules")

build() {  # build SOURCE OUTPUT
  "$asc" "$1" --outFile "$2" "${flags[@]}"
  echo "built $2 ($(wc -c < "$2") bytes)"
}
for src in "$bundled"/*.ts; do
  build "$src" "${src%.ts}.wasm"
done
for src in "$here"/src/*.ts; do
  build "$src" "$here/$(basename "$src" .ts).wasm"
done
