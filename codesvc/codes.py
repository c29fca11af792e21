"""Citizen codes: short-lived ES256 JWTs that carry a sealed, unlinkable person reference.

A code can be trusted two ways. A scanner that is offline checks the ES256 signature
against a cached JWKS (``verify_offline``). The service itself never verifies the
signature: it opens the sealed ``ref`` (``KeyRing.open``), which AES-GCM authenticates, so
a forged or altered code fails in about 4 µs instead of the ~100 µs of an ES256 check.
The signing keys live in PostgreSQL, their private halves sealed with the code secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from codesvc.tokens import read_or_create_secret

log = logging.getLogger("codesvc.codes")

ALGORITHM = "ES256"
COLORS = ("green", "yellow", "red")
#: NOTIFY channel telling every instance that the code-signing keys changed.
KEYS_CHANNEL = "codesvc_code_keys"
#: A retired key stays published this long past the codes it signed: an instance that
#: missed the rotation notice signs with it until its next reload (every 30 s at most).
KEY_OVERLAP = timedelta(seconds=60)
#: Key of the advisory lock that makes two instances rotate (or create) keys in turn.
KEYS_LOCK = 0x636F6465_0004
#: The sealed reference: person_id, issued, expires, colour computed at (Unix seconds), colour.
_REF = struct.Struct(">QIIIB")
_REF_AAD = b"codesvc code ref v1"
_NONCE = 12
_SEALED_REF_LEN = _NONCE + _REF.size + 16
#: Longest code accepted; real ones are about 330 characters.
MAX_CODE = 2048


class CodeRejected(Exception):
    """A code that cannot be trusted. ``reason`` is what a scanner shows; the message says more.

    Reasons: ``malformed`` (not a code), ``forged`` (altered or badly signed), ``expired``,
    ``unknown_key`` (offline: not signed by a key in your JWKS), ``foreign`` (online: issued
    by another deployment).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a code's ``ref`` holds, readable only by the service."""

    person_id: int
    issued_at: int
    expires_at: int
    at: int
    color: str


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    kid: str
    color: str
    at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OfflineVerdict:
    """What an offline scanner may show: the colour, when it was computed and how long ago."""

    color: str
    as_of: datetime
    age_seconds: float
    expires_at: datetime
    kid: str


def code_secret(configured: str, home: Path) -> bytes:
    """The secret sealing refs and private keys: configured, or made once in the data directory.

    Every instance of a deployment must share it; refs sealed under another secret fail.
    """
    if configured:
        return configured.encode()
    return read_or_create_secret(home / "code.secret")


class CodeSecrets:
    """The two AES-256-GCM keys derived from the code secret: one seals refs, one private keys."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the code secret must have at least 16 bytes")
        self._ref = AESGCM(_derive(secret, b"codesvc code ref"))
        self._wrap = AESGCM(_derive(secret, b"codesvc code-signing key"))

    def seal(self, sealed: Sealed) -> str:
        # A fresh random nonce per code: two codes of one person share no byte of their ref.
        nonce = os.urandom(_NONCE)
        plain = _REF.pack(
            sealed.person_id,
            sealed.issued_at,
            sealed.expires_at,
            sealed.at,
            COLORS.index(sealed.color),
        )
        return _b64(nonce + self._ref.encrypt(nonce, plain, _REF_AAD))

    def unseal(self, ref: str) -> Sealed | None:
        """The contents of a ref, or None when it was not sealed by this secret or was altered."""
        try:
            raw = _unb64(ref)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _SEALED_REF_LEN:
            return None
        try:
            plain = self._ref.decrypt(raw[:_NONCE], raw[_NONCE:], _REF_AAD)
        except InvalidTag:
            return None
        person_id, issued, expires, at, color = _REF.unpack(plain)
        return Sealed(person_id, issued, expires, at, COLORS[color])

    def wrap(self, kid: str, private_pem: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._wrap.encrypt(nonce, private_pem, kid.encode())

    def unwrap(self, kid: str, sealed: bytes) -> bytes:
        try:
            return self._wrap.decrypt(sealed[:_NONCE], sealed[_NONCE:], kid.encode())
        except InvalidTag:
            raise SystemExit(
                f"code-signing key {kid} in the database was sealed with another code secret: "
                "give this instance the deployment's CODESVC_CODE_SECRET (or its code.secret "
                "file), or run `codesvc keys rotate` with the secret it should use"
            ) from None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One code-signing key; ``private`` is None once retired (nothing signs with it again)."""

    kid: str
    private: ec.EllipticCurvePrivateKey | None
    public_jwk: dict[str, str]
    created_at: datetime
    retired_at: datetime | None

    def published_until(self, code_ttl: float) -> datetime | None:
        """When the last code this key can have signed has expired (None: still signing)."""
        if self.retired_at is None:
            return None
        return self.retired_at + timedelta(seconds=code_ttl) + KEY_OVERLAP


