"""`Plugin.memory_bytes`: the linear memory a plug-in holds (the kernel's and its exported memories)."""

from __future__ import annotations

from pathlib import Path

import pytest

import wasmplug

MEMORY_GROW = Path(__file__).resolve().parents[1] / "plugins" / "wat" / "memory_grow.wasm"
PAGE = 65_536


def test_memory_bytes_counts_the_kernel_then_the_instance_and_its_growth() -> None:
    with wasmplug.Plugin(MEMORY_GROW) as plugin:
        kernel_only = plugin.memory_bytes  # not instantiated yet: the kernel's memory
        assert kernel_only >= PAGE and kernel_only % PAGE == 0
        plugin.call("grow", (0).to_bytes(8, "little"))
        instantiated = plugin.memory_bytes
        assert instantiated == kernel_only + PAGE  # + the module's one page
        pages = int.from_bytes(plugin.call("grow", (5).to_bytes(8, "little")), "little")
        assert pages == 6
        assert plugin.memory_bytes == kernel_only + 6 * PAGE


def test_memory_bytes_of_a_closed_plugin_is_an_error() -> None:
    plugin = wasmplug.Plugin(MEMORY_GROW)
    plugin.close()
    with pytest.raises(wasmplug.Error, match="closed"):
        _ = plugin.memory_bytes
