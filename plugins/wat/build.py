"""Compile every .wat file in this folder to the .wasm beside it."""

from pathlib import Path

import wasmtime

here = Path(__file__).resolve().parent
for source in sorted(here.glob("*.wat")):
    target = source.with_suffix(".wasm")
    target.write_bytes(wasmtime.wat2wasm(source.read_text()))
    print(f"built {target.relative_to(here.parent.parent)}")