def new_signing_key(now: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    kid = thumbprint(jwk)[:16]
    jwk |= {"kid": kid, "alg": ALGORITHM, "use": "sig"}
    return SigningKey(kid, private, jwk, now, None)


def thumbprint(jwk: Mapping[str, str]) -> str:
    """The RFC 7638 thumbprint of an EC public key."""
    canonical = orjson.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")})
    return _b64(hashlib.sha256(canonical).digest())


class KeyRing:
    """The keys this instance knows: the newest active one signs; all of them may be published."""

    def __init__(self, secrets: CodeSecrets, keys: Sequence[SigningKey] = ()) -> None:
        self.secrets = secrets
        self.update(keys)

    def update(self, keys: Sequence[SigningKey]) -> None:
        """Replace the known keys (after a rotation here or in another instance)."""
        self.keys = sorted(keys, key=lambda k: k.created_at)
        active = [k for k in self.keys if k.retired_at is None and k.private is not None]
        self.signing = active[-1] if active else None
        self._known = {k.kid for k in self.keys}

    def jwks(self, now: datetime, code_ttl: float) -> dict[str, list[dict[str, str]]]:
        """The public keys a verifier needs now: active ones and those whose codes may live."""
        published = []
        for key in self.keys:
            until = key.published_until(code_ttl)
            if until is None or until > now:
                published.append(key.public_jwk)
        return {"keys": published}

    def issue(
        self, person_id: int, color: str, at: datetime, now: datetime, ttl: int
    ) -> IssuedCode:
        """A signed code for a person's colour computed at ``at``, valid for ``ttl`` seconds."""
        if self.signing is None or self.signing.private is None:
            raise RuntimeError("no active code-signing key; run `codesvc keys rotate`")
        issued = int(now.timestamp())
        expires = issued + ttl
        computed = int(at.timestamp())
        ref = self.secrets.seal(Sealed(person_id, issued, expires, computed, color))
        claims = {"ref": ref, "color": color, "at": computed, "iat": issued, "exp": expires}
        code = jwt.encode(
            claims,
            self.signing.private,
            algorithm=ALGORITHM,
            headers={"kid": self.signing.kid, "typ": None},
        )
        return IssuedCode(
            code,
            self.signing.kid,
            color,
            datetime.fromtimestamp(computed, UTC),
            datetime.fromtimestamp(expires, UTC),
        )

    def open(self, code: object, now: datetime) -> Sealed:
        """The person and colour behind a code this deployment issued, for the online scan.

        The ES256 signature is deliberately not checked here: it exists for offline
        verifiers. The sealed ref is authenticated by AES-GCM under a key only the service
        holds, and every claim must match what was sealed, so an altered code fails just
        the same. The expiry sealed in the ref is the one that counts.
        """
        if not isinstance(code, str) or len(code) > MAX_CODE or code.count(".") != 2:
            raise CodeRejected("malformed", "This is not a health code; scan the person's code.")
        header, payload, _signature = code.split(".")
        try:
            claims = orjson.loads(_unb64(payload))
            ref = claims["ref"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise CodeRejected(
                "malformed", "This is not a health code; scan the person's code."
            ) from None
        sealed = self.secrets.unseal(ref) if isinstance(ref, str) else None
        if sealed is None:
            if self._kid(header) not in self._known:
                raise CodeRejected(
                    "foreign",
                    "This code was not issued by this city's health-code service; "
                    "ask the person to open the code in this city's app.",
                )
            raise CodeRejected(
                "forged", "This code has been altered or forged; do not admit on it."
            )
        if (
            claims.get("color") != sealed.color
            or claims.get("at") != sealed.at
            or claims.get("iat") != sealed.issued_at
            or claims.get("exp") != sealed.expires_at
        ):
            raise CodeRejected(
                "forged", "This code has been altered or forged; do not admit on it."
            )
        if sealed.expires_at <= now.timestamp():
            raise CodeRejected(
                "expired", "This code has expired; ask the person to refresh it and scan again."
            )
        return sealed

    @staticmethod
    def _kid(header: str) -> str | None:
        try:
            kid = orjson.loads(_unb64(header)).get("kid")
        except (binascii.Error, ValueError, AttributeError):
            return None
        return kid if isinstance(kid, str) else None


def verify_offline(
    code: str, jwks: Mapping[str, Any], now: datetime | None = None, leeway: float = 0.0
) -> OfflineVerdict:
    """Check a code with a cached JWKS, no network: signature, key and expiry.

    Returns the colour, when it was computed and how many seconds ago (``age_seconds``),
    so a scanner can show how old its answer is; raises ``CodeRejected`` otherwise.
    """
    now = now or datetime.now(UTC)
    try:
        header = jwt.get_unverified_header(code)
    except jwt.PyJWTError:
        raise CodeRejected("malformed", "This is not a health code.") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM:
        raise CodeRejected("forged", f"The code is signed with {header.get('alg')!r}, not ES256.")
    jwk = next((k for k in jwks.get("keys", ()) if k.get("kid") == kid), None)
    if jwk is None:
        raise CodeRejected(
            "unknown_key",
            f"The code is signed by key {kid!r}, which is not in your key set: fetch /v1/keys "
            "again; if the key is still missing, the code was not issued by this service.",
        )
    try:
        claims = jwt.decode(
            code,
            jwt.PyJWK(dict(jwk), algorithm=ALGORITHM),
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "at", "ref"]},
        )
    except jwt.InvalidSignatureError:
        raise CodeRejected(
            "forged", "The code's signature does not verify: it was altered."
        ) from None
    except jwt.PyJWTError as exc:
        raise CodeRejected("malformed", f"This is not a valid health code: {exc}.") from None
    color, at, exp = claims.get("color"), claims["at"], claims["exp"]
    if color not in COLORS or not isinstance(at, int) or not isinstance(exp, int):
        raise CodeRejected("malformed", "The code does not carry a colour and its time.")
    expires_at = datetime.fromtimestamp(exp, UTC)
    if now.timestamp() >= exp + leeway:
        raise CodeRejected(
            "expired", "This code has expired; ask the person to refresh it and scan again."
        )
    as_of = datetime.fromtimestamp(at, UTC)
    return OfflineVerdict(color, as_of, (now - as_of).total_seconds(), expires_at, str(kid))


