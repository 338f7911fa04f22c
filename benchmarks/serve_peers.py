"""The peers of bench_serve.py, each a Starlette app on the same server stack (uvicorn, one process):

* `bare`: returns the request body (the ceiling: no plug-in at all);
* `sdk`: calls the official `extism` SDK (1.1.1) on the same .wasm with the same default limits
  (timeout 5 s, 16 MiB), from a pool of instances in Starlette's thread pool, as a Python shop would
  without wasmplug.

    uvicorn benchmarks.serve_peers:bare --port 8001
    BENCH_WASM_DIR=plugins/assemblyscript uvicorn benchmarks.serve_peers:sdk --port 8002
"""

from __future__ import annotations

import base64
import os
import queue
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WASM_DIR = Path(os.environ.get("BENCH_WASM_DIR", "plugins/assemblyscript"))
INSTANCES = int(os.environ.get("BENCH_INSTANCES", "4"))


async def echo_body(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


bare = Starlette(routes=[Route("/f/{name}/{export}", echo_body, methods=["POST"])])

_pools: dict[str, queue.SimpleQueue[Any]] = {}


def _call(name: str, export: str, data: bytes) -> bytes:
    import extism

    pool = _pools.get(name)
    if pool is None:
        pool = _pools[name] = queue.SimpleQueue()
        for _ in range(INSTANCES):
            # The limits wasmplug serve gives a function by default, so both run the same service.
            wasm = base64.b64encode((WASM_DIR / f"{name}.wasm").read_bytes()).decode()
            pool.put(extism.Plugin({"wasm": [{"data": wasm}], "timeout_ms": 5000,
                                    "memory": {"max_pages": 256}}, wasi=False))
    plugin = pool.get()
    try:
        result: bytes = plugin.call(export, data)
        return result
    finally:
        pool.put(plugin)


async def call_sdk(request: Request) -> Response:
    body = await request.body()
    output = await run_in_threadpool(_call, request.path_params["name"], request.path_params["export"], body)
    return Response(output, media_type="application/octet-stream")


sdk = Starlette(routes=[Route("/f/{name}/{export}", call_sdk, methods=["POST"])])
