"""Observability: /metrics (invocations, errors by kind, latency, instances, queue depth), the
access log (escaped, bounded lines), /healthz and /readyz."""

from __future__ import annotations

import logging

import pytest

from wasmplug.serve.metrics import escaped

from ..waiting import wait_until
from .conftest import AS, COUNT_VOWELS, Server


def _value(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} is not in /metrics")


def test_metrics_count_invocations_errors_and_latency(server: Server) -> None:
    server.deployed("cv", COUNT_VOWELS, public=True)
    server.deployed("errs", AS / "errors.wasm", public=True)
    for _ in range(3):
        assert server.call("cv", "count_vowels", "abc").status_code == 200
    assert server.call("errs", "fail_with_message", "bad").status_code == 502
    assert server.call("cv", "missing").status_code == 404
    metrics = server.client.get(f"{server.url}/metrics").text
    assert _value(metrics, 'wasmplug_serve_invocations_total{function="cv",outcome="ok"}') == 3
    assert _value(metrics, 'wasmplug_serve_invocations_total{function="cv",outcome="error"}') == 1
    assert _value(metrics, 'wasmplug_serve_errors_total{function="errs",kind="plugin_error"}') == 1
    assert _value(metrics, 'wasmplug_serve_errors_total{function="cv",kind="no_such_export"}') == 1
    assert _value(metrics, 'wasmplug_serve_latency_seconds_count{function="cv"}') == 4
    assert _value(metrics, 'wasmplug_serve_instances{function="cv",state="idle"}') == 1
    assert _value(metrics, 'wasmplug_serve_queue_depth{function="cv"}') == 0
    # Unknown names share one label: a scan of random names cannot grow the metrics.
    for i in range(20):
        server.call(f"random-{i}", "x")
    metrics = server.client.get(f"{server.url}/metrics").text
    assert "random-" not in metrics
    assert _value(metrics, 'wasmplug_serve_errors_total{function="(unknown)",kind="not_found"}') == 20
    # A deleted function's series go with it.
    server.client.delete(f"{server.url}/api/functions/errs", headers=server.auth())
    assert 'function="errs"' not in server.client.get(f"{server.url}/metrics").text


def test_access_log_lines(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    server.deployed("cv", COUNT_VOWELS, public=True)
    with caplog.at_level(logging.INFO, logger="wasmplug.serve.access"):
        server.call("cv", "count_vowels", "aaa")
        server.call("cv", "evil%0Afunction=forged" + "x" * 500)
    lines = [r.getMessage() for r in caplog.records if r.name == "wasmplug.serve.access"]
    assert len(lines) == 2
    assert lines[0].startswith("function=cv version=1 export=count_vowels status=200 outcome=ok duration_ms=")
    assert "\n" not in lines[1] and "export=evil\\nfunction=forged" in lines[1]
    assert len(lines[1]) < 300 and "status=404 outcome=no_such_export" in lines[1]


def test_escaped_is_bounded_and_printable() -> None:
    assert escaped("a b\"c\x1b[31m\u202e") == "a\\x20b\\\"c\\x1b[31m\\u202e"
    assert escaped("x" * 1000) == "x" * 64 + "..."


def test_health_and_readiness(server: Server) -> None:
    assert server.client.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = server.client.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    server.app.state.runtimes.ready = False  # as while the stored functions load at startup
    loading = server.client.get(f"{server.url}/readyz")
    assert loading.status_code == 503 and loading.headers["retry-after"] == "1"


def test_access_log_writer_is_bounded() -> None:
    import io

    from wasmplug.serve.metrics import AccessLogWriter

    stream = io.StringIO()
    writer = AccessLogWriter(stream, maxsize=5)  # not started: nothing is written, the list fills up
    for i in range(20):
        writer.add(1.5, f"fn{i}", 1, "run\n", 200, "ok", 0.00125)
    assert writer.dropped == 15 and len(writer.pending) == 5
    writer.start()
    try:
        wait_until(lambda: stream.getvalue().count("\n") == 5, "the waiting lines to be written")
    finally:
        writer.stop()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(" wasmplug.serve.access: function=fn0 version=1 export=run\\n status=200 "
                             "outcome=ok duration_ms=1.25")
    assert "fn4" in lines[4] and "fn5" not in stream.getvalue()


def test_access_log_keeps_a_bounded_number_of_escaped_names() -> None:
    """The writer keeps each name's escaped form (formatting holds the GIL the event loop needs), at
    most MAX_ESCAPED of them, so a scan of random export names cannot grow its memory."""
    import io

    from wasmplug.serve.metrics import MAX_ESCAPED, AccessLogWriter

    stream = io.StringIO()
    writer = AccessLogWriter(stream, maxsize=MAX_ESCAPED * 3)
    for i in range(MAX_ESCAPED * 2):
        writer.add(1.5, "fn", 1, f"export-{i}", 404, "no_such_export", 0.001)
    writer.flush()
    written = stream.getvalue()
    assert written.count("\n") == MAX_ESCAPED * 2 and f"export=export-{MAX_ESCAPED * 2 - 1} " in written
    assert len(writer._escaped) <= MAX_ESCAPED


def test_started_access_log_gets_every_invocation(server: Server) -> None:
    import io

    from wasmplug.serve.metrics import start_access_log

    server.deployed("cv", COUNT_VOWELS, public=True)
    stream = io.StringIO()
    writer = start_access_log(stream)
    try:
        for _ in range(3):
            server.call("cv", "count_vowels", "aaa")
        server.call("cv", "nope")
    finally:
        writer.stop()  # writes what waits
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and all("function=cv version=1" in line for line in lines)
    assert "export=nope status=404 outcome=no_such_export" in lines[3]


def test_index_names_the_endpoints(server: Server) -> None:
    index = server.client.get(f"{server.url}/")
    assert index.status_code == 200 and index.json()["api"] == "/api/functions"
    assert "sandbox" not in index.headers["content-security-policy"]
