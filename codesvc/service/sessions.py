"""Signing in and the sessions that follow: server-side, idle and absolute limits, lockout.

A session is a random id in a cookie; the database keeps only its SHA-256, so a copy
of the table signs no one in. Failed sign-ins are rows in the database, so the lockout
holds across every server process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import asyncpg
import pyotp

from codesvc.service import accounts, audit_log

log = logging.getLogger("codesvc.sessions")

#: A session ends after this long without a request, and this long after sign-in at most.
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
#: The sixth failed sign-in for one account within the window is refused (429).
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5


@dataclass(frozen=True, slots=True)
class Session:
    """A live session as a request sees it."""

    sub: str
    role: str
    district: str | None
    name: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime

    @property
    def ends_at(self) -> datetime:
        """When it ends if no further request comes: idle, or at its 12 hours."""
        return min(self.expires_at, self.last_seen_at + IDLE)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session and the raw id for the cookie (the database keeps only its hash)."""

    session: Session
    session_id: str


def csrf_token(session_id: str) -> str:
    """The CSRF token bound to a session: derived from its id, so nothing more is stored
    and a page can ask for it again; unguessable without the id, which only the cookie
    holds, and the id cannot be recovered from it."""
    mac = hmac.new(session_id.encode(), b"codesvc csrf token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a sign-in failed: ``credentials`` (wrong or unknown), ``otp``, or ``locked``."""

    why: str
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Anonymous:
    """Whoever tried to sign in as ``sub``, for the audit log."""

    sub: str
    role: str = "anonymous"


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the account is unknown, so that costs the same."""
    return accounts.PASSWORDS.hash(secrets.token_urlsafe(16))


def _totp_step(totp_secret: str, otp: str, now: datetime) -> int | None:
    """The time step ``otp`` belongs to (now, one before or one after), or None."""
    totp = pyotp.TOTP(totp_secret)
    if not (otp.isascii() and otp.isdigit()) or not totp.verify(otp, for_time=now, valid_window=1):
        return None
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), otp):
            return step
    return None


async def sign_in(
    conn: asyncpg.Connection,
    *,
    sub: str,
    password: str,
    otp: str | None,
    now: datetime,
    seal: accounts.TotpSeal,
    remote: str | None,
) -> SignedIn | Refused:
    """Check the password (and TOTP where the account has one) and start a session.

    Failures are recorded and audited; the sixth within the window is refused without
    looking at the password, until the oldest of the five is older than the window.
    """
    async with conn.transaction():
        # One attempt per account name at a time, in every process, so the count is exact.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('codesvc.sign-in:' || $1, 0))", sub
        )
        await conn.execute(
            "DELETE FROM sign_in_failures WHERE sub = $1 AND at <= $2", sub, now - FAILURE_WINDOW
        )
        recent = [
            r["at"]
            for r in await conn.fetch(
                "SELECT at FROM sign_in_failures WHERE sub = $1 ORDER BY at", sub
            )
        ]
        if len(recent) >= MAX_FAILURES:
            free_at = recent[len(recent) - MAX_FAILURES] + FAILURE_WINDOW
            return Refused("locked", free_at - now)
        row = await conn.fetchrow(
            """SELECT sub, role, district, name, password_hash, totp_sealed, totp_step,
                      disabled_at FROM accounts WHERE sub = $1""",
            sub,
        )
        known = row is not None
        good = await accounts.verify_password(
            row["password_hash"] if known else _dummy_hash(), password
        )
        why = None
        if not (known and good) or row["disabled_at"] is not None:
            why = "credentials"
        elif row["totp_sealed"] is not None:
            step = _check_otp(seal, row, otp, now)
            if step is None:
                why = "otp"
            else:
                await conn.execute("UPDATE accounts SET totp_step = $2 WHERE sub = $1", sub, step)
        actor = Anonymous(sub)
        detail: dict[str, object] = {"remote": remote}
        if why is not None:
            await conn.execute("INSERT INTO sign_in_failures (sub, at) VALUES ($1, $2)", sub, now)
            audit_why = why if known else "unknown account"
            if known and row["disabled_at"] is not None:
                audit_why = "disabled"
            records = [audit_log.Record("session.refused", None, sub, {**detail, "why": audit_why})]
            if len(recent) + 1 >= MAX_FAILURES:
                records.append(
                    audit_log.Record(
                        "session.locked",
                        None,
                        sub,
                        {**detail, "until": (now + FAILURE_WINDOW).isoformat()},
                    )
                )
            await audit_log.append(conn, actor, now, records)
            return Refused(why)
        assert row is not None
        if accounts.PASSWORDS.check_needs_rehash(row["password_hash"]):
            await conn.execute(
                "UPDATE accounts SET password_hash = $2 WHERE sub = $1",
                sub,
                await accounts.hash_password(password),
            )
        await conn.execute("DELETE FROM sign_in_failures WHERE sub = $1", sub)
        session_id = secrets.token_urlsafe(32)
        session = Session(
            row["sub"],
            row["role"],
            row["district"],
            row["name"],
            now,
            now + LIFETIME,
            now,
        )
        await conn.execute(
            """INSERT INTO sessions (id_hash, sub, created_at, last_seen_at, expires_at)
               VALUES ($1, $2, $3, $3, $4)""",
            digest(session_id),
            sub,
            now,
            session.expires_at,
        )
        await audit_log.append(
            conn,
            accounts.Account(sub, row["role"], row["district"], row["name"], None),
            now,
            [audit_log.Record("session.start", None, sub, detail)],
        )
        return SignedIn(session, session_id)


def _check_otp(
    seal: accounts.TotpSeal, row: asyncpg.Record, otp: str | None, now: datetime
) -> int | None:
    if not otp:
        return None
    totp_secret = seal.open(row["sub"], row["totp_sealed"])
    if totp_secret is None:  # sealed under another key: nobody can pass; tell the operator
        log.error(
            "the TOTP secret of %s cannot be opened with this server's key; check "
            "CODESVC_TOTP_SECRET",
            row["sub"],
        )
        return None
    step = _totp_step(totp_secret, otp.strip(), now)
    if step is None or step <= row["totp_step"]:
        return None  # wrong, or a code already used: good once only
    return step


async def touch(conn: asyncpg.Connection, session_id: str, now: datetime) -> Session | None:
    """The live session with this id, its idle clock restarted; None if it has ended."""
    row = await conn.fetchrow(
        """UPDATE sessions s SET last_seen_at = GREATEST(s.last_seen_at, $2)
           FROM accounts a
           WHERE s.id_hash = $1 AND a.sub = s.sub AND s.ended_at IS NULL
             AND a.disabled_at IS NULL AND s.last_seen_at > $3 AND s.expires_at > $2
           RETURNING s.sub, a.role, a.district, a.name, s.created_at, s.expires_at,
                     s.last_seen_at""",
        digest(session_id),
        now,
        now - IDLE,
    )
    if row is None:
        return None
    return Session(
        row["sub"],
        row["role"],
        row["district"],
        row["name"],
        row["created_at"],
        row["expires_at"],
        row["last_seen_at"],
    )


async def why_ended(conn: asyncpg.Connection, session_id: str, now: datetime) -> str:
    """Why a session id no longer works: ``signed_out``, ``disabled``, ``idle``, ``expired``,
    or ``unknown`` — for a message that tells the person what happened."""
    row = await conn.fetchrow(
        """SELECT s.ended_why, s.last_seen_at, s.expires_at, a.disabled_at
           FROM sessions s JOIN accounts a USING (sub) WHERE s.id_hash = $1""",
        digest(session_id),
    )
    if row is None:
        return "unknown"
    if row["ended_why"] is not None:
        return str(row["ended_why"])
    if row["disabled_at"] is not None:
        return "disabled"
    if row["expires_at"] <= now:
        return "expired"
    return "idle"


async def sign_out(
    conn: asyncpg.Connection, session_id: str, session: Session, now: datetime
) -> None:
    async with conn.transaction():
        await conn.execute(
            """UPDATE sessions SET ended_at = $2, ended_why = 'signed_out'
               WHERE id_hash = $1 AND ended_at IS NULL""",
            digest(session_id),
            now,
        )
        await audit_log.append(
            conn,
            accounts.Account(session.sub, session.role, session.district, session.name, None),
            now,
            [audit_log.Record("session.end", None, session.sub, {"why": "signed_out"})],
        )
