"""Every way a token can be wrong gets a 401 problem; a wrong role gets a 403."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from codesvc.settings import ConfigError, Settings
from codesvc.tokens import AuthKeys


async def expect_401(api, headers, needle: str) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.get("/v1/whoami", headers=headers)
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert needle in body["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_valid_token_is_accepted(api):
    resp = await api.client.get("/v1/whoami", headers=api.auth("staff", "officer-7", "310104"))
    assert resp.status == 200
    body = await resp.json()
    assert body["role"] == "staff"
    assert body["sub"] == "officer-7"
    assert body["district"] == "310104"


async def test_missing_token(api):
    await expect_401(api, {}, "Authorization: Bearer")


async def test_not_a_bearer_header(api):
    await expect_401(api, {"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer <token>")


async def test_malformed_token(api):
    await expect_401(api, {"Authorization": "Bearer not.a.jwt"}, "not a well-formed JWT")


async def test_expired_token(api):
    token = api.keys.sign("citizen", "p_x", ttl=-10)
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "expired")


async def test_unsigned_alg_none_token(api):
    claims = {"role": "commission", "sub": "mallory", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, key=None, algorithm="none")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "'none'")


async def test_wrongly_signed_token(api):
    claims = {"role": "commission", "sub": "mallory", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, "another-deployments-secret-0123456789", algorithm="HS256")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "signature does not verify")


async def test_token_of_another_algorithm(api):
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"role": "commission", "sub": "mallory", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, key, algorithm="ES256")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "accepts only HS256")


async def test_unknown_role(api):
    claims = {"role": "mayor", "sub": "x", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, api.keys.signing_key, algorithm="HS256")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "'mayor'")


async def test_staff_token_without_district(api):
    claims = {"role": "staff", "sub": "x", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, api.keys.signing_key, algorithm="HS256")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "district")


async def test_token_without_subject(api):
    claims = {"role": "citizen", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, api.keys.signing_key, algorithm="HS256")
    await expect_401(api, {"Authorization": f"Bearer {token}"}, "'sub'")


def test_es256_keys_sign_and_verify(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "auth.pem"
    public = tmp_path / "auth.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    keys = AuthKeys.from_settings(
        Settings(
            auth_algorithm="ES256",
            auth_public_key_file=str(public),
            auth_private_key_file=str(private),
        )
    )
    found = keys.verify(keys.sign("feeder", "lab-1"))
    assert (found.role, found.sub) == ("feeder", "lab-1")


def test_unknown_algorithm_is_refused_at_start():
    with pytest.raises(ConfigError, match="use one of"):
        AuthKeys.from_settings(Settings(auth_algorithm="RS512"))


def test_development_secret_is_made_once_and_kept(tmp_path):
    first = AuthKeys.from_settings(Settings(home=tmp_path))
    second = AuthKeys.from_settings(Settings(home=tmp_path))
    token = first.sign("citizen", "p_1")
    assert second.verify(token).sub == "p_1"
    assert (tmp_path / "auth.secret").stat().st_mode & 0o077 == 0


def test_processes_starting_together_share_the_one_secret_made(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from codesvc.tokens import read_or_create_secret

    path = tmp_path / "home" / "auth.secret"
    with ProcessPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(read_or_create_secret, [path] * 8))
    assert len(set(made)) == 1
    assert path.read_bytes() == made[0]
    assert [p.name for p in path.parent.iterdir()] == ["auth.secret"]


async def raw_request(api, head: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """Send bytes no HTTP client library would send; return the whole answer."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", api.client.server.port)
    writer.write(head + b"Host: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize("route", [b"GET /v1/whoami", b"POST /v1/scans", b"GET /v1/me/status"])
async def test_a_token_that_is_not_utf8_is_refused_not_a_crash(api, route):
    answer = await raw_request(api, route + b" HTTP/1.1\r\nAuthorization: Bearer ab\xffcd.e.f\r\n")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"application/problem+json" in answer


async def test_a_malformed_authorization_header_never_reaches_the_log(api, caplog):
    secret = b"SECRETTOKENBYTES"
    answer = await raw_request(
        api, b"GET /v1/whoami HTTP/1.1\r\nAuthorization: Bearer " + secret + b"\x00x\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400")
    assert caplog.records, "the malformed request is still logged"
    assert secret.decode() not in caplog.text
    assert "Bearer" not in caplog.text


async def token_with(api, **claims: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = {"role": "citizen", "sub": "p_X", **claims}
    return {"Authorization": "Bearer " + jwt.encode(body, api.keys.signing_key, "HS256")}


async def test_an_expiry_far_beyond_any_calendar_is_refused(api):
    await expect_401(api, await token_with(api, exp=1e20), "exp")


async def test_an_expiry_given_as_text_is_refused(api):
    await expect_401(api, await token_with(api, exp=str(int(time.time()) + 600)), "exp")
