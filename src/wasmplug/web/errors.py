"""The web foundation's errors: each is a `wasmplug.Error` whose message says what to do."""

from __future__ import annotations

from wasmplug import Error


class AccountError(Error):
    """A username or password the accounts refuse (taken, too short, bad characters...)."""


class AccessDenied(Error):
    """Not allowed: another user's thing, not an admin, or banned."""
