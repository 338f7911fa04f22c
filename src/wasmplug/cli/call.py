"""`wasmplug call`: call one function of a plug-in, with the flags of `extism call`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from .. import Error, Plugin, WasiOptions, set_log_file
from .exit_codes import EPILOG, INTERRUPTED, PLUGIN_FAILED, USAGE, call_error, fail, load_error
from .plugin_source import manifest_for, needs_wasi

LOG_LEVELS = ("error", "warn", "info", "debug", "trace")


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=flag)
        out[key] = value
    return out


def _set_config(text: str | None) -> dict[str, str]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--set-config") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise click.BadParameter('expected a JSON object of strings, e.g. {"key": "value"}',
                                 param_hint="--set-config")
    return value


def _allowed_paths(values: tuple[str, ...]) -> dict[str, str]:
    """HOST_PATH[:GUEST_PATH], `ro:` first for read-only -> {host: guest}."""
    out: dict[str, str] = {}
    for item in values:
        read_only = item.startswith("ro:")
        rest = item[3:] if read_only else item
        host, sep, guest = rest.partition(":")
        if not host:
            raise click.BadParameter(f"expected HOST_PATH[:GUEST_PATH], got {item!r}",
                                     param_hint="--allow-path")
        out[("ro:" if read_only else "") + host] = guest if sep and guest else host
    return out


def _input(input_text: str | None, stdin: bool, input_file: BinaryIO | None) -> bytes:
    given = [name for name, used in (("--input", input_text is not None), ("--stdin", stdin),
                                     ("--input-file", input_file is not None)) if used]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} cannot be combined: give the input once")
    if stdin:
        return sys.stdin.buffer.read()
    if input_file is not None:
        return input_file.read()
    return (input_text or "").encode("utf-8")


def _apply_flags(manifest: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Flags override the manifest's values; --config, --allow-host, --allow-path add to them."""
    config = {**(manifest.get("config") or {}), **flags["config"]}
    if config:
        manifest["config"] = config
    if flags["allow_host"]:
        manifest["allowed_hosts"] = [*(manifest.get("allowed_hosts") or []), *flags["allow_host"]]
    if flags["allow_path"]:
        manifest["allowed_paths"] = {**(manifest.get("allowed_paths") or {}),
                                     **flags["allow_path"]}
    memory = dict(manifest.get("memory") or {})
    for flag, key in (("memory_max", "max_pages"), ("http_response_max", "max_http_response_bytes"),
                      ("var_max", "max_var_bytes")):
        if flags[flag] is not None:
            memory[key] = flags[flag]
    if memory:
        manifest["memory"] = memory
    if flags["timeout"] is not None:
        manifest["timeout_ms"] = flags["timeout"]
    return manifest


def _stderr_sink(data: bytes) -> None:
    sys.stderr.buffer.write(data)
    sys.stderr.flush()


class _Output:
    """Where output bytes go: stdout framed as `extism call` frames it, or --output as is.

    On stdout (terminal or pipe alike) every output is followed by a newline, and by
    a second one when every output of `--loop N` (N > 1) is printed: byte for byte
    what `extism call` prints (`--loop-output last`: the last output and a newline).
    A file given with --output receives the output bytes unchanged (with
    --loop-output all: one after the other).
    """

    def __init__(self, path: Path | None, pretty_json: bool, every_of: int) -> None:
        self.path, self.pretty_json, self.first = path, pretty_json, True
        self.separator = b"\n\n" if every_of > 1 else b"\n"

    def write(self, data: bytes) -> None:
        if self.pretty_json:
            try:
                data = json.dumps(json.loads(data), indent=2, ensure_ascii=False).encode()
            except ValueError as exc:
                click.echo(f"warning: --json-output: the output is not JSON ({exc}); "
                           "printed as is", err=True)
        if self.path is not None:
            with self.path.open("wb" if self.first else "ab") as f:
                f.write(data)
        else:
            out = sys.stdout.buffer
            out.write(data)
            out.write(self.separator)
        self.first = False

    def flush(self) -> None:
        if self.path is None:
            sys.stdout.buffer.flush()


