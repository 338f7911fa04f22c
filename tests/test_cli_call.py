"""`wasmplug call`: the flags of `extism call` and ours, exit codes, outputs, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from wasmplug.cli import main

from .conftest import ROOT, wasm
from .http_server import serve
from .waiting import wait_until

HOSTILE = ROOT / "plugins" / "hostile"
WASI_FILES = ROOT / "plugins" / "c" / "wasi_files.wasm"


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["call", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def cli(*args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasmplug", "call", *args], input=input,
                          capture_output=True, timeout=timeout)


# ---------------------------------------------------------------- input and output

def test_input_and_json_output() -> None:
    code, out, _ = run(str(wasm("count_vowels")), "count_vowels", "-i", "Hello, world",
                       "--json-output")
    assert code == 0
    assert out.startswith("{\n  ") and json.loads(out)["count"] == 3


def test_stdin_is_read_binary_safe_and_stdout_is_unchanged() -> None:
    data = bytes(range(256)) * 4
    proc = cli(str(wasm("echo")), "echo", "--stdin", input=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == data + b"\n"  # as `extism call`: a newline after the output, pipe or not


def test_stdin_and_input_cannot_be_combined() -> None:
    code, _, err = run(str(wasm("echo")), "echo", "--stdin", "--input", "x", input=b"y")
    assert code == 2 and "--input and --stdin cannot be combined" in err


def test_input_file_and_output_file(tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(b"\x00\xffbytes")
    code, out, _ = run(str(wasm("echo")), "echo", "--input-file", str(source),
                       "--output", str(target))
    assert code == 0 and out == "" and target.read_bytes() == b"\x00\xffbytes"


def test_config_flags_merge_over_set_config() -> None:
    args = [str(wasm("host_env")), "config_get", "--input", "greeting"]
    assert run(*args, "--set-config", '{"greeting": "hello"}')[1] == "hello\n"
    assert run(*args, "--set-config", '{"greeting": "hello"}', "--config", "greeting=hi")[1] == "hi\n"


@pytest.mark.parametrize("value", ['{"a": 1}', "[]", "not json"])
def test_set_config_must_be_an_object_of_strings(value: str) -> None:
    code, _, err = run(str(wasm("host_env")), "config_get", "--set-config", value)
    assert code == 2 and "--set-config" in err


# ---------------------------------------------------------------- manifests, links, URLs

def test_manifest_file_paths_resolve_against_its_folder_and_flags_override(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "host_env.wasm").write_bytes(wasm("host_env").read_bytes())
    (folder / "manifest.toml").write_text(
        '[[wasm]]\npath = "host_env.wasm"\n[config]\ngreeting = "from the manifest"\n')
    monkeypatch.chdir(tmp_path)  # the manifest's folder is not the working directory
    args = ["-m", str(folder / "manifest.toml"), "config_get", "--input", "greeting"]
    assert run(*args) == (0, "from the manifest\n", "")
    assert run(*args, "--config", "greeting=from a flag")[1] == "from a flag\n"


def test_manifest_timeout_is_overridden_by_the_flag(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"wasm": [{"path": str(wasm("wat/loop"))}],
                                    "timeout_ms": 60_000}))
    code, _, err = run(str(manifest), "forever", "--timeout", "50")
    assert code == 124 and "timeout_ms (50 ms)" in err and "--timeout" in err


def test_bad_manifest_exits_3_with_the_parser_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text('{"wasm": [')
    code, _, err = run("-m", str(manifest), "f")
    assert code == 3 and "is not a JSON manifest" in err and "line 1" in err


def test_link_adds_modules() -> None:
    lib = str(wasm("wat/lib_math"))
    code, _, err = run(str(wasm("wat/uses_lib")), "compute")
    assert code == 3 and "lib_math.add_one" in err and "--link" in err
    proc = cli(str(wasm("wat/uses_lib")), "compute", "--link", f"lib_math={lib}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (42).to_bytes(8, "little") + b"\n"
    code, _, err = run(str(wasm("wat/uses_lib")), "compute", "--link", "nonsense")
    assert code == 2 and "NAME=PATH" in err


def test_url_plugin_with_right_and_wrong_hash(tmp_path: Path) -> None:
    (tmp_path / "echo.wasm").write_bytes(wasm("echo").read_bytes())
    digest = hashlib.sha256(wasm("echo").read_bytes()).hexdigest()
    with serve(tmp_path) as base:
        url = f"{base}/file/echo.wasm"
        assert run(url, "echo", "-i", "from a URL") == (0, "from a URL\n", "")
        assert run(url, "echo", "-i", "pinned", "--hash", digest)[:2] == (0, "pinned\n")
        code, _, err = run(url, "echo", "--hash", "0" * 64)
        assert code == 3 and "Hash mismatch" in err and digest in err


# ---------------------------------------------------------------- permissions and limits

def test_http_needs_allow_host() -> None:
    with serve(Path(".")) as base:
        request = json.dumps({"url": f"{base}/echo", "method": "GET"})
        code, _, err = run(str(wasm("wat/http_get")), "get", "-i", request)
        assert code == 1 and "pass --allow-host 127.0.0.1" in err
        code, out, err = run(str(wasm("wat/http_get")), "get", "-i", request,
                             "--allow-host", "127.0.0.1")
        assert code == 0, err
        assert json.loads(out)["path"] == "/echo"
        code, out, _ = run(str(wasm("wat/http_get")), "get", "-i", request,
                           "--allow-host", "127.0.0.*", "--http-response-max", "10")
        assert code == 1 and "--http-response-max" in _


def test_wasi_plugin_needs_wasi_and_allow_path(tmp_path: Path) -> None:
    code, _, err = run(str(WASI_FILES), "print_stdout", "-i", "x")
    assert code == 3 and "pass --wasi" in err
    (tmp_path / "note.txt").write_text("from the host")
    code, out, err = run(str(WASI_FILES), "read_file", "--wasi", "-i", "/data/note.txt",
                         "--allow-path", f"ro:{tmp_path}:/data")
    assert code == 0, err
    assert "from the host" in out


def test_wasi_plugin_in_a_real_process_exits_cleanly(tmp_path: Path) -> None:
    """A WASI call from the shell: output, exit 0 and nothing on stderr (no panic at exit)."""
    (tmp_path / "note.txt").write_text("from the host")
    proc = cli(str(WASI_FILES), "read_file", "--wasi", "-i", "/data/note.txt",
               "--allow-path", f"ro:{tmp_path}:/data")
    assert proc.returncode == 0, proc.stderr
    assert b"from the host" in proc.stdout
    assert proc.stderr == b""


def test_memory_var_fuel_limits_name_their_flags() -> None:
    code, _, err = run(str(HOSTILE / "fuel_burner.wasm"), "forever", "--fuel", "10000")
    assert code == 1 and "out of fuel" in err and "--fuel" in err
    code, _, err = run(str(wasm("host_env")), "var_set", "-i", "k=" + "x" * 100, "--var-max", "10")
    assert code == 1 and "--var-max" in err
    code, _, err = run(str(wasm("echo")), "echo", "--memory-max", "0", "-i", "x" * 300_000)
    assert code == 1 and "memory.max_pages" in err and "--memory-max" in err


def test_missing_host_function_says_it_needs_a_host() -> None:
    code, _, err = run(str(wasm("host_functions")), "say_hello")
    assert code == 3 and "a host program must provide" in err
    assert "extism:host/user." in err


def test_log_level_sends_plugin_logs_to_stderr() -> None:
    proc = cli(str(wasm("host_env")), "log", "-i", "info:logged line", "--log-level", "info")
    assert proc.returncode == 0, proc.stderr
    assert b"logged line" in proc.stderr


# ---------------------------------------------------------------- exit codes

@pytest.mark.parametrize("args, status", [
    ((str(wasm("echo")), "echo", "-i", "x"), 0),
    ((str(wasm("errors")), "fail_with_message", "-i", "nope"), 1),
    ((str(wasm("wat/trap")), "trap"), 1),
    ((str(wasm("echo")), "echo", "--no-such-flag"), 2),
    ((str(HOSTILE / "garbage.wasm"), "run"), 3),
    ((str(wasm("wat/loop")), "forever", "--timeout", "100"), 124),
])
def test_exit_codes_in_a_real_process(args: tuple[str, ...], status: int) -> None:
    proc = cli(*args)
    assert proc.returncode == status, proc.stderr
    if status:
        assert len(proc.stderr.decode().strip().splitlines()) >= 1
        assert b"Traceback" not in proc.stderr


def test_plugin_error_text_is_on_stderr() -> None:
    code, out, err = run(str(wasm("errors")), "fail_with_message", "-i", "the plug-in's words")
    assert (code, out, err) == (1, "", "Error: the plug-in's words\n")


def test_help_documents_flags_and_exit_codes() -> None:
    result = CliRunner().invoke(main, ["call", "--help"])
    for text in ("--set-config", "--allow-host", "--allow-path", "--enable-http-response-headers",
                 "--memory-max", "--http-response-max", "--var-max", "--log-level", "--loop",
                 "--link", "--manifest", "--hash", "--fuel", "--stdin", "--output",
                 "--json-output", "124", "130"):
        assert text in result.output, text


# ---------------------------------------------------------------- --loop

def test_loop_prints_statistics_and_the_last_output() -> None:
    code, out, err = run(str(wasm("count_vowels")), "count_vowels", "-i", "aaa", "--loop", "50",
                         "--loop-output", "last")
    assert code == 0 and out.endswith("}\n") and out.count("\n") == 1
    assert json.loads(out)["total"] == 150  # one instance: vars kept across the 50 calls
    for column in ("calls", "errors", "min", "median", "p99", "max", "calls/s"):
        assert column in err
    assert re.search(r"│\s+50 │\s+0 │", err), err


def test_loop_output_all() -> None:
    code, out, _ = run(str(wasm("echo")), "echo", "-i", "x\n", "--loop", "3",
                       "--loop-output", "all")
    assert code == 0 and out == "x\n\n\n" * 3


def test_loop_counts_errors_with_keep_going() -> None:
    code, _, err = run(str(wasm("errors")), "fail_with_message", "-i", "no", "--loop", "4",
                       "--keep-going")
    assert code == 1 and re.search(r"│\s+4 │\s+4 │", err) and "Error: no" in err


def test_loop_stops_at_the_first_failure_like_extism_call() -> None:
    code, out, err = run(str(wasm("errors")), "fail_with_message", "-i", "no", "--loop", "4")
    assert (code, out) == (1, "")
    assert re.search(r"│\s+1 │\s+1 │", err) and err.endswith("Error: no\n")


# ---------------------------------------------------------------- byte for byte as `extism call`

def _pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """A CI-style pipe: `wasmplug call ... | grep ...` (stdout is a pipe, not a terminal)."""
    proc = cli(*args)
    assert not proc.stdout.startswith(b"\x1b")  # no terminal styling in a pipe
    return proc


@pytest.mark.parametrize("output, expected", [
    (b"hello", b"hello\n"), (b"", b"\n"), (b"line\n", b"line\n\n"), (b"\x00\xff", b"\x00\xff\n"),
], ids=["text", "empty", "ends-with-newline", "binary"])
def test_pipe_stdout_is_the_output_and_one_newline(output: bytes, expected: bytes) -> None:
    proc = cli(str(wasm("echo")), "echo", "--stdin", input=output)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, b"")


def test_pipe_loop_prints_every_output_each_followed_by_a_blank_line() -> None:
    proc = _pipe(str(wasm("count_vowels")), "count_vowels", "-i", "aa", "--loop", "3")
    assert proc.returncode == 0, proc.stderr
    chunks = proc.stdout.split(b"\n\n")
    assert chunks[-1] == b"" and len(chunks) == 4
    assert [json.loads(c)["total"] for c in chunks[:3]] == [2, 4, 6]  # every call, in order
    assert b"calls/s" in proc.stderr  # the statistics stay on stderr


def test_pipe_loop_of_one_is_a_single_call() -> None:
    proc = _pipe(str(wasm("echo")), "echo", "-i", "once", "--loop", "1")
    assert (proc.returncode, proc.stdout) == (0, b"once\n")


OK_TWICE_THEN_TRAP = """
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $calls (mut i32) (i32.const 0))
  (func (export "run") (result i32)
    (local $p i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.gt_u (global.get $calls) (i32.const 2)) (then unreachable))
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (i64.const 0x6b6f))
    (call $output_set (local.get $p) (i64.const 2))
    (i32.const 0)))
