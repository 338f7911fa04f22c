"""Read the host functions a plug-in declares in an extism-js interface file.

extism-js takes the plug-in's interface as TypeScript declarations
(``-i index.d.ts``); the host functions are the methods of ``interface
user`` in ``declare module 'extism:host'``::

    declare module 'main' {
      export function greet(): I32;
    }
    declare module 'extism:host' {
      interface user {
        myHostFunction1(ptr: I64): I64;
      }
    }

:func:`host_functions_from_dts` returns their names, in order, for
``build(..., host_functions=...)``; wasmplug's runtime offers the JS PDK's
host-function type only, one ``I64`` (or ``PTR``) in and one out.
"""

from __future__ import annotations

import re

from .errors import BuildError

_BLOCK = re.compile(r"declare\s+module\s+(['\"])extism:host\1\s*\{\s*interface\s+user\s*\{(?P<body>[^}]*)\}",
                    re.S)
_METHOD = re.compile(r"(?P<name>[A-Za-z_$][\w$]*)\s*\((?P<params>[^)]*)\)\s*(?::\s*(?P<result>[\w$]+))?")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_INT64 = {"I64", "PTR"}


def host_functions_from_dts(text: str, *, filename: str = "interface.d.ts") -> list[str]:
    """The host functions declared in `text` (an extism-js interface file), in order."""
    clean = _COMMENTS.sub("", text)
    names: list[str] = []
    for block in _BLOCK.finditer(clean):
        for entry in filter(None, (e.strip() for e in re.split(r"[;\n]", block.group("body")))):
            method = _METHOD.fullmatch(entry)
            if method is None:
                raise BuildError(f"{filename}: cannot read the host function declaration {entry!r}")
            params = [p.split(":", 1)[-1].strip() for p in method.group("params").split(",") if p.strip()]
            if (params != ["I64"] and params != ["PTR"]) or method.group("result") not in _INT64:
                raise BuildError(f"{filename}: host function {method.group('name')} must take one I64 "
                                 "and return an I64 (the JS PDK's memory offsets), as in "
                                 f"`{method.group('name')}(ptr: I64): I64`")
            names.append(method.group("name"))
    return names
