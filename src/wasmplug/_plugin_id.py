"""A plug-in's id: a random version 4 UUID, made into a `uuid.UUID` only when asked.

Importing `uuid` (and the `platform` module it pulls in) costs a one-shot process
more than a millisecond, yet most processes only ever print the id in a log
line, if at all. `PluginId` draws the same 122 random bits `uuid.uuid4()` does,
formats them as `uuid.UUID` would, and imports `uuid` only for `Plugin.id`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uuid

_VARIANT_MASK, _VARIANT = 0xC000 << 48, 0x8000 << 48  # RFC 4122 variant bits
_VERSION_MASK, _VERSION_4 = 0xF000 << 64, 4 << 76


class PluginId:
    """The id of one plug-in instance (`Plugin.id`): `str()`, `==` and `hash()` are the UUID's.

    Log records carry it as `record.plugin_id`.
    """

    __slots__ = ("_text", "_uuid", "int")

    def __init__(self) -> None:
        value = int.from_bytes(os.urandom(16), "big")
        self.int = (value & ~_VARIANT_MASK & ~_VERSION_MASK) | _VARIANT | _VERSION_4
        self._text = ""
        self._uuid: uuid.UUID | None = None

    def __str__(self) -> str:
        if not self._text:
            digits = f"{self.int:032x}"
            self._text = (f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-"
                          f"{digits[20:]}")
        return self._text

    def __eq__(self, other: object) -> bool:
        """Equal to the same id, as a `PluginId` or as the `uuid.UUID` of `Plugin.id`."""
        if isinstance(other, PluginId):
            return self.int == other.int
        module = sys.modules.get("uuid")  # no UUID exists until uuid is imported
        if module is not None and isinstance(other, module.UUID):
            return bool(self.int == other.int)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.int)  # as uuid.UUID's

    def __repr__(self) -> str:
        return f"PluginId('{self}')"

    def uuid(self) -> uuid.UUID:
        """The id as a `uuid.UUID` (the same one every time)."""
        if self._uuid is None:
            import uuid

            self._uuid = uuid.UUID(int=self.int)
        return self._uuid
