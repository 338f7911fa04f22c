#!/usr/bin/env bash
# Builds the example extensions of wasmplug.extensions:
#   transform.ts (AssemblyScript, @extism/as-pdk) -> transform.wasm
#   stats.c      (C, zig cc from the `ziglang` PyPI package) -> stats.wasm
#   *.wat        (misbehaving and test extensions) -> *.wasm
# Uses the AssemblyScript toolchain pinned in ../assemblyscript (npm ci there if
# needed) and $PYTHON (default python3) with ziglang and wasmtime installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
py="${PYTHON:-python3}"
as_dir="$here/../assemblyscript"

if [ ! -d "$as_dir/node_modules" ]; then
  (cd "$as_dir" && npm ci --no-audit --no-fund)
fi
# The same flags as ../assemblyscript/build.sh (see its README).
"$as_dir/node_modules/.bin/asc" transform.ts --outFile transform.wasm \
  --path "$as_dir/node_modules" --optimizeLevel 3 --shrinkLevel 0 --noAssert \
  --runtime incremental --use abort=../assemblyscript/src/common/helpers/pluginAbort
echo "built transform.wasm ($(wc -c < transform.wasm) bytes)"

# Freestanding (no WASI, no libc): the extension needs nothing but the Extism kernel.
"$py" -m ziglang cc --target=wasm32-freestanding -nostdlib -O2 -Wall -Wextra -Werror -s \
  -Wl,--no-entry -o stats.wasm stats.c
echo "built stats.wasm ($(wc -c < stats.wasm) bytes)"

"$py" "$here/../wat/build.py" "$here"
