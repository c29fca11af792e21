"""Signing keys and the key ring: issue a citizen's code, and open one at an online door."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from jwt.utils import base64url_encode

from codesvc.codes.offline import ALGORITHM, CodeRejected
from codesvc.codes.sealing import CodeSecrets, Sealed, b64url_decode
from codesvc.messages import t

#: A retired key stays published this long past the codes it signed: an instance that
#: missed the rotation notice signs with it until its next reload (every 30 s at most).
KEY_OVERLAP = timedelta(seconds=60)
#: Longest code accepted; real ones are about 330 characters.
MAX_CODE = 2048

#: What a door is told about a code it may not trust, by the reason (`CodeRejected`).
REFUSED: Final = {
    "malformed": t("This is not a health code; scan the person's code."),
    "forged": t("This code has been altered or forged; do not admit on it."),
    "expired": t("This code has expired; ask the person to refresh it and scan again."),
    "foreign": t(
        "This code was not issued by this city's health-code service; ask the person to open "
        "the code in this city's app."
    ),
}


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    kid: str
    color: str
    at: datetime
    expires_at: datetime


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
    jwk: dict[str, str] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = thumbprint(jwk)[:16]
    jwk |= {"kid": kid, "alg": ALGORITHM, "use": "sig"}
    return SigningKey(kid, private, jwk, now, None)


def thumbprint(jwk: Mapping[str, str]) -> str:
    """The RFC 7638 thumbprint of an EC public key (PyJWT has none)."""
    canonical = orjson.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")})
    return base64url_encode(hashlib.sha256(canonical).digest()).decode()


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
        the same. The expiry sealed in the ref is the one that counts. The JWT is split by
        hand: PyJWT's unverified decode costs about 120 µs here, this about 9 µs.
        """
        if not isinstance(code, str) or len(code) > MAX_CODE or code.count(".") != 2:
            raise CodeRejected("malformed", REFUSED["malformed"])
        header, payload, _signature = code.split(".")
        try:
            claims = orjson.loads(b64url_decode(payload))
            ref = claims["ref"]
        except (ValueError, TypeError, KeyError):
            raise CodeRejected("malformed", REFUSED["malformed"]) from None
        sealed = self.secrets.unseal(ref) if isinstance(ref, str) else None
        if sealed is None:
            if self._kid(header) not in self._known:
                raise CodeRejected("foreign", REFUSED["foreign"])
            raise CodeRejected("forged", REFUSED["forged"])
        if (
            claims.get("color") != sealed.color
            or claims.get("at") != sealed.at
            or claims.get("iat") != sealed.issued_at
            or claims.get("exp") != sealed.expires_at
        ):
            raise CodeRejected("forged", REFUSED["forged"])
        if sealed.expires_at <= now.timestamp():
            raise CodeRejected("expired", REFUSED["expired"])
        return sealed

    @staticmethod
    def _kid(header: str) -> str | None:
        try:
            kid = orjson.loads(b64url_decode(header)).get("kid")
        except (ValueError, AttributeError):
            return None
        return kid if isinstance(kid, str) else None
