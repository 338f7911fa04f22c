#!/usr/bin/env bash
# Builds every C test plug-in: <name>.c -> <name>.wasm, as WASI preview 1
# reactors (wasi-libc, exports _initialize), with the zig toolchain from the
# `ziglang` PyPI package:  pip install ziglang   (tested with 0.17.1).
# Uses $PYTHON (default python3); the built .wasm files are committed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
py="${PYTHON:-python3}"

if ! "$py" -m ziglang version >/dev/null 2>&1; then
  echo "build.sh: '$py -m ziglang' not found; run: $py -m pip install ziglang" >&2
  exit 1
fi

flags=(
  --target=wasm32-wasi
  -mexec-model=reactor
  -O2
  -Wall -Wextra -Werror
  -s
)

shopt -s nullglob
sources=(*.c)
if [ ${#sources[@]} -eq 0 ]; then
  echo "build.sh: no sources in $here" >&2
  exit 1
fi

for src in "${sources[@]}"; do
  name="$(basename "$src" .c)"
  "$py" -m ziglang cc "${flags[@]}" -o "$name.wasm" "$src"
  echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
