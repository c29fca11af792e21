"""Staff and commission accounts for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from aiohttp.test_utils import TestClient

from codesvc import db
from codesvc.api.secrets import totp_seal
from codesvc.service import accounts
from codesvc.settings import Settings
from tests.conftest import Clock

PASSWORD = "correct horse battery staple"

#: The server's clock a test moves, by the name the page tests know it.
ShiftedClock = Clock


@dataclass(frozen=True)
class Member:
    sub: str
    password: str
    totp_secret: str | None

    def otp(self, at: datetime) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(at)


async def add_account(
    settings: Settings,
    sub: str,
    role: str = "staff",
    district: str | None = "310101",
    *,
    name: str = "王伟",
    totp: bool = False,
) -> Member:
    async with db.connect(settings.database_url) as conn:
        uri = await accounts.add(
            conn,
            sub=sub,
            role=role,
            district=district if role == "staff" else None,
            name=name,
            password=PASSWORD,
            totp=totp,
            seal=totp_seal(settings),
            now=datetime.now(UTC),
        )
    return Member(sub, PASSWORD, pyotp.parse_uri(uri).secret if uri else None)


async def sign_in(
    client: TestClient, sub: str, password: str = PASSWORD, otp: str | None = None
) -> dict[str, object]:
    """Sign in (the client keeps the cookie); returns the session body."""
    body: dict[str, object] = {"sub": sub, "password": password}
    if otp is not None:
        body["otp"] = otp
    resp = await client.post("/v1/session", json=body)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())
