"""The build's one part pyproject.toml cannot say: wasmplug's optional C extension.

`wasmplug.sql._scalar_callback` (the per-row callback of one-argument SQLite
scalars, docs/sql.md, "Performance") is built when a C compiler and Python's
headers are there; `optional=True` lets the install go on without them, and
wasmplug.sql then uses the same callback through ctypes.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("wasmplug.sql._scalar_callback", ["src/wasmplug/sql/_scalar_callback.c"],
                             optional=True)])