# Storage: the keys live in PostgreSQL so every instance signs with the same one.


async def load_keys(conn: asyncpg.Connection, secrets: CodeSecrets) -> list[SigningKey]:
    """Every key still worth knowing (active, or retired within the last day)."""
    rows = await conn.fetch(
        """SELECT kid, private_pem, public_jwk::text, created_at, retired_at FROM code_keys
           WHERE retired_at IS NULL OR retired_at > now() - interval '1 day'"""
    )
    keys = []
    for r in rows:
        private = None
        if r["private_pem"] is not None and r["retired_at"] is None:
            pem = secrets.unwrap(r["kid"], bytes(r["private_pem"]))
            loaded = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            private = loaded
        keys.append(
            SigningKey(
                r["kid"], private, orjson.loads(r["public_jwk"]), r["created_at"], r["retired_at"]
            )
        )
    return keys


async def ensure_key(conn: asyncpg.Connection, secrets: CodeSecrets, now: datetime) -> None:
    """Create the first signing key if there is none (two instances starting together: one)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", KEYS_LOCK)
        if await conn.fetchval("SELECT count(*) FROM code_keys WHERE retired_at IS NULL"):
            return
        await _insert(conn, secrets, new_signing_key(now))


async def rotate(
    conn: asyncpg.Connection,
    secrets: CodeSecrets,
    now: datetime,
    due_before: datetime | None = None,
) -> SigningKey | None:
    """Retire the signing key and make a new one; tell every instance.

    With ``due_before``, rotate only if the newest key was created before it (the schedule,
    run by every instance: the first one to get there rotates, the others find it done).
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", KEYS_LOCK)
        if due_before is not None:
            newest = await conn.fetchval(
                "SELECT max(created_at) FROM code_keys WHERE retired_at IS NULL"
            )
            if newest is not None and newest >= due_before:
                return None
        # The private half goes: nothing may sign with a retired key, only verify.
        await conn.execute(
            "UPDATE code_keys SET retired_at = $1, private_pem = NULL WHERE retired_at IS NULL",
            now,
        )
        key = new_signing_key(now)
        await _insert(conn, secrets, key)
        await conn.execute("SELECT pg_notify($1, $2)", KEYS_CHANNEL, key.kid)
    return key


async def rotate_on_schedule(
    pool: asyncpg.Pool, ring: KeyRing, clock: Callable[[], datetime], every: float
) -> None:
    """Rotate the signing key every ``every`` seconds. Every instance runs this; the first
    to find the key due rotates it, the others find it done."""
    period = timedelta(seconds=every)
    while True:
        newest = ring.signing.created_at if ring.signing else clock()
        wait = (newest + period - clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(min(wait, 60.0))
            continue
        try:
            async with pool.acquire() as conn:
                now = clock()
                key = await rotate(conn, ring.secrets, now, due_before=now - period)
                ring.update(await load_keys(conn, ring.secrets))
            if key is not None:
                log.info("rotated the code-signing key", extra={"kid": key.kid})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("code-signing key rotation failed, will retry: %s", exc)
            await asyncio.sleep(10)


async def _insert(conn: asyncpg.Connection, secrets: CodeSecrets, key: SigningKey) -> None:
    assert key.private is not None
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    await conn.execute(
        """INSERT INTO code_keys (kid, private_pem, public_jwk, created_at)
           VALUES ($1, $2, $3::text::jsonb, $4)""",
        key.kid,
        secrets.wrap(key.kid, pem),
        orjson.dumps(key.public_jwk).decode(),
        key.created_at,
    )


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
