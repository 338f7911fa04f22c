"""Read an extism-js interface file (the `.d.ts` given to `extism-js -i`).

The interface declares the plug-in's exports in ``declare module 'main'`` and the
host functions it imports as the methods of ``interface user`` in ``declare
module 'extism:host'``::

    declare module 'main' {
      export function greet(): I32;
    }
    declare module 'extism:host' {
      interface user {
        myHostFunction1(ptr: I64): I64;
      }
    }

This is a small parser of that subset of TypeScript (tokens, not lines: a
declaration may span lines, as prettier writes them; comments anywhere).
:func:`read_interface` returns what it declares; :func:`host_functions_from_dts`
the host-function names for ``build(..., host_functions=...)``.

Types map to Wasm as in extism-js: I32, I64, F32, F64 (and PTR = I64); any
other type (``string``, an object type) is an I64, a memory offset. An export
declared with parameters or with a result other than I32 is built with that
signature (:func:`export_types`); host functions may take up to 32 parameters of
any of these types and return one or nothing (:func:`host_function_types`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .embed import MAX_PARAMS, EmbedError, FuncType
from .errors import BuildError

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_$][\w$]*)
  | (?P<number>\d[\w.]*)
  | (?P<punct>[{}()\[\];:,<>?=|&.*])
""", re.S | re.X)
_INT64 = {"I64", "PTR"}
HOST_MODULE = "extism:host"
#: extism-js reads the host functions from either (the JS PDK's examples use both)
HOST_MODULES = (HOST_MODULE, "extism:host/user")
HOST_INTERFACE = "user"
_LETTERS = {"I32": "i", "I64": "I", "PTR": "I", "F32": "f", "F64": "F"}


@dataclass(frozen=True)
class Signature:
    """One declared function: its name, parameter types and result type (None: void)."""

    name: str
    params: tuple[str, ...]
    result: str | None

    def __str__(self) -> str:
        params = ", ".join(f"p{i}: {t}" for i, t in enumerate(self.params))
        return f"{self.name}({params}): {self.result or 'void'}"


@dataclass
class Interface:
    """What an interface file declares."""

    exports: list[Signature] = field(default_factory=list)
    host_functions: list[Signature] = field(default_factory=list)
    #: interfaces of `extism:host` other than `user` (extism-js imports only `user`)
    ignored: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.error(f"unexpected character {text[pos]!r}", pos, text)
            if m.lastgroup != "space":
                self.tokens.append((m.lastgroup or "", m.group(), pos))
            pos = m.end()
        self.text = text
        self.i = 0

    def error(self, what: str, pos: int | None = None, text: str | None = None) -> BuildError:
        source = text if text is not None else self.text
        at = pos if pos is not None else (self.tokens[self.i][2] if self.i < len(self.tokens)
                                          else len(source))
        line = source.count("\n", 0, at) + 1
        return BuildError(f"{self.filename}, line {line}: {what}")

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.tokens[j][1] if j < len(self.tokens) else ""

    def kind(self) -> str:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise self.error(f"unexpected end of file (expected {expected or 'more'})")
        value = self.tokens[self.i][1]
        if expected is not None and value != expected:
            raise self.error(f"expected {expected!r}, found {value!r}")
        self.i += 1
        return value

    def skip_block(self) -> None:
        """Skip a balanced {...}, (...) or <...> group starting at the current token."""
        pairs = {"{": "}", "(": ")", "[": "]"}
        closing = [pairs[self.take()]]
        while closing:
            token = self.take(closing[-1] if self.i >= len(self.tokens) else None)
            if token in pairs:
                closing.append(pairs[token])
            elif token == closing[-1]:
                closing.pop()

    def type_name(self) -> str:
        """A type: a name (I32, PTR, void, a dotted name), kept as written; an
        object type ``{...}`` is "object"."""
        if self.peek() == "{":
            self.skip_block()
            return "object"
        parts = [self.take()]
        while self.peek() in (".", "|", "[", "]"):
            parts.append(self.take())
            if parts[-1] in (".", "|"):
                parts.append(self.take())
        return "".join(parts)

    def signature(self, name: str) -> Signature:
        self.take("(")
        params: list[str] = []
        while self.peek() != ")":
            if self.kind() != "name":
                raise self.error(f"cannot read the parameters of {name}")
            if self.peek(1) in (",", ")"):  # a bare type, as in `-f 'add(I32, I32): I32'`
                params.append(self.type_name())
            else:
                self.take()
                if self.peek() == "?":
                    self.take()
                self.take(":")
                params.append(self.type_name())
            if self.peek() == ",":
                self.take()
            elif self.peek() != ")":
                raise self.error(f"expected ',' or ')' in the parameters of {name}")
        self.take(")")
        result = None
        if self.peek() == ":":
            self.take()
            result = self.type_name()
            if result == "void":
                result = None
        if self.peek() == ";" or self.peek() == ",":
            self.take()
        return Signature(name, tuple(params), result)

    def parse(self) -> Interface:
        out = Interface()
        while self.i < len(self.tokens):
            if self.peek() == "declare" and self.peek(1) == "module":
                self.take()
                self.take()
                if self.kind() != "string":
                    raise self.error("expected the module's name as a string after `declare module`")
                module = self.take()[1:-1]
                self.module_body(module, out)
            elif self.peek() in ("{", "(", "["):
                self.skip_block()
            else:
                self.take()
        return out

    def module_body(self, module: str, out: Interface) -> None:
        self.take("{")
        while self.peek() != "}":
            if self.i >= len(self.tokens):
                raise self.error(f"declare module '{module}' is not closed")
            if (self.peek() == "export" and self.peek(1) == "function") or self.peek() == "function":
                if self.take() == "export":
                    self.take("function")
                if self.kind() != "name":
                    raise self.error(f"cannot read the function declaration in module '{module}'")
                sig = self.signature(self.take())
                if module in HOST_MODULES:
                    raise self.error(f"declare host functions as methods of `interface user` in "
                                     f"'{HOST_MODULE}', not as functions ({sig.name})")
                out.exports.append(sig)
            elif self.peek() == "interface" or (self.peek() == "export" and self.peek(1) == "interface"):
                if self.take() == "export":
                    self.take("interface")
                name = self.take()
                if module in HOST_MODULES and name == HOST_INTERFACE:
                    self.interface_body(out.host_functions)
                else:
                    if module in HOST_MODULES:
                        out.ignored.append(name)
                    self.skip_block()
            elif self.peek() in ("{", "(", "["):
                self.skip_block()
            else:
                self.take()
        self.take("}")

    def interface_body(self, into: list[Signature]) -> None:
        self.take("{")
        while self.peek() != "}":
            start = self.i
            if self.kind() != "name" or self.peek(1) != "(":
                end = self.text.find("\n", self.tokens[start][2]) if start < len(self.tokens) else -1
                raise self.error("cannot read the host function declaration "
                                 f"{self.text[self.tokens[start][2]:end].strip()!r}")
            into.append(self.signature(self.take()))
        self.take("}")


