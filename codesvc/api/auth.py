"""Who is calling: a bearer token (verified once and remembered until it expires) or a
staff session cookie; both become the same ``Principal``."""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from aiohttp import web

from codesvc.api.problems import Problem
from codesvc.api.session import COOKIE, from_cookie
from codesvc.messages import t
from codesvc.tokens import AuthKeys, Principal, TokenRejected

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="codesvc"'}
#: Longest bearer token looked at; a real one is a few hundred characters.
MAX_TOKEN = 4096
#: What a compact JWT is made of: three base64url parts joined by dots.
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class Authenticator:
    """Verifies bearer tokens, keeping recent verdicts so a busy scanner is checked once."""

    def __init__(self, keys: AuthKeys, cache_size: int = 50_000) -> None:
        self.keys = keys
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        #: Token ids and subjects refused from now on (revoked venues and tokens).
        self.revoked_subjects: set[tuple[str, str]] = set()

    async def identify(self, request: web.Request) -> Principal:
        """The caller: the one place a bearer token and a session cookie become a principal,
        so authorization is decided identically for both. Machines send tokens; a request
        with an Authorization header is judged by it alone."""
        if "Authorization" not in request.headers:
            session_id = request.cookies.get(COOKIE)
            if session_id:
                return await from_cookie(request, session_id)
        return self.authenticate(request)

    def authenticate(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization")
        if not header:
            raise Problem(
                401,
                t("This route needs an Authorization: Bearer <token> header."),
                headers=CHALLENGE,
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401, t("The Authorization header must be 'Bearer <token>'."), headers=CHALLENGE
            )
        found = self._cache.get(token)
        if found is None:
            # Checked before any library sees it: bytes that are not UTF-8, NUL or a huge
            # header are an answer, never a crash.
            if len(token) > MAX_TOKEN or not _JWT.fullmatch(token):
                raise Problem(
                    401,
                    t("Not authenticated: the bearer token is not a well-formed JWT."),
                    headers=CHALLENGE,
                )
            try:
                found = self.keys.verify(token)
            except TokenRejected as exc:
                why = exc.args[0] if exc.args else ""
                raise Problem(
                    401, t("Not authenticated: {why}.", why=why), headers=CHALLENGE
                ) from None
            self._cache[token] = found
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if found.expires_at <= time.time():
            self._cache.pop(token, None)
            raise Problem(
                401,
                t("Not authenticated: the token has expired; get a new one."),
                headers=CHALLENGE,
            )
        if (found.role, found.sub) in self.revoked_subjects:
            raise Problem(
                401,
                t(
                    "Not authenticated: tokens of {role} {sub} are revoked.",
                    role=found.role,
                    sub=found.sub,
                ),
                headers=CHALLENGE,
            )
        return found

    def revoke(self, role: str, sub: str) -> None:
        self.revoked_subjects.add((role, sub))

    def reinstate(self, role: str, sub: str) -> None:
        self.revoked_subjects.discard((role, sub))
