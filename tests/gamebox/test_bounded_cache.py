"""BoundedCache keeps at most its count of items and its size, the least recently used going first."""

from __future__ import annotations

import threading

from wasmplug.gamebox.bounded_cache import BoundedCache


def test_bounded_by_size_and_by_count() -> None:
    cache = BoundedCache(entries=100, max_chars=100_000)
    for i in range(50):
        cache.put(f"{i:05d}" + "x" * 4000, "y" * 4000)  # ~8,000 characters each: 12 fit
    assert cache.chars <= 100_000 and len(cache) == 12
    assert cache.get("00049" + "x" * 4000) is not None and cache.get("00000" + "x" * 4000) is None
    cache.put("big" * 10_000, "")  # more than a tenth of the whole: not kept
    assert cache.get("big" * 10_000) is None
    for i in range(500):
        cache.put(str(i), "")
    assert len(cache) == 100


def test_replacing_a_value_counts_its_new_size_and_use_keeps_an_item() -> None:
    cache = BoundedCache(entries=3, max_chars=1_000)
    cache.put("a", "x" * 50)
    cache.put("a", "y")
    assert cache.chars == 2 and cache.get("a") == "y"
    cache.put("b", "1")
    cache.put("c", "2")
    assert cache.get("a") == "y"  # now the most recently used
    cache.put("d", "3")
    assert cache.get("b") is None and cache.get("a") == "y"
    cache.clear()
    assert len(cache) == 0 and cache.chars == 0


def test_threads_sharing_a_cache_keep_its_count_right() -> None:
    cache = BoundedCache(entries=64, max_chars=10_000)

    def work(n: int) -> None:
        for i in range(2_000):
            cache.put(f"{n}-{i % 100}", "v" * (i % 50))
            cache.get(f"{n}-{(i * 7) % 100}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(cache) <= 64 and cache.chars <= 10_000
    assert cache.chars == sum(len(k) + len(v) for k, v in cache._items.items())
