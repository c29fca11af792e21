"""Server secrets held by the app: the id-number hashing key, the TOTP sealing key."""

from __future__ import annotations

from aiohttp import web

from codesvc.service.accounts import TotpSeal
from codesvc.settings import Settings
from codesvc.tokens import read_or_create_secret

ID_SECRET = web.AppKey("id_secret", bytes)
TOTP_SEAL = web.AppKey("totp_seal", TotpSeal)


def id_secret(settings: Settings) -> bytes:
    """The keyed-hash secret for id numbers: configured, or made once in the data directory."""
    if settings.id_secret:
        return settings.id_secret.encode()
    return read_or_create_secret(settings.home / "id.secret")


def totp_seal(settings: Settings) -> TotpSeal:
    """What seals TOTP secrets: configured, or a secret made once in the data directory."""
    if settings.totp_secret:
        return TotpSeal(settings.totp_secret.encode())
    return TotpSeal(read_or_create_secret(settings.home / "totp.secret"))
