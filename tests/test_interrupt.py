"""Ctrl-C (SIGINT) interrupts a plug-in call on the main thread (wasmplug/sigint.py).

Each test runs a real Python program in a subprocess, waits until it is inside
the call, sends SIGINT and checks what the program saw.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

LOOP = ROOT / "plugins" / "wat" / "loop.wasm"            # `forever`: an empty endless loop
LOG_FLOOD = ROOT / "plugins" / "hostile" / "log_flood.wasm"  # `run`: host calls forever


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job may inherit SIG_IGN


# Each program calls `ready_once_inside(plugin)` just before its call: a thread
# prints `ready` once the call is running (a Ctrl-C sent earlier would land
# before the call, and test nothing the test names). `main_in`: and once the
# main thread is inside the function of that name (the call runs in a worker).
PRELUDE = """
import sys as _sys, threading as _threading, time as _time
def ready_once_inside(plugin, main_in=None):
    main = _threading.main_thread().ident
    def main_is_in():
        frame = _sys._current_frames().get(main)
        while frame is not None and main_in is not None:
            if frame.f_code.co_name == main_in:
                return True
            frame = frame.f_back
        return main_in is None
    def watch():
        deadline = _time.monotonic() + 30
        while not (plugin._running and main_is_in()) and _time.monotonic() < deadline:
            _time.sleep(0.002)
        print("ready" if plugin._running else "the call never started", flush=True)
    _threading.Thread(target=watch, daemon=True).start()
"""


def start(program: str, *args: str) -> subprocess.Popen[str]:
    """Start `program`; return once it printed `ready` (it is inside the call)."""
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(program), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    assert proc.stdout is not None
    proc.before_ready = []  # type: ignore[attr-defined]
    for line in proc.stdout:
        if line.strip() == "ready":
            break
        proc.before_ready.append(line.strip())  # type: ignore[attr-defined]
    else:
        pytest.fail(f"the program ended before it was ready: {proc.communicate()}")
    return proc


def interrupt(proc: subprocess.Popen[str]) -> tuple[float, str, str]:
    """SIGINT; (seconds until the process exited, stdout, stderr)."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"SIGINT did not stop the call; stdout={out!r} stderr={err!r}")
    return time.monotonic() - sent, out, err


PLAIN = """
    import sys, time, wasmplug
    plugin = wasmplug.Plugin(sys.argv[1])
    ready_once_inside(plugin)
    started = time.monotonic()
    try:
        plugin.call(sys.argv[2], b"")
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    print("after", plugin.call("ok", b"") == b"", flush=True)
"""


@pytest.mark.parametrize("wasm, export", [(LOOP, "forever"), (LOG_FLOOD, "run")],
                         ids=["pure-wasm-loop", "host-function-loop"])
def test_sigint_raises_keyboard_interrupt_and_the_plugin_stays_usable(wasm: object,
                                                                      export: str) -> None:
    proc = start(PLAIN, str(wasm), export)
    elapsed, out, err = interrupt(proc)
    assert out.split("\n")[:2] == ["KeyboardInterrupt", "after True"], (out, err)
    assert proc.returncode == 0
    assert elapsed < 2.0
    assert "Exception ignored" not in err and "Traceback" not in err, err


def test_uncaught_interrupt_is_a_plain_keyboard_interrupt() -> None:
    proc = start("""
        import sys, wasmplug
        plugin = wasmplug.Plugin(sys.argv[1])
        ready_once_inside(plugin)
        plugin.call("forever", b"")
    """, str(LOOP))
    elapsed, _, err = interrupt(proc)
    assert elapsed < 2.0
    assert proc.returncode != 0
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert "Exception ignored" not in err


def test_an_application_handler_runs_and_the_call_is_stopped() -> None:
    proc = start("""
        import signal, sys, wasmplug
        seen = []
        signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
        plugin = wasmplug.Plugin(sys.argv[1])
        ready_once_inside(plugin)
        try:
            plugin.call("forever", b"")
        except wasmplug.CallTimeout as exc:
            print(f"CallTimeout: {exc}")
        print("handler ran", seen == [signal.SIGINT])
        print("after", plugin.call("ok", b"") == b"", flush=True)
    """, str(LOOP))
    elapsed, out, err = interrupt(proc)
    assert out.splitlines() == ["CallTimeout: interrupted: SIGINT (Ctrl-C) stopped the call",
                                "handler ran True", "after True"], (out, err)
    assert elapsed < 2.0 and err == ""


def test_what_the_application_handler_raises_comes_out_of_the_call() -> None:
    proc = start("""
        import signal, sys, wasmplug
        class Stop(Exception):
            pass
        def stop(signum, frame):
            raise Stop("from the app's handler")
        signal.signal(signal.SIGINT, stop)
        plugin = wasmplug.Plugin(sys.argv[1])
        ready_once_inside(plugin)
        try:
            plugin.call("forever", b"")
        except Stop as exc:
            print("Stop:", exc, flush=True)
    """, str(LOOP))
    _, out, err = interrupt(proc)
    assert out.strip() == "Stop: from the app's handler", (out, err)


