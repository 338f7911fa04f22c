#!/usr/bin/env bash
# Builds the SQL example plug-ins of wasmplug.sql (docs/sql.md):
#   text.ts, stats.ts (AssemblyScript, @extism/as-pdk) -> text.wasm, stats.wasm
# slugify.js (JavaScript) is not built here: like plugins/js/, it is built when
# used (`wasmplug js build slugify.js -o slugify.wasm`, or `wasmplug.js.build_file`),
# because its .wasm contains the QuickJS runtime, which the repository does not carry.
# Uses the AssemblyScript toolchain pinned in ../assemblyscript (npm ci there if needed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
as_dir="$here/../assemblyscript"

if [ ! -d "$as_dir/node_modules" ]; then
  (cd "$as_dir" && npm ci --no-audit --no-fund)
fi
# The same flags as ../assemblyscript/build.sh (see its README).
# text.ts counts a batch's vowels 16 bytes at a time: it needs Wasm SIMD (which wasmtime runs).
for name in text stats; do
  features=()
  if [ "$name" = text ]; then features=(--enable simd); fi
  "$as_dir/node_modules/.bin/asc" "$name.ts" --outFile "$name.wasm" "${features[@]}" \
    --path "$as_dir/node_modules" --optimizeLevel 3 --shrinkLevel 0 --noAssert \
    --runtime incremental --use abort=../assemblyscript/src/common/helpers/pluginAbort
  echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
