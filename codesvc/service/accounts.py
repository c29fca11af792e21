"""Staff and commission accounts: who may sign in, with an argon2id password and TOTP.

Adding, resetting, disabling and listing accounts (the ``codesvc staff`` commands); signing
in and the sessions that follow are in `codesvc.service.sessions`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from codesvc.service import audit_log

log = logging.getLogger("codesvc.accounts")

ROLES = ("staff", "commission")
SUB = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
DISTRICT = re.compile(r"[0-9]{6}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

ISSUER = "codesvc"

#: argon2id with argon2-cffi's defaults (RFC 9106's low-memory choice: 64 MiB, t=3, p=4).
PASSWORDS = PasswordHasher()
#: Hashes in flight in one process: each takes 64 MiB, so a flood of sign-ins cannot
#: exhaust memory; the rest wait their turn.
_HASHING = asyncio.Semaphore(4)


class AccountError(Exception):
    """A refused account change; ``detail`` says what to do."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Account:
    sub: str
    role: str
    district: str | None
    name: str
    disabled_at: datetime | None


class TotpSeal:
    """Seals TOTP secrets (AES-256-GCM) under a key that lives outside the database."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(hashlib.sha256(b"codesvc totp secret\0" + secret).digest())

    def seal(self, sub: str, totp_secret: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, totp_secret.encode(), sub.encode())

    def open(self, sub: str, sealed: bytes) -> str | None:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], sub.encode()).decode()
        except (InvalidTag, ValueError):
            return None


def check_password(password: str) -> str | None:
    """What is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if "\0" in password:
        return "a password cannot contain a NUL character"
    return None


def otpauth_uri(sub: str, totp_secret: str) -> str:
    return pyotp.TOTP(totp_secret).provisioning_uri(name=sub, issuer_name=ISSUER)


async def add(
    conn: asyncpg.Connection,
    *,
    sub: str,
    role: str,
    district: str | None,
    name: str,
    password: str,
    totp: bool,
    seal: TotpSeal,
    now: datetime,
    replace: bool = False,
) -> str | None:
    """Create an account (``replace``: or set its password, name and TOTP anew); returns the
    otpauth:// URI of its new TOTP secret, or None. Commission accounts always get one."""
    if not SUB.fullmatch(sub):
        raise AccountError(
            "An account name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting "
            "with a letter or digit."
        )
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}.")
    if role == "staff" and not (district and DISTRICT.fullmatch(district)):
        raise AccountError("A staff account needs --district, a 6-digit district code.")
    if role == "commission" and district:
        raise AccountError("A commission account works for the whole city: leave out --district.")
    name = name.strip()
    if not 1 <= len(name) <= 100 or "\0" in name:
        raise AccountError("The name must have 1 to 100 characters.")
    if problem := check_password(password):
        raise AccountError(f"The password cannot be used: {problem}.")
    totp_secret = pyotp.random_base32() if totp or role == "commission" else None
    password_hash = await hash_password(password)
    sealed = seal.seal(sub, totp_secret) if totp_secret else None
    conflict = (
        """ON CONFLICT (sub) DO UPDATE SET role = EXCLUDED.role, district = EXCLUDED.district,
               name = EXCLUDED.name, password_hash = EXCLUDED.password_hash,
               totp_sealed = EXCLUDED.totp_sealed, totp_step = 0, disabled_at = NULL"""
        if replace
        else "ON CONFLICT (sub) DO NOTHING"
    )
    async with conn.transaction():
        created = await conn.fetchval(
            f"""INSERT INTO accounts (sub, role, district, name, password_hash, totp_sealed,
                                      created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) {conflict} RETURNING sub""",
            sub,
            role,
            district if role == "staff" else None,
            name,
            password_hash,
            sealed,
            now,
        )
        if created is None:
            raise AccountError(f"There is already an account {sub}.")
        if replace:
            await end_sessions(conn, sub, now, "reset")
    return otpauth_uri(sub, totp_secret) if totp_secret else None


async def disable(conn: asyncpg.Connection, sub: str, now: datetime, by: audit_log.Actor) -> int:
    """Disable an account and end its sessions at once; returns how many were ended."""
    async with conn.transaction():
        found = await conn.fetchval(
            "UPDATE accounts SET disabled_at = COALESCE(disabled_at, $2) WHERE sub = $1 "
            "RETURNING sub",
            sub,
            now,
        )
        if found is None:
            raise AccountError(f"There is no account {sub}.")
        ended = await end_sessions(conn, sub, now, "disabled")
        await audit_log.append(
            conn,
            by,
            now,
            [audit_log.Record("account.disable", None, sub, {"sessions_ended": ended})],
        )
    return ended


async def end_sessions(conn: asyncpg.Connection, sub: str, now: datetime, why: str) -> int:
    """End every live session of ``sub`` (``why``: reset, disabled); returns how many."""
    ended = await conn.fetch(
        """UPDATE sessions SET ended_at = $2, ended_why = $3
           WHERE sub = $1 AND ended_at IS NULL RETURNING 1""",
        sub,
        now,
        why,
    )
    return len(ended)


async def hash_password(password: str) -> str:
    async with _HASHING:
        return await asyncio.to_thread(PASSWORDS.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return PASSWORDS.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async with _HASHING:
        return await asyncio.to_thread(verify)


async def accounts(conn: asyncpg.Connection) -> list[Account]:
    rows = await conn.fetch(
        "SELECT sub, role, district, name, disabled_at FROM accounts ORDER BY sub"
    )
    return [Account(r["sub"], r["role"], r["district"], r["name"], r["disabled_at"]) for r in rows]
