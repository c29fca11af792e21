"""The door's offline check in the browser agrees with ``verify_offline`` in Python.

One set of codes — valid, expired, forged signature, edited payload, unknown key and a few
malformed ones — is judged by both: the same reason for each refusal, the same colour and
age for each code let through.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from jwt.utils import base64url_decode, base64url_encode
from playwright.async_api import Page, async_playwright

from codesvc.api.pages import BUNDLE
from codesvc.codes import CodeRejected, verify_offline
from codesvc.codes.ring import KeyRing, new_signing_key
from codesvc.codes.sealing import CodeSecrets
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def b64(raw: bytes) -> str:
    return base64url_encode(raw).decode()


def edit(code: str, **claims: object) -> str:
    """The code with claims changed and its signature kept."""
    header, payload, signature = code.split(".")
    body = json.loads(base64url_decode(payload))
    body.update(claims)
    return ".".join((header, b64(json.dumps(body).encode()), signature))


def codes() -> tuple[dict[str, str], dict[str, object]]:
    secrets = CodeSecrets(b"a code secret of the test, 32 b.")
    key = new_signing_key(NOW - timedelta(minutes=5))
    stranger = new_signing_key(NOW)
    ring = KeyRing(secrets, [key])
    valid = ring.issue(7, "yellow", NOW - timedelta(seconds=20), NOW - timedelta(seconds=10), 60)
    header, payload, signature = valid.code.split(".")
    raw_signature = bytearray(base64url_decode(signature))
    raw_signature[5] ^= 0x01
    other = KeyRing(secrets, [stranger]).issue(7, "green", NOW, NOW, 60)
    assert key.private is not None
    hs256 = jwt.encode({"color": "green", "at": 1, "exp": 2, "ref": "x"}, "k" * 32, "HS256")
    cases = {
        "valid": valid.code,
        "expired": ring.issue(7, "green", NOW, NOW - timedelta(seconds=61), 60).code,
        "forged signature": ".".join((header, payload, b64(bytes(raw_signature)))),
        "edited payload": edit(valid.code, color="green"),
        "unknown key": other.code,
        "another algorithm": hs256,
        "not a code": "hello",
        "two parts": f"{header}.{payload}",
        "no colour": jwt.encode(
            {"at": 1, "exp": 9999999999, "ref": "x"}, key.private, "ES256", headers={"kid": key.kid}
        ),
        "short signature": f"{header}.{payload}.{b64(b'short')}",
    }
    return cases, KeyRing(secrets, [key]).jwks(NOW, 60)


def python_verdict(code: str, jwks: dict[str, object]) -> dict[str, object]:
    try:
        verdict = verify_offline(code, jwks, NOW)
    except CodeRejected as exc:
        return {"reason": exc.reason}
    return {"color": verdict.color, "age": verdict.age_seconds, "kid": verdict.kid}


@pytest.fixture
async def page(api) -> AsyncIterator[Page]:  # type: ignore[no-untyped-def]
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = await browser.new_page()
        await page.goto(str(api.client.make_url("/")))
        yield page
        await browser.close()


async def test_the_page_and_python_judge_every_code_alike(page):
    cases, jwks = codes()
    browser_verdicts = await page.evaluate(
        """async ([cases, jwks, now, module]) => {
            const { verifyOffline, CodeRejected } = await import(module);
            const out = {};
            for (const [name, code] of Object.entries(cases)) {
                try {
                    const v = await verifyOffline(code, jwks, now);
                    out[name] = { color: v.color, age: v.ageSeconds, kid: v.kid };
                } catch (err) {
                    if (!(err instanceof CodeRejected)) throw err;
                    out[name] = { reason: err.reason };
                }
            }
            return out;
        }""",
        [cases, jwks, NOW.timestamp() * 1000, BUNDLE.url("offline-check.js")],
    )
    python_verdicts = {name: python_verdict(code, jwks) for name, code in cases.items()}
    assert browser_verdicts == python_verdicts
    # And the set means what it says: one code through, each refusal for its own reason.
    assert python_verdicts["valid"] == {
        "color": "yellow",
        "age": 20.0,
        "kid": jwks["keys"][0]["kid"],
    }  # type: ignore[index]
    assert python_verdicts["expired"] == {"reason": "expired"}
    assert python_verdicts["forged signature"] == {"reason": "forged"}
    assert python_verdicts["edited payload"] == {"reason": "forged"}
    assert python_verdicts["unknown key"] == {"reason": "unknown_key"}
    assert python_verdicts["not a code"] == {"reason": "malformed"}