def _built_from_js(manifest: dict[str, Any]) -> bool:
    """True if the manifest's main module is a file `wasmplug js build` made."""
    modules = manifest.get("wasm")
    main = modules[-1] if isinstance(modules, list) and modules else None
    if not isinstance(main, dict):
        return False
    data = main.get("data")
    if not isinstance(data, bytes):
        path = main.get("path")
        if not isinstance(path, str) or not Path(path).is_file():
            return False
        try:
            data = Path(path).read_bytes()
        except OSError:
            return False
    # The mark section's name, length-prefixed: only a candidate loads wasmplug.js to look closer
    # (a plain .wasm costs no import of the JS runtime's modules).
    if _JS_MARK not in data:
        return False
    from ..js import is_js_plugin

    return is_js_plugin(data)


_JS_MARK = b"\x0bwasmplug.js"  # the custom section js build adds (wasmplug.js.embed.MARK_SECTION)


@click.command("call", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("plugin")
@click.argument("function")
@click.option("-i", "--input", "input_text", metavar="TEXT", help="Input data.")
@click.option("--stdin", is_flag=True, help="Read the input from standard input.")
@click.option("--input-file", type=click.File("rb"), metavar="PATH",
              help="Read the input from a file ('-': standard input).")
@click.option("--set-config", metavar="JSON",
              help='Config values, as a JSON object of strings: \'{"key": "value"}\'.')
@click.option("-c", "--config", multiple=True, metavar="KEY=VALUE",
              help="Set one config value (repeatable; merged over --set-config).")
@click.option("--wasi", is_flag=True, help="Enable WASI (its stdout/stderr go to stderr).")
@click.option("--allow-host", multiple=True, metavar="HOST",
              help="Allow HTTP requests to HOST (repeatable; globs as in the manifest: "
                   "'*.example.com').")
@click.option("--allow-path", multiple=True, metavar="HOST_PATH[:GUEST_PATH]",
              help="Give a WASI plug-in access to a folder (repeatable; 'ro:' first: "
                   "read-only).")
@click.option("--enable-http-response-headers", is_flag=True,
              help="Let the plug-in read HTTP response headers (wasmplug always does).")
@click.option("--timeout", type=click.IntRange(min=0), metavar="MS",
              help="Stop the call after MS milliseconds (exit status 124).")
@click.option("--memory-max", type=click.IntRange(min=0), metavar="PAGES",
              help="Most memory the plug-in may grow by, in 64 KiB pages.")
@click.option("--http-response-max", type=click.IntRange(min=0), metavar="BYTES",
              help="Largest HTTP response body the plug-in may read.")
@click.option("--var-max", type=click.IntRange(min=0), metavar="BYTES",
              help="Most bytes the plug-in may keep in vars.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              help="Print plug-in (and wasmplug) logs at this level and above to stderr.")
@click.option("--loop", "loop_count", type=click.IntRange(min=1), default=1, metavar="N",
              help="Call the function N times on one instance; prints statistics on stderr.")
@click.option("--loop-output", type=click.Choice(("all", "last")), default="all",
              show_default=True,
              help="With --loop: print every output (as `extism call` does), or only the last.")
@click.option("--keep-going", is_flag=True,
              help="With --loop: go on after a failed call and count the failures (by default "
                   "the loop stops at the first failure, as `extism call` does).")
@click.option("--link", multiple=True, metavar="NAME=PATH",
              help="Add a module the plug-in imports from as NAME (repeatable).")
@click.option("-m", "--manifest", "is_manifest", is_flag=True,
              help="PLUGIN is a JSON or TOML manifest (its relative paths: from its folder).")
@click.option("--hash", "sha256", metavar="SHA256",
              help="Refuse the plug-in unless its main module has this SHA-256.")
@click.option("--fuel", type=click.IntRange(min=1), metavar="N",
              help="Stop a call after N Wasm instructions.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              metavar="PATH", help="Write the output to PATH instead of standard output.")
@click.option("--json-output", is_flag=True, help="Pretty-print the output as JSON.")
def command(plugin: str, function: str, input_text: str | None, stdin: bool,
            input_file: BinaryIO | None, set_config: str | None, config: tuple[str, ...],
            wasi: bool, allow_host: tuple[str, ...], allow_path: tuple[str, ...],
            enable_http_response_headers: bool, timeout: int | None, memory_max: int | None,
            http_response_max: int | None, var_max: int | None, log_level: str | None,
            loop_count: int, loop_output: str, keep_going: bool, link: tuple[str, ...], is_manifest: bool,
            sha256: str | None, fuel: int | None, output: Path | None,
            json_output: bool) -> None:
    """Call FUNCTION of PLUGIN and print its output.

    PLUGIN is a .wasm, .wat or .js file, an http(s):// URL, or (with -m) a JSON or
    TOML manifest. Standard output is what `extism call` prints, byte for byte:
    the output followed by a newline (with --loop N: every output followed by
    a blank line); errors go to standard error as `Error: ...`. The flags are
    those of `extism call`, plus --fuel, --input-file, --output, --json-output,
    --loop-output and --keep-going.

    \b
    Examples:
      wasmplug call count_vowels.wasm count_vowels --input "Hello, world"
      wasmplug call plugin.wasm call_chat_gpt --set-config '{"open_ai_key": "..."}' \\
          --allow-host api.openai.com --input "Please write me a haiku about Wasm"
      wasmplug call echo.wasm echo --input hi --loop 100000
    """
    data = _input(input_text, stdin, input_file)
    flags = {
        "config": {**_set_config(set_config), **_pairs(config, "--config")},
        "allow_host": list(allow_host), "allow_path": _allowed_paths(allow_path),
        "memory_max": memory_max, "http_response_max": http_response_max, "var_max": var_max,
        "timeout": timeout,
    }
    manifest = _apply_flags(manifest_for(plugin, manifest=is_manifest, sha256=sha256,
                                         links=link), flags)
    js_plugin = needs_wasi(plugin) or _built_from_js(manifest)
    if js_plugin:  # a .js file or a built JS plug-in: --memory-max also caps the JS heap
        from ..js import with_heap_limit

        manifest = with_heap_limit(manifest)
    if log_level:
        set_log_file("stderr", log_level.lower())
    wasi = wasi or js_plugin
    wasi_options = WasiOptions(stdout=_stderr_sink, stderr=_stderr_sink) if wasi else False
    sink = _Output(output, json_output, loop_count if loop_output == "all" else 1)
    try:
        try:
            loaded = Plugin(manifest, wasi=wasi_options, functions=[], fuel_limit=fuel)
        except Error as exc:
            load_error(exc)
        with loaded:
            if loop_count == 1:
                try:
                    result: bytes = loaded.call(function, data)
                except Error as exc:
                    call_error(exc)
                sink.write(result)
                sink.flush()
                return
            _loop(loaded, function, data, loop_count, sink, loop_output == "all", keep_going)
    except KeyboardInterrupt:
        fail(INTERRUPTED, "interrupted")
    except OSError as exc:  # --output cannot be written, stdout closed, ...
        fail(USAGE if output is not None else PLUGIN_FAILED, str(exc))


def _loop(loaded: Plugin, function: str, data: bytes, count: int, sink: _Output,
          every: bool, keep_going: bool) -> None:
    from rich.console import Console  # here: a single call never loads rich

    from . import loop

    console = Console(stderr=True)
    call = loaded.call
    try:
        result = loop.run(lambda: call(function, data), count, console,
                          sink.write if every else None, stop_on_error=not keep_going)
        if not every and result.output is not None:
            sink.write(result.output)
    finally:
        sink.flush()
    console.print(loop.table(result))
    if result.last_error is not None:
        call_error(result.last_error)
    if result.errors:
        fail(PLUGIN_FAILED, f"{result.errors} of {result.calls} calls failed")
