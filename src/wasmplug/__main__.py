"""`python -m wasmplug` runs the command line."""

from .cli import main

main()
