"""Bearer tokens: the keys that sign and verify them, and the claims they carry."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from codesvc.messages import t
from codesvc.settings import ConfigError, Settings

ROLES = ("citizen", "scanner", "feeder", "staff", "commission")
#: Roles whose tokens must name a district.
DISTRICT_ROLES = ("staff",)
ALGORITHMS = ("HS256", "ES256")
#: The last second of the year 9999: an ``exp`` past it is no time any clock will show.
MAX_EXP = 253402300799


class TokenRejected(Exception):
    """The token cannot be trusted; the message says why, for the caller."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, from a verified token."""

    role: str
    sub: str
    district: str | None
    expires_at: float
    token_id: str | None = None


#: The file in the data directory that keeps the HS256 token secret when none is configured.
AUTH_SECRET_FILE = "auth.secret"


def kept_auth_secret(settings: Settings) -> Path | None:
    """The file the token secret is kept in, or None when it is configured, not kept."""
    if settings.auth_algorithm != "HS256" or settings.auth_secret:
        return None
    return settings.home / AUTH_SECRET_FILE


def read_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """A secret kept in the data directory, made on first use, readable only by its owner."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes).encode()
    # Written whole under a private name, then linked into place: server processes starting
    # together on a fresh data directory all end up with the one secret that won.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        draft.unlink(missing_ok=True)
    return value


@dataclass(frozen=True)
class AuthKeys:
    """The configured algorithm with its verifying key and, where known, its signing key."""

    algorithm: str
    verify_key: object
    signing_key: object | None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthKeys:
        if settings.auth_algorithm not in ALGORITHMS:
            raise ConfigError(
                f"CODESVC_AUTH_ALGORITHM={settings.auth_algorithm!r}: use one of {ALGORITHMS}"
            )
        if settings.auth_algorithm == "HS256":
            kept = kept_auth_secret(settings)
            secret = read_or_create_secret(kept) if kept else settings.auth_secret.encode()
            return cls("HS256", secret, secret)
        if not settings.auth_public_key_file:
            raise ConfigError("ES256 tokens need CODESVC_AUTH_PUBLIC_KEY_FILE (a PEM public key)")
        public = Path(settings.auth_public_key_file).read_bytes()
        private = (
            Path(settings.auth_private_key_file).read_bytes()
            if settings.auth_private_key_file
            else None
        )
        return cls("ES256", public, private)

    def sign(
        self,
        role: str,
        sub: str,
        district: str | None = None,
        ttl: int = 3600,
        token_id: str | None = None,
    ) -> str:
        if self.signing_key is None:
            raise ConfigError("no signing key: set CODESVC_AUTH_PRIVATE_KEY_FILE")
        now = int(time.time())
        claims: dict[str, object] = {"role": role, "sub": sub, "iat": now, "exp": now + ttl}
        if district:
            claims["district"] = district
        claims["jti"] = token_id or secrets.token_hex(8)
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm)  # type: ignore[arg-type]

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected(t("the bearer token is not a well-formed JWT")) from None
        if header.get("alg") != self.algorithm:
            raise TokenRejected(
                t(
                    "the token is signed with {alg}; this service accepts only {accepted}",
                    alg=repr(header.get("alg")),
                    accepted=self.algorithm,
                )
            )
        try:
            claims = jwt.decode(
                token,
                self.verify_key,  # type: ignore[arg-type]
                algorithms=[self.algorithm],
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected(t("the token has expired; get a new one")) from None
        except jwt.InvalidSignatureError:
            raise TokenRejected(t("the token's signature does not verify")) from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(
                t("the token lacks the {claim} claim", claim=repr(exc.claim))
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(t("the token is not valid: {why}", why=str(exc))) from None
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float) or not 0 < exp <= MAX_EXP:
            raise TokenRejected(
                t("the token's exp claim must be a number of seconds (NumericDate)")
            )
        role, sub, district = claims.get("role"), claims.get("sub"), claims.get("district")
        if role not in ROLES:
            raise TokenRejected(
                t("the token's role {role} is not one of {roles}", role=repr(role),
                  roles=", ".join(ROLES))
            )  # fmt: skip
        if not isinstance(sub, str) or not sub:
            raise TokenRejected(t("the token's sub claim must be a non-empty string"))
        if role in DISTRICT_ROLES and not (isinstance(district, str) and district):
            raise TokenRejected(t("a {role} token must carry a district claim", role=role))
        if district is not None and not isinstance(district, str):
            raise TokenRejected(t("the token's district claim must be a string"))
        return Principal(role, sub, district, float(exp), claims.get("jti"))