def read_interface(text: str, *, filename: str = "interface.d.ts") -> Interface:
    """Everything `text` (an extism-js interface file) declares."""
    return _Parser(text, filename).parse()


def func_type(sig: Signature) -> FuncType:
    """The Wasm signature of a declaration (types as extism-js maps them)."""
    try:
        return FuncType(sig.name, "".join(_LETTERS.get(t, "I") for t in sig.params),
                        _LETTERS.get(sig.result, "I") if sig.result is not None else "")
    except EmbedError as exc:
        raise BuildError(str(exc)) from None


def is_plain_export(sig: Signature) -> bool:
    """An export of the JS PDK's basic shape, ``name(): I32`` (input and output through Host)."""
    return not sig.params and sig.result in (None, "I32")


def export_types(interface: Interface) -> dict[str, FuncType]:
    """The exports to build with their declared signature (not ``(): I32``)."""
    return {sig.name: func_type(sig) for sig in interface.exports if not is_plain_export(sig)}


def host_function_types(interface: Interface) -> list[FuncType]:
    """The declared host functions' Wasm signatures, in order."""
    return [func_type(sig) for sig in interface.host_functions]


def check_supported(interface: Interface, *, filename: str = "interface.d.ts") -> None:
    """Refuse the declarations wasmplug cannot build with their declared signature."""
    for sig in [*interface.host_functions, *interface.exports]:
        if len(sig.params) > MAX_PARAMS:
            raise BuildError(f"{filename}: {sig} has {len(sig.params)} parameters; at most "
                             f"{MAX_PARAMS} are supported")
        func_type(sig)


def parse_host_function(spec: str | FuncType) -> FuncType:
    """A host function given as a name (the PDK's ``(I64) -> I64``) or a signature
    in the interface file's notation: ``add(I32, I32): I32``, ``log(I64): void``."""
    if isinstance(spec, FuncType):
        return spec
    if not spec or "\n" in spec or "\0" in spec or "\t" in spec:
        raise BuildError(f"{spec!r} cannot be a host function name")
    if "(" not in spec:
        try:
            return FuncType(spec.strip())
        except EmbedError as exc:
            raise BuildError(str(exc)) from None
    parser = _Parser(spec, "--host-function")
    if parser.kind() != "name":
        raise parser.error(f"expected a function name in {spec!r}")
    sig = parser.signature(parser.take())
    if parser.i != len(parser.tokens):
        raise parser.error(f"unexpected {parser.peek()!r} after the signature in {spec!r}")
    return func_type(sig)


def host_functions_from_dts(text: str, *, filename: str = "interface.d.ts") -> list[str]:
    """The host functions declared in `text` (an extism-js interface file), in order:
    a name for the PDK's ``(I64) -> I64``, else the signature (``add(I32, I32): I32``),
    as ``build(..., host_functions=...)`` and ``js build -f`` take them.

    An interface of 'extism:host' not named `user` is ignored with a warning (as
    extism-js imports only `user`).
    """
    interface = read_interface(text, filename=filename)
    for name in interface.ignored:
        import logging  # here: only this warning needs it (`wasmplug call x.js` does not)

        logging.getLogger("wasmplug.js").warning(
            "%s: interface %s in '%s' is ignored: host functions are the methods of `interface %s`",
            filename, name, HOST_MODULE, HOST_INTERFACE)
    check_supported(interface, filename=filename)
    return [f.name if (f.params, f.result) == ("I", "I") else str(f)
            for f in host_function_types(interface)]
