"""The server's own settings: where its database is and the bounds every function runs under."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .views.playground import PlaygroundSettings


@dataclass(frozen=True)
class ServerSettings:
    """How a `wasmplug serve` process runs (the per-function settings are in `functions.py`).

    `database_url` wins over `data_dir` (SQLite in `data_dir/serve.db`).
    """

    data_dir: Path = Path("serve-data")
    database_url: str | None = None
    # Bodies: an invocation's request body, and a deploy's whole multipart request.
    max_body_bytes: int = 1024 * 1024
    max_module_bytes: int = 32 * 1024 * 1024
    # How many requests may wait for a busy function, per instance of its cap; a full queue
    # answers 503 at once. A queued request gives up after `queue_timeout` seconds (503).
    queue_per_instance: int = 8
    queue_timeout: float = 5.0
    # Worker threads that run Wasm calls (every function's cap draws from them).
    worker_threads: int = 64
    # A call of a function without HTTP runs on the event loop itself (no thread hop), cut after
    # `inline_budget_ms` of CPU time (the function then runs on worker threads for good) or after
    # `inline_wall_ms` of wall-clock time (for a cool-down of 30 s); 0: never inline.
    inline_budget_ms: float = 2.0
    inline_wall_ms: float = 50.0
    # Per API token, in a sliding minute: invocations of protected functions, and deploys.
    invocations_per_minute: int = 6000
    deploys_per_minute: int = 30
    # Whether deployers may allow HTTP to loopback, private and link-local addresses (IP literals),
    # localhost, *.local / *.internal names, or every host ("*"): off, so a deployed function cannot
    # reach the server's own network (say, a cloud metadata service at 169.254.169.254).
    allow_private_hosts: bool = False
    # Whatever a function's allowed host resolves to, its HTTP never connects to a non-public address
    # (loopback, private, link-local, multicast, reserved; IPv4 and IPv6) unless it is in one of these
    # networks (CIDR, e.g. "10.1.0.0/16"). `allow_private_hosts` allows every network.
    allowed_networks: tuple[str, ...] = ()
    # How often (seconds) the server looks in the database for deploys, rollbacks and deletes made
    # through another server sharing it (0: never; one server alone needs none).
    sync_every: float = 1.0
    # Run every function's instances as Ray actors of the cluster at this address ("auto", an
    # address like 10.0.0.5:6379, or "local" for a cluster of this machine), not in this process.
    ray_address: str | None = None
    # At most so many functions on one server (a bound on memory and metric labels).
    max_functions: int = 1000
    # At most so many versions kept per function (older ones are pruned on deploy).
    max_versions: int = 50
    # Where the index page's "Documentation" link goes (None: no link; the page says how to call).
    docs_url: str | None = None
    # The playground's limits (what one snippet may use) and its pool of runs.
    playground: PlaygroundSettings = field(default_factory=PlaygroundSettings)

    def __post_init__(self) -> None:
        import ipaddress

        for entry in self.allowed_networks:  # the manifest would refuse them at the first deploy
            try:
                ipaddress.ip_network(entry)
            except ValueError as exc:
                raise ValueError(f"allowed_networks: {entry!r} is not a network ({exc}); write a CIDR "
                                 "like \"10.1.0.0/16\" or \"fd00::/8\"") from None
        if self.docs_url is not None and not self.docs_url.startswith(("https://", "http://", "/")):
            raise ValueError(f"docs_url: {self.docs_url[:80]!r} is not an http(s) URL or a path")

    def http_allowed_networks(self) -> tuple[str, ...]:
        """The exceptions to every function's `blocked_networks = ["non-public"]`."""
        return ("0.0.0.0/0", "::/0") if self.allow_private_hosts else self.allowed_networks

    def url(self) -> str:
        from wasmplug.web.database import sqlite_url

        return self.database_url or sqlite_url(self.data_dir, "serve.db")