def test_a_handler_installed_after_the_plugin_is_not_run_inside_the_call() -> None:
    # Our wrapper was replaced: the call is not interrupted (the handler could
    # not run inside Wasm), the handler runs when the call returns (timeout_ms).
    proc = start("""
        import signal, sys, wasmplug
        plugin = wasmplug.Plugin({"wasm": [{"path": sys.argv[1]}], "timeout_ms": 1500})
        seen = []
        signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
        ready_once_inside(plugin)
        try:
            plugin.call("forever", b"")
        except wasmplug.CallTimeout as exc:
            print(exc.limit, seen == [signal.SIGINT], flush=True)
    """, str(LOOP))
    _, out, err = interrupt(proc)
    assert out.strip() == "timeout_ms True", (out, err)
    assert "Exception ignored" not in err


def test_ignored_sigint_stays_ignored() -> None:
    proc = start("""
        import signal, sys, wasmplug
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        plugin = wasmplug.Plugin({"wasm": [{"path": sys.argv[1]}], "timeout_ms": 1000})
        ready_once_inside(plugin)
        try:
            plugin.call("forever", b"")
        except wasmplug.CallTimeout as exc:
            print(exc.limit, flush=True)
    """, str(LOOP))
    _, out, _ = interrupt(proc)
    assert out.strip() == "timeout_ms"


def test_asyncio_signal_handlers_still_work() -> None:
    # asyncio's add_signal_handler owns the wakeup fd before and after a plug-in
    # is created on the main thread; its handlers must keep firing.
    proc = start("""
        import asyncio, os, signal, sys, wasmplug

        async def main():
            loop = asyncio.get_running_loop()
            fired = asyncio.Queue()
            loop.add_signal_handler(signal.SIGUSR1, fired.put_nowait, "usr1")
            plugin = wasmplug.Plugin(sys.argv[1])   # chains asyncio's wakeup fd
            os.kill(os.getpid(), signal.SIGUSR1)
            print(await asyncio.wait_for(fired.get(), 5), flush=True)
            loop.add_signal_handler(signal.SIGUSR2, fired.put_nowait, "usr2")
            os.kill(os.getpid(), signal.SIGUSR2)
            print(await asyncio.wait_for(fired.get(), 5), flush=True)
            ready_once_inside(plugin)
            await plugin.call_async("forever", b"")   # Ctrl-C: asyncio.run cancels us

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
    """, str(LOOP))
    elapsed, out, err = interrupt(proc)
    assert proc.before_ready == ["usr1", "usr2"]  # type: ignore[attr-defined]
    assert out.splitlines() == ["KeyboardInterrupt"], (out, err)
    assert elapsed < 2.0 and "Traceback" not in err


def test_asyncio_run_keeps_its_own_ctrl_c_handling() -> None:
    # asyncio.run installs its SIGINT handler (cancel the main task); a plug-in
    # created inside wraps it, and a blocking call on the loop's thread stops.
    proc = start("""
        import asyncio, sys, wasmplug

        async def main():
            plugin = wasmplug.Plugin(sys.argv[1])
            ready_once_inside(plugin)
            try:
                plugin.call("forever", b"")
            except wasmplug.CallTimeout as exc:
                print("call:", exc, flush=True)
            await asyncio.sleep(5)   # the main task was cancelled by asyncio.run's handler
            print("not cancelled", flush=True)

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
    """, str(LOOP))
    elapsed, out, err = interrupt(proc)
    assert out.splitlines() == ["call: interrupted: SIGINT (Ctrl-C) stopped the call",
                                "KeyboardInterrupt"], (out, err)
    assert elapsed < 2.0


def test_worker_thread_calls_are_not_interrupted() -> None:
    proc = start("""
        import sys, threading, wasmplug
        plugin = wasmplug.Plugin({"wasm": [{"path": sys.argv[1]}], "timeout_ms": 1500})
        result, done = [], threading.Event()
        def work():
            try:
                plugin.call("forever", b"")
            except wasmplug.CallTimeout as exc:
                result.append(exc.limit)
            done.set()
        worker = threading.Thread(target=work)
        worker.start()
        ready_once_inside(plugin, main_in="join")
        try:
            worker.join()
        except KeyboardInterrupt:
            done.wait()  # (an interrupted join() leaves the Thread object confused)
            print("main interrupted; worker:", result, flush=True)
    """, str(LOOP))
    _, out, err = interrupt(proc)
    assert out.strip() == "main interrupted; worker: ['timeout_ms']", (out, err)


def test_fork_child_does_not_take_the_parents_ctrl_c() -> None:
    proc = start("""
        import os, sys, wasmplug
        plugin = wasmplug.Plugin(sys.argv[1])
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        ready_once_inside(plugin)
        try:
            plugin.call("forever", b"")
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
    """, str(LOOP))
    elapsed, out, err = interrupt(proc)
    assert out.strip() == "KeyboardInterrupt" and elapsed < 2.0, (out, err)
