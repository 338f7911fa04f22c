"""`import wasmplug` and a first call load only what they need.

A one-shot process (a script, `wasmplug call`, a cron job) pays for every module
it imports. The HTTP client, TLS, asyncio, the TOML parser and the
applications built on wasmplug are loaded when first used, never by
`import wasmplug` or by a plain call. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wasmplug import _cache

from .conftest import ROOT, wasm

WASI_FILES = ROOT / "plugins" / "c" / "wasi_files.wasm"  # print_stdout writes its input to stdout

# Never loaded by `import wasmplug`, nor by creating a plug-in and calling it.
NOT_FOR_A_CALL = [
    "httpx", "httpcore", "ssl", "_ssl", "asyncio", "socket", "tomllib", "pickle", "tempfile",
    "concurrent.futures", "subprocess", "importlib.metadata", "rich", "click",
    "wasmplug.js", "wasmplug.gen", "wasmplug.gamebox", "wasmplug.extensions", "wasmplug.actors",
    "wasmplug.distributed", "wasmplug.cli", "wasmplug._pool", "wasmplug._inspection",
    "wasmplug.extism", "wasmplug._http", "wasmplug._memory_budget",
    "logging", "wasmplug._log_handlers",  # until the program imports logging or a plug-in logs
    "hashlib", "_hashlib", "hmac",  # OpenSSL: only for large inputs (see wasmplug._digest)
    "dataclasses", "inspect",  # the core's records are wasmplug._records
    "uuid", "platform",  # a plug-in id is a uuid.UUID only when asked for (wasmplug._plugin_id)
    "wasmtime",  # the core has its own bindings to the wheel's libwasmtime (wasmplug._wasmtime)
]


def _modules_after(code: str, cache: Path | None = None) -> set[str]:
    env = {**os.environ, "WASMPLUG_CACHE_DIR": str(cache)} if cache else None
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=60, check=True, env=env).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_loads_no_http_tls_asyncio_or_application() -> None:
    loaded = _modules_after("import wasmplug")
    assert "wasmplug" in loaded and "wasmplug._wasmtime" in loaded
    assert sorted(loaded.intersection(NOT_FOR_A_CALL)) == []
    # (_modules_after lists them with json: ask before it is imported) a first call reads its
    # source memo with json; importing wasmplug does without it
    subprocess.run([sys.executable, "-c", "import sys, wasmplug\nassert 'json' not in sys.modules"],
                   check=True, timeout=60)


def test_a_first_call_loads_nothing_more_of_them(tmp_path: Path) -> None:
    """A call whose module is already compiled in the cache (the common one-shot case)."""
    code = ("import wasmplug\n"
            f"p = wasmplug.Plugin({str(wasm('count_vowels'))!r})\n"
            "assert b'count' in p.call('count_vowels', 'hello')\n")
    _warm(code, tmp_path)
    loaded = _modules_after(code, tmp_path)
    assert sorted(loaded.intersection(NOT_FOR_A_CALL)) == []


def _warm(code: str, cache: Path) -> None:
    """Run `code` until `cache` is as a user's later runs find it: a run that starts when
    every file in it is old enough to be trusted (stamped, memoised) writes nothing more."""
    deadline = time.monotonic() + 60
    while True:
        started = time.time_ns()
        before = _files(cache)
        _modules_after(code, cache)
        after = _files(cache)
        settled = all(started - changed >= _cache.SETTLED_NS for changed in before.values())
        if before == after and settled and any((cache / "sources").glob("*")):
            return
        assert time.monotonic() < deadline, f"{cache} never settled: {sorted(after)}"


def _files(folder: Path) -> dict[str, int]:
    """Each file under `folder` and its change time."""
    return {str(p): p.stat().st_ctime_ns for p in folder.rglob("*") if p.is_file()}


def test_the_cache_write_path_still_works_with_tempfile_loaded_lazily(tmp_path: object) -> None:
    loaded = _modules_after(
        "import wasmplug\n"
        f"wasmplug.set_cache_dir({str(tmp_path)!r})\n"
        f"p = wasmplug.Plugin({str(wasm('count_vowels'))!r})\n"
        "assert b'count' in p.call('count_vowels', 'hello')\n")
    assert "tempfile" in loaded  # a cache miss writes the compiled module


def test_logging_set_up_after_import_still_gets_runtime_events_and_plugin_lines() -> None:
    """`logging` is not imported by wasmplug, yet a program that configures it later is heard."""
    code = ("import wasmplug, sys\n"
            "assert 'logging' not in sys.modules\n"
            "import logging\n"
            "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
            f"p = wasmplug.Plugin({str(wasm('count_vowels'))!r})\n"
            "p.call('count_vowels', 'hello')\n"
            f"w = wasmplug.Plugin({str(WASI_FILES)!r}, wasi=True)\n"
            "w.call('print_stdout', 'line one\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "wasmplug.runtime call to count_vowels finished in" in done.stdout
    assert "wasmplug.plugin line one" in done.stdout


def test_trace_is_a_level_name_when_logging_was_imported_first() -> None:
    done = subprocess.run([sys.executable, "-c", "import logging, wasmplug\n"
                           "logging.getLogger('wasmplug').setLevel('TRACE')\n"
                           "assert logging.getLogger('wasmplug').level == 5"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_plugin_that_logs_with_nobody_listening_loads_no_logging() -> None:
    code = (f"import wasmplug\np = wasmplug.Plugin({str(WASI_FILES)!r}, wasi=True)\n"
            "assert p.call('print_stdout', 'unheard\\n') == b'printed'\n")
    assert "logging" not in _modules_after(code)


@pytest.mark.parametrize("name, module", [
    ("PluginPool", "wasmplug._pool"), ("AsyncPluginPool", "wasmplug._pool"),
    ("PoolTimeout", "wasmplug._pool"), ("inspect_plugin", "wasmplug._inspection"),
    ("extism", "wasmplug.extism"),
])
def test_lazy_names_load_on_first_use(name: str, module: str) -> None:
    loaded = _modules_after(f"import wasmplug\nassert wasmplug.{name} is not None")
    assert module in loaded


def test_lazy_names_are_the_real_objects() -> None:
    import wasmplug
    from wasmplug import extism as compat
    from wasmplug._inspection import inspect_plugin
    from wasmplug._pool import AsyncPluginPool, PluginPool, PoolTimeout

    assert (wasmplug.PluginPool, wasmplug.AsyncPluginPool, wasmplug.PoolTimeout) == (
        PluginPool, AsyncPluginPool, PoolTimeout)
    assert wasmplug.inspect_plugin is inspect_plugin and wasmplug.extism is compat
    assert set(wasmplug.__all__) <= set(dir(wasmplug)) | {"__version__"} | set(
        wasmplug._LAZY)
    with pytest.raises(AttributeError):
        wasmplug.no_such_name  # noqa: B018


def test_star_import_still_gives_every_public_name() -> None:
    names = _modules_after("from wasmplug import *\nassert PluginPool and inspect_plugin")
    assert "wasmplug._pool" in names


def test_wasmplug_call_loads_no_rich_or_package_metadata(tmp_path: Path) -> None:
    """`wasmplug call` without --loop: the statistics table's rich and --version's metadata stay out."""
    code = ("from wasmplug.cli import main\n"
            f"main(['call', {str(wasm('count_vowels'))!r}, 'count_vowels', '-i', 'hello'], "
            "standalone_mode=False)\n")
    _warm(code, tmp_path)
    loaded = _modules_after(code, tmp_path)
    not_for_the_cli = set(NOT_FOR_A_CALL) - {"click", "wasmplug.cli", "inspect", "uuid", "platform"}
    # (click imports inspect and uuid)
    assert sorted(loaded.intersection(not_for_the_cli)) == []  # rich and importlib.metadata among them
    assert "wasmplug.cli.call" in loaded


# What `wasmplug call x.js` and `wasmplug gen run` never need: the LLM side of gen, the
# exporter, a temporary file, logging (nothing is logged), the loop's table.
NOT_FOR_JS = ["logging", "tempfile", "rich", "httpx", "ssl", "asyncio", "wasmplug.gen.llm",
              "wasmplug.gen.maker", "wasmplug.gen.export", "wasmplug._log_handlers"]


def _cli(args: list[str], gen_dir: Path) -> str:
    return ("import os\n"
            f"os.environ['WASMPLUG_GEN_DIR'] = {str(gen_dir)!r}\n"
            "from wasmplug.cli import main\n"
            f"main({args!r}, standalone_mode=False)\n")


def test_wasmplug_call_js_and_gen_run_load_no_logging_tempfile_or_llm_client(tmp_path: Path) -> None:
    from wasmplug.gen import Function, Store

    gen_dir = tmp_path / "gen"
    Store(gen_dir).save(Function(name="vowels", code="module.exports = (s) => s.length",
                                 description="length", model="test"))
    for args in (["call", str(ROOT / "plugins" / "js" / "count_vowels.js"), "count_vowels", "-i", "hi"],
                 ["gen", "run", "vowels", "-i", "hello"]):
        cache = tmp_path / args[0]
        _warm(_cli(args, gen_dir), cache)
        loaded = _modules_after(_cli(args, gen_dir), cache)
        assert sorted(loaded.intersection(NOT_FOR_JS)) == [], args
        assert "wasmplug.js" in loaded


def test_gen_names_load_on_first_use() -> None:
    import wasmplug.gen
    from wasmplug.gen.llm import ChatClient
    from wasmplug.gen.maker import generate

    assert wasmplug.gen.ChatClient is ChatClient and wasmplug.gen.generate is generate
    assert set(wasmplug.gen.__all__) <= set(dir(wasmplug.gen)) | set(wasmplug.gen._LAZY)
    with pytest.raises(AttributeError):
        wasmplug.gen.no_such_name  # noqa: B018


def test_version_is_still_printed() -> None:
    from click.testing import CliRunner

    from wasmplug.cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("wasmplug ") and "(wasmtime " in result.output


def test_the_program_keeps_its_imports_out_of_the_gc_but_in_process_use_does_not() -> None:
    """`wasmplug ...` freezes what it imported (gc.freeze: no collection at exit walks it)."""
    script = ("import atexit, gc, sys\n"
              "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
              f"sys.argv = ['wasmplug', 'call', {str(wasm('echo'))!r}, 'echo', '-i', 'x']\n"
              "from wasmplug.cli import run\nrun()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == "x\n", done.stderr
    assert int(done.stderr.split("frozen")[-1]) > 10_000

    import gc

    from click.testing import CliRunner

    from wasmplug.cli import main

    before = gc.get_freeze_count()
    assert CliRunner().invoke(main, ["call", str(wasm("echo")), "echo", "-i", "x"]).output == "x\n"
    assert gc.get_freeze_count() == before  # a host program's objects are left alone