"""


def test_pipe_loop_failure_keeps_the_outputs_before_it(tmp_path: Path) -> None:
    """`extism call --loop` prints the outputs of the calls before the one that failed, then stops."""
    plugin = tmp_path / "ok_twice_then_trap.wat"
    plugin.write_text(OK_TWICE_THEN_TRAP)
    proc = _pipe(str(plugin), "run", "--loop", "5")
    assert (proc.returncode, proc.stdout) == (1, b"ok\n\nok\n\n")
    assert re.search(r"│\s+3 │\s+1 │", proc.stderr.decode())  # the fourth call never ran
    assert "\nError: error while executing" in proc.stderr.decode()  # after the table


@pytest.mark.parametrize("args", [
    (str(wasm("errors")), "fail_with_message", "-i", "nope"),
    (str(wasm("wat/trap")), "trap"),
    (str(HOSTILE / "garbage.wasm"), "run"),
    (str(wasm("wat/loop")), "forever", "--timeout", "100"),
    ("/no/such/file.wasm", "f"),
], ids=["plugin-error", "trap", "bad-module", "timeout", "missing-file"])
def test_pipe_errors_start_with_the_extism_prefix(args: tuple[str, ...]) -> None:
    proc = _pipe(*args)
    assert proc.returncode != 0 and proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert lines and lines[0].startswith("Error: ") and len(lines[0]) > len("Error: ")
    assert "error: " not in proc.stderr.decode()


# ---------------------------------------------------------------- Ctrl-C

def _main_thread_cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def _wait_until_in_the_call(proc: subprocess.Popen[bytes]) -> list[str]:
    """Read the trace log on stderr until the plug-in is instantiated for the call,
    then wait until the main thread burns CPU (it spins in the Wasm loop); the
    log lines read so far."""
    assert proc.stderr is not None
    lines: list[str] = []
    for raw in proc.stderr:
        lines.append(raw.decode().rstrip("\n"))
        if "plug-in instantiated" in lines[-1]:
            break
    else:
        pytest.fail(f"the call never started: {lines}")
    inside = _main_thread_cpu_ticks(proc.pid)
    wait_until(lambda: _main_thread_cpu_ticks(proc.pid) >= inside + 3, "the Wasm loop to spin")
    return lines


LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (TRACE|DEBUG|INFO) wasmplug\.runtime: ")


@pytest.mark.timeout(30)
@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, /proc")
@pytest.mark.parametrize("extra", [(), ("--loop", "1000000")], ids=["call", "loop"])
def test_ctrl_c_stops_an_endless_loop_with_status_130(extra: tuple[str, ...]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wasmplug", "call", str(wasm("wat/loop")), "forever", *extra,
         "--log-level", "trace"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    logged = _wait_until_in_the_call(proc)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("Ctrl-C did not stop the call")
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 130
    lines = logged + err.decode().splitlines()
    assert lines[-1] == "Error: interrupted"
    assert all(LOG_RECORD.match(line) for line in lines[:-1]), lines  # nothing else on stderr
    assert any("call to forever interrupted after" in line for line in lines)


def test_json_output_of_non_json_is_printed_as_is_with_a_warning() -> None:
    code, out, err = run(str(wasm("echo")), "echo", "-i", "not json", "--json-output")
    assert (code, out) == (0, "not json\n") and "the output is not JSON" in err


def test_loop_shows_progress_only_when_the_calls_take_over_a_second() -> None:
    import io

    from rich.console import Console

    from wasmplug.cli import loop

    def render(seconds_per_call: float, count: int) -> str:
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=100)
        result = loop.run(lambda: time.sleep(seconds_per_call) or b"ok", count, console)
        assert (result.calls, result.errors, result.output) == (count, 0, b"ok")
        return out.getvalue()

    assert render(0.0, 200) == ""
    shown = render(0.02, 80)  # ~1.6 s
    assert "calls" in shown and "/80" in shown
