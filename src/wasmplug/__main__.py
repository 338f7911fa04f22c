"""`python -m wasmplug` runs the command line."""

from .cli import run

run()
