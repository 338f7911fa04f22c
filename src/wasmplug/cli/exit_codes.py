"""Exit statuses of `wasmplug call` / `info`, and error messages for shell users.

| status | meaning |
| --- | --- |
| 0 | success |
| 1 | the plug-in failed (its own error text, the trap, or the limit it hit) |
| 2 | usage error (bad flag or value) |
| 3 | the plug-in could not be loaded (bad file or manifest, hash mismatch, missing import) |
| 124 | the call ran past `--timeout` |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

import click

from .. import CallError, CallTimeout, Error

OK, PLUGIN_FAILED, USAGE, LOAD_FAILED, TIMEOUT, INTERRUPTED = 0, 1, 2, 3, 124, 130

EPILOG = """\b
Exit status:
  0    success
  1    the plug-in failed (stderr: its error, the trap, or the limit hit)
  2    usage error
  3    the plug-in could not be loaded (bad file or manifest, hash
       mismatch, missing import: the message names it and what grants it)
  124  timeout (--timeout)
  130  interrupted (Ctrl-C)
"""

_NEEDS_WASI = re.compile(r"(module '[^']*' import \S+) needs WASI")
_UNKNOWN_IMPORT = re.compile(r"unknown import (\S+) \(module '([^']*)'")
_REFUSED_HOST = re.compile(r"the host '([^']*)' does not match the manifest's allowed_hosts")


def fail(status: int, message: str) -> NoReturn:
    """Print `Error: message` on stderr (the prefix of `extism call`) and exit with `status`."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(status)


def load_error(exc: Error) -> NoReturn:
    """Exit 3 with the reason, saying which flag would fix it when one would."""
    text = str(exc)
    wasi = _NEEDS_WASI.search(text)
    if wasi:
        fail(LOAD_FAILED, f"the plug-in uses WASI ({wasi.group(1)}): pass --wasi to grant it")
    missing = _UNKNOWN_IMPORT.search(text)
    if missing:
        fail(LOAD_FAILED,
             f"the plug-in imports the host function {missing.group(1)} (module "
             f"'{missing.group(2)}'), which a host program must provide: it cannot run from "
             "the command line alone (unless another module passed with --link exports it; "
             "`wasmplug info PLUGIN` lists every import)")
    fail(LOAD_FAILED, text)


def call_error(exc: Error) -> NoReturn:
    """Exit 124 for a timeout, else 1 with the plug-in's error (and the flag to change)."""
    text = str(exc)
    if isinstance(exc, CallTimeout) and exc.limit == "timeout_ms":
        fail(TIMEOUT, f"{text} (raise it with --timeout MS)")
    refused = _REFUSED_HOST.search(text)
    if refused:
        fail(PLUGIN_FAILED, f"{text}: pass --allow-host {refused.group(1)} to allow it")
    limit = exc.limit if isinstance(exc, CallError) else None
    flag = _LIMIT_FLAGS.get(limit or "") or next(
        (f for name, f in _LIMIT_FLAGS.items() if name in text), None)
    fail(PLUGIN_FAILED, f"{text} (raise it with {flag})" if flag else text)


_LIMIT_FLAGS = {
    "fuel_limit": "--fuel",
    "memory.max_pages": "--memory-max",
    "memory.max_var_bytes": "--var-max",
    "memory.max_http_response_bytes": "--http-response-max",
}
