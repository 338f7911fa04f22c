"""The manifest's blocked_networks: HTTP judged by the address actually connected to, not the name
(a name that resolves inside the host's network, DNS rebinding), against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from wasmplug import CallError, ManifestError, Plugin
from wasmplug._netguard import NetworkGuard, parse_networks

from .conftest import AS
from .http_server import serve
from .test_http import GUEST


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve(AS) as url:
        yield url


def plugin(**manifest: Any) -> Plugin:
    manifest.setdefault("allowed_hosts", ["*"])
    return Plugin({"wasm": [{"data": GUEST.encode()}], **manifest})


def fetch(p: Plugin, url: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(p.call("request", json.dumps({"url": url})))
    return result


@dataclass
class Resolver:
    """A resolver hook: a name in `table` resolves to its addresses in turn (the last one stays);
    `lookups` counts the lookups of each name."""

    table: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, int] = field(default_factory=dict)

    def __setitem__(self, name: str, addresses: list[str]) -> None:
        self.table[name] = addresses


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    resolver = Resolver()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in resolver.table:
            count = resolver.lookups[host] = resolver.lookups.get(host, 0) + 1
            addresses = resolver.table[host]
            return real(addresses[min(count, len(addresses)) - 1], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return resolver


def test_a_plain_plugin_still_reaches_loopback_by_name(server: str) -> None:
    url = server.replace("127.0.0.1", "localhost") + "/echo"
    assert fetch(plugin(allowed_hosts=["localhost"]), url)["method"] == "GET"


def test_a_name_resolving_to_loopback_is_refused_with_the_address_and_network(
        server: str, names: Resolver) -> None:
    names["evil.example"] = ["127.0.0.1"]
    url = server.replace("127.0.0.1", "evil.example") + "/echo"
    assert fetch(plugin(), url)["method"] == "GET"  # the name resolves to the test server
    guarded = plugin(blocked_networks=["non-public"])
    with pytest.raises(CallError, match=rf"HTTP request to {url} is not allowed: evil.example resolves to "
                                        r"127\.0\.0\.1, which is in the blocked network 127\.0\.0\.0/8 "
                                        r"\(loopback\); the manifest's blocked_networks"):
        fetch(guarded, url)
    # IP literals and localhost are judged the same way; the plug-in keeps working afterwards.
    for target in (server, server.replace("127.0.0.1", "localhost")):
        with pytest.raises(CallError, match="is in the blocked network"):
            fetch(guarded, target + "/echo")
    assert guarded.call("status", b"") == b"\0\0\0\0"


def test_an_operator_lists_the_networks_it_allows(server: str, names: Resolver) -> None:
    names["internal.example"] = ["127.0.0.1"]
    url = server.replace("127.0.0.1", "internal.example") + "/echo"
    allowed = plugin(blocked_networks=["non-public"], allowed_networks=["127.0.0.0/8"])
    assert fetch(allowed, url)["method"] == "GET"
    narrow = plugin(blocked_networks=["non-public"], allowed_networks=["127.0.0.2/32"])
    with pytest.raises(CallError, match=r"blocked network 127\.0\.0\.0/8"):
        fetch(narrow, url)


def test_dns_rebinding_cannot_slip_past(server: str, names: Resolver) -> None:
    # The first lookup gives an allowed address (the server), any later one a blocked one: the
    # request must connect to the address that was checked, looking the name up once.
    names["rebind.example"] = ["127.0.0.1", "127.0.0.2"]
    url = server.replace("127.0.0.1", "rebind.example") + "/echo"
    guarded = plugin(blocked_networks=["127.0.0.2/32"])
    assert fetch(guarded, url)["method"] == "GET"
    assert names.lookups["rebind.example"] == 1


def test_every_address_of_a_name_is_checked(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "both.example":  # a public-looking first address, then the server's own
            return real("127.0.0.1", port, *args, **kwargs) + real("::1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    guarded = plugin(blocked_networks=["::1/128"])
    with pytest.raises(CallError, match=r"both.example resolves to ::1, which is in the blocked network "
                                        r"::1/128"):
        fetch(guarded, server.replace("127.0.0.1", "both.example") + "/echo")


@pytest.mark.parametrize("address, network", [
    ("127.0.0.1", "127.0.0.0/8"), ("10.1.2.3", "10.0.0.0/8"), ("172.31.0.1", "172.16.0.0/12"),
    ("192.168.1.1", "192.168.0.0/16"), ("169.254.169.254", "169.254.0.0/16"),
    ("100.64.0.1", "100.64.0.0/10"), ("0.0.0.0", "0.0.0.0/8"), ("224.0.0.1", "224.0.0.0/4"),
    ("255.255.255.255", "240.0.0.0/4"), ("::1", "::/96"), ("::", "::/96"), ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"), ("fe80::1%1", "fe80::/10"), ("ff02::1", "ff00::/8"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"), ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("64:ff9b::a00:1", "64:ff9b::/96"), ("2002:a00:1::1", "2002::/16"),
])
def test_non_public_covers_ipv4_and_ipv6(address: str, network: str) -> None:
    guard = NetworkGuard(parse_networks(["non-public"], "blocked_networks"))
    reason = guard.refusal(address)
    assert reason is not None and reason.startswith(f"the blocked network {network} "), reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_non_public_lets_public_addresses_through(address: str) -> None:
    assert NetworkGuard(parse_networks(["non-public"], "blocked_networks")).refusal(address) is None


@pytest.mark.parametrize("manifest, message", [
    ({"blocked_networks": "non-public"}, "blocked_networks': expected a list of networks"),
    ({"blocked_networks": ["10.0.0.0/33"]}, r"blocked_networks'\[0\]: '10.0.0.0/33' is not a network"),
    ({"blocked_networks": ["10.0.0.1/8"]}, "has host bits set"),
    ({"allowed_networks": ["10.0.0.0/8"]}, "which is not set; add blocked_networks"),
    ({"blocked_networks": ["10.0.0.0/8"] * 257}, "at most 256 networks"),
])
def test_bad_network_lists_are_refused_clearly(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        plugin(**manifest)


def test_clients_kept_for_guards_are_bounded(server: str) -> None:
    from wasmplug import _http

    for i in range(_http.MAX_GUARDED_CLIENTS + 4):  # as many distinct guards, each works
        p = plugin(blocked_networks=[f"10.{i}.0.0/16"])
        assert fetch(p, server + "/echo")["method"] == "GET"
    assert len(_http._guarded) == _http.MAX_GUARDED_CLIENTS


def test_the_guard_travels_with_a_portable_manifest() -> None:
    # What Ray actors (wasmplug serve --ray) load: without the guard they would reach anything.
    from wasmplug._manifest import Manifest
    from wasmplug.distributed import portable_manifest

    source = {"wasm": [{"data": GUEST.encode()}], "allowed_hosts": ["*"],
              "blocked_networks": ["non-public"], "allowed_networks": ["127.0.0.0/8"]}
    shipped = portable_manifest(source)
    assert Manifest.parse(shipped).network_guard == Manifest.parse(source).network_guard
    guard = Manifest.parse(shipped).network_guard
    assert guard is not None and guard.refusal("127.0.0.1") is None
    assert guard.refusal("169.254.169.254") == ("the blocked network 169.254.0.0/16 "
                                                "(link-local, cloud metadata)")
    assert "blocked_networks" not in portable_manifest({"wasm": [{"data": GUEST.encode()}]})
