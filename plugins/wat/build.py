"""Compile every .wat file in the given folders (default: this one) to the .wasm beside it.

    python plugins/wat/build.py [FOLDER ...]
"""

import sys
from pathlib import Path

import wasmtime

here = Path(__file__).resolve().parent
folders = [Path(arg).resolve() for arg in sys.argv[1:]] or [here]
for folder in folders:
    for source in sorted(folder.glob("*.wat")):
        target = source.with_suffix(".wasm")
        target.write_bytes(wasmtime.wat2wasm(source.read_text()))
        print(f"built {target}")
