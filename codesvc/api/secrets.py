"""Server secrets held by the app: the id-number hashing key."""

from __future__ import annotations

from aiohttp import web

from codesvc.settings import Settings
from codesvc.tokens import read_or_create_secret

ID_SECRET = web.AppKey("id_secret", bytes)


def id_secret(settings: Settings) -> bytes:
    """The keyed-hash secret for id numbers: configured, or made once in the data directory."""
    if settings.id_secret:
        return settings.id_secret.encode()
    return read_or_create_secret(settings.home / "id.secret")
