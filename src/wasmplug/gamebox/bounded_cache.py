"""`BoundedCache`: strings by string key, least recently used first out, bounded by count and size.

Used where GameBox keeps work it may be asked for again (sanitised boards,
scoped style sheets, rendered descriptions): at most `entries` items and
`max_chars` characters in all (keys and values counted); an item larger than
`max_item_chars` (a tenth of the whole by default) is not kept at all.
Thread-safe: boards are sanitised in the games' threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class BoundedCache:
    def __init__(self, entries: int, max_chars: int, max_item_chars: int | None = None) -> None:
        self.entries = entries
        self.max_chars = max_chars
        self.max_item_chars = max_chars // 10 if max_item_chars is None else max_item_chars
        self.chars = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: str) -> None:
        size = len(key) + len(value)
        if size > self.max_item_chars:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.chars -= len(key) + len(old)
            self._items[key] = value
            self.chars += size
            while len(self._items) > self.entries or self.chars > self.max_chars:
                old_key, old_value = self._items.popitem(last=False)
                self.chars -= len(old_key) + len(old_value)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.chars = 0
