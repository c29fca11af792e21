"""The code secret and what it seals: each code's person reference, and the stored keys.

Both seals are AES-256-GCM under keys derived from the code secret, which lives outside
the database: a dump or a replica alone can neither read a code's reference nor sign.
"""

from __future__ import annotations

import binascii
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.utils import base64url_encode

from codesvc.codes.offline import COLORS
from codesvc.settings import ConfigError
from codesvc.tokens import read_or_create_secret

#: The sealed reference: person_id, issued, expires, colour computed at (Unix seconds), colour.
_REF = struct.Struct(">QIIIB")
_REF_AAD = b"codesvc code ref v1"
_NONCE = 12
_SEALED_REF_LEN = _NONCE + _REF.size + 16


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url to bytes, at half the cost of PyJWT's helper (twice a scan).
    Raises ValueError on text that is not ASCII or not base64."""
    data = text.encode("ascii")
    return binascii.a2b_base64(data.translate(_URLSAFE) + b"=" * (-len(data) % 4))


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a code's ``ref`` holds, readable only by the service."""

    person_id: int
    issued_at: int
    expires_at: int
    at: int
    color: str


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
            raise ConfigError("the code secret must have at least 16 bytes")
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
        return base64url_encode(nonce + self._ref.encrypt(nonce, plain, _REF_AAD)).decode()

    def unseal(self, ref: str) -> Sealed | None:
        """The contents of a ref, or None when it was not sealed by this secret or was altered."""
        try:
            raw = b64url_decode(ref)
        except ValueError:  # binascii.Error, and non-ASCII text
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
            raise ConfigError(
                f"code-signing key {kid} in the database was sealed with another code secret: "
                "give this instance the deployment's CODESVC_CODE_SECRET (or its code.secret "
                "file), or run `codesvc keys rotate` with the secret it should use"
            ) from None


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
