#!/usr/bin/env bash
# Builds every AssemblyScript test plug-in: src/<name>.ts -> <name>.wasm.
# Runs from any cwd; installs the pinned toolchain with `npm ci` if needed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

asc="$here/node_modules/.bin/asc"

# Release build, optimised for speed (-O3, shrink 0), incremental GC runtime
# (plug-ins are called many times and allocate input-sized buffers, so the
# never-freeing stub runtime would grow memory without bound).
# --use abort=... follows as-pdk's README: a custom abort handler means the
# modules do not import env.abort (ours sets the Extism error, then traps).
# No --exportRuntime: every export must keep Extism's () -> i32 shape.
flags=(
  --optimizeLevel 3
  --shrinkLevel 0
  --noAssert
  --runtime incremental
  --use abort=src/common/helpers/pluginAbort
)

shopt -s nullglob
sources=(src/*.ts)
if [ ${#sources[@]} -eq 0 ]; then
  echo "build.sh: no sources in $here/src" >&2
  exit 1
fi

for src in "${sources[@]}"; do
  name="$(basename "$src" .ts)"
  "$asc" "$src" --outFile "$name.wasm" "${flags[@]}"
  echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
