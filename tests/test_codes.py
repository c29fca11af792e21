"""Citizens' codes: issued over HTTP, verified offline with /v1/keys, refused when not genuine."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import segno
from aiohttp.test_utils import TestClient, TestServer

from codesvc import codes
from codesvc.api.app import create_app
from codesvc.codes import keystore, qr, ring, sealing
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.conftest import Api, City, Clock

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- offline-verify:start -->", "<!-- offline-verify:end -->"


async def issue(api: Api, person_ref: str) -> dict[str, str]:
    resp = await api.client.get("/v1/me/code", headers=api.auth("citizen", person_ref))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    return dict(await resp.json())


async def jwks(api: Api) -> dict[str, list[dict[str, str]]]:
    resp = await api.client.get("/v1/keys")
    assert resp.status == 200
    return dict(await resp.json())


async def scan(api: Api, code: str, venue: str = "venue-1"):  # type: ignore[no-untyped-def]
    return await api.client.post(
        "/v1/scans", json={"code": code}, headers=api.auth("scanner", venue)
    )


def claims_of(code: str) -> dict[str, object]:
    payload = code.split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def with_claims(code: str, **changes: object) -> str:
    """The code with its payload re-encoded with ``changes``; the signature left as it was."""
    header, _, signature = code.split(".")
    payload = base64.urlsafe_b64encode(orjson.dumps(claims_of(code) | changes)).rstrip(b"=")
    return f"{header}.{payload.decode()}.{signature}"


async def test_round_trip_issue_verify_offline_and_scan(api, city: City, conn):
    ref = await city.register(name="张三")
    issued = await issue(api, ref)
    assert issued["color"] == "green"
    # The drawing served is, byte for byte, segno's drawing of the same code.
    assert issued["qr_svg"] == qr.segno_svg(issued["code"], "health code: green")
    expires = datetime.fromisoformat(issued["expires_at"])
    assert expires - datetime.fromisoformat(issued["as_of"]) == timedelta(seconds=60)

    keyset = await jwks(api)
    assert [k["kid"] for k in keyset["keys"]] == [issued["kid"]]
    assert all("d" not in k for k in keyset["keys"])  # public halves only
    verdict = codes.verify_offline(issued["code"], keyset)
    assert verdict.color == "green"
    assert verdict.kid == issued["kid"]
    assert 0 <= verdict.age_seconds < 5
    assert verdict.expires_at == expires

    resp = await scan(api, issued["code"], venue="cafe-42")
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["color"] == "green"
    assert answer["name_masked"] == "张*"
    row = await conn.fetchrow("SELECT venue, color, method FROM scans WHERE scan_id = $1::uuid",
                              answer["scan_id"])  # fmt: skip
    assert dict(row) == {"venue": "cafe-42", "color": "green", "method": "code"}


async def test_each_code_carries_a_fresh_reference_that_reveals_nothing(
    api, city: City, conn, settings: Settings
):
    ref = await city.register()
    first, second = await issue(api, ref), await issue(api, ref)
    a, b = claims_of(first["code"]), claims_of(second["code"])
    assert set(a) == {"ref", "color", "at", "iat", "exp"}
    person_id = await conn.fetchval("SELECT person_id FROM persons WHERE person_ref = $1", ref)
    # Random nonces first: two references of one person do not even share a prefix.
    assert a["ref"] != b["ref"]
    assert str(a["ref"])[:4] != str(b["ref"])[:4]
    ours = sealing.CodeSecrets(sealing.code_secret(settings.code_secret, settings.home))
    theirs = sealing.CodeSecrets(b"anyone else's secret, however long")
    for claims in (a, b):
        sealed = str(claims["ref"])
        assert ref not in sealed
        assert person_id.to_bytes(8, "big") not in base64.urlsafe_b64decode(sealed + "==")
        assert theirs.unseal(sealed) is None
        opened = ours.unseal(sealed)
        assert opened is not None
        assert opened.person_id == person_id


async def test_tampered_signature_fails_offline(api, city: City):
    issued = await issue(api, await city.register())
    header, payload, signature = issued["code"].split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    with pytest.raises(codes.CodeRejected) as refused:
        codes.verify_offline(f"{header}.{payload}.{flipped}", await jwks(api))
    assert refused.value.reason == "forged"


async def test_tampered_payload_fails_online_and_offline(api, city: City):
    issued = await issue(api, await city.register())
    keyset = await jwks(api)
    claims = claims_of(issued["code"])
    sealed = str(claims["ref"])
    altered_ref = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    for forged in (
        with_claims(issued["code"], color="red"),
        with_claims(issued["code"], exp=int(claims["exp"]) + 3600),  # type: ignore[call-overload]
        with_claims(issued["code"], ref=altered_ref),
    ):
        with pytest.raises(codes.CodeRejected) as refused:
            codes.verify_offline(forged, keyset)
        assert refused.value.reason == "forged"
        resp = await scan(api, forged)
        assert resp.status == 422
        problem = await resp.json()
        assert problem["reason"] == "forged"
        assert "altered or forged" in problem["detail"]


async def test_expired_code_is_refused_with_what_to_do(api: Api, clock: Clock):
    city = City(api)
    issued = await issue(api, await city.register())
    keyset = await jwks(api)
    clock.advance(seconds=61)
    door = api.auth("scanner", "venue-1") | {"Accept-Language": ""}  # a door names no language
    resp = await api.client.post("/v1/scans", json={"code": issued["code"]}, headers=door)
    assert resp.status == 422
    problem = await resp.json()
    assert problem["reason"] == "expired"
    assert problem["detail"] == "此健康码已过期，请本人刷新后重扫。"  # the door reads Chinese
    with pytest.raises(codes.CodeRejected) as refused:
        codes.verify_offline(issued["code"], keyset, now=clock())
    assert refused.value.reason == "expired"


async def test_code_of_a_rotated_out_key_verifies_until_its_codes_expired(
    api: Api, clock: Clock, settings: Settings, conn
):
    city = City(api)
    ref = await city.register()
    old = await issue(api, ref)
    secrets = sealing.CodeSecrets(sealing.code_secret(settings.code_secret, settings.home))
    await keystore.rotate(conn, secrets, clock())
    keyset = await _eventually_two_keys(api)
    new = await issue(api, ref)
    assert new["kid"] != old["kid"]
    # The old key no longer signs, but its codes still verify, offline and online.
    assert codes.verify_offline(old["code"], keyset).color == "green"
    assert (await scan(api, old["code"])).status == 200
    assert await conn.fetchval(
        "SELECT private_pem IS NULL FROM code_keys WHERE kid = $1", old["kid"]
    )
    # Once every code it signed has expired, the key leaves the key set.
    clock.advance(seconds=settings.code_ttl + ring.KEY_OVERLAP.total_seconds() + 1)
    later = await jwks(api)
    assert [k["kid"] for k in later["keys"]] == [new["kid"]]
    with pytest.raises(codes.CodeRejected) as refused:
        codes.verify_offline(old["code"], later, now=datetime.now(UTC))
    assert refused.value.reason == "unknown_key"
    assert "/v1/keys" in str(refused.value)


async def _eventually_two_keys(api: Api) -> dict[str, list[dict[str, str]]]:
    """Every instance hears of a rotation by NOTIFY; this one within moments."""
    for _ in range(100):
        keyset = await jwks(api)
        if len(keyset["keys"]) == 2:
            return keyset
        await asyncio.sleep(0.05)
    raise AssertionError(f"the rotation never reached /v1/keys: {keyset}")


async def test_code_from_another_deployment_is_refused(api, city: City, conn):
    ref = await city.register()
    person_id = await conn.fetchval("SELECT person_id FROM persons WHERE person_ref = $1", ref)
    now = datetime.now(UTC)
    elsewhere = ring.KeyRing(
        sealing.CodeSecrets(b"another deployment's code secret"), [ring.new_signing_key(now)]
    )
    foreign = elsewhere.issue(person_id, "green", now, now, 60).code
    resp = await scan(api, foreign)
    assert resp.status == 422
    problem = await resp.json()
    assert problem["reason"] == "foreign"
    assert "not issued by this city" in problem["detail"]
    with pytest.raises(codes.CodeRejected) as refused:
        codes.verify_offline(foreign, await jwks(api))
    assert refused.value.reason == "unknown_key"


async def test_garbage_is_not_a_code(api):
    for text in ("hello", "a.b.c", "e30.e30.e30"):
        resp = await scan(api, text)
        assert resp.status == 422, text
        problem = await resp.json()
        assert problem["reason"] == "malformed"
        assert "not a health code" in problem["detail"]
    too_long = await scan(api, "x" * 5000)
    assert too_long.status == 422
    assert "code" in (await too_long.json())["errors"]
    with pytest.raises(codes.CodeRejected) as refused:
        codes.verify_offline("hello", {"keys": []})
    assert refused.value.reason == "malformed"


async def test_keys_rotate_on_schedule(settings: Settings, keys: AuthKeys):
    import dataclasses

    app = create_app(dataclasses.replace(settings, code_key_rotation=0.5))
    async with TestClient(TestServer(app)) as client:
        first = [k["kid"] for k in (await (await client.get("/v1/keys")).json())["keys"]]
        for _ in range(60):
            await asyncio.sleep(0.1)
            now = [k["kid"] for k in (await (await client.get("/v1/keys")).json())["keys"]]
            if len(now) > 1:
                break
        assert first[0] in now
        assert len(now) >= 2


async def test_keys_command_rotates_and_lists(settings: Settings, db_url: str, api):
    first = (await jwks(api))["keys"][0]["kid"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env |= {
        "CODESVC_DATABASE_URL": db_url,
        "CODESVC_HOME": str(settings.home),
        "CODESVC_SQL_DIR": str(ROOT / "sql"),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "codesvc", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(first)
    assert "in /v1/keys until" in lines[0]
    assert lines[1].endswith("signing")
    keyset = await _eventually_two_keys(api)
    assert lines[1].split()[0] in [k["kid"] for k in keyset["keys"]]


async def test_readme_offline_example(api, city: City):
    """The README's example, run as written against this server, prints what it says."""
    text = README.read_text()
    example = text[text.index(START) : text.index(END)].split("```python\n")[1].split("```")[0]
    example = example.replace("http://127.0.0.1:8080", str(api.client.make_url("")).rstrip("/"))
    issued = await issue(api, await city.register())

    def run(scanned: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(example, {"scanned": scanned})
        return out.getvalue()

    assert (await asyncio.to_thread(run, issued["code"])).startswith("green, computed ")
    tampered = with_claims(issued["code"], color="red")
    assert (await asyncio.to_thread(run, tampered)).startswith("refused (forged): ")


def test_the_offline_verifier_loads_neither_the_database_driver_nor_the_web_server():
    script = (
        "import sys\n"
        "from codesvc.codes import verify_offline, CodeRejected\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncpg', 'aiohttp')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_code_is_drawn_byte_for_byte_as_segno_draws_it():
    """The cheaper drawing of a code is segno's, for codes as issued and for texts of every
    length a code could have (each version and error level), and the texts it leaves to
    segno (short, alphanumeric, not ASCII) are segno's by construction."""
    now = datetime.now(UTC)
    keys = ring.KeyRing(sealing.CodeSecrets(b"k" * 32), [ring.new_signing_key(now)])
    texts = [
        keys.issue(person_id, color, now, now, 60).code
        for person_id in (1, 42, 9_999_999, 2**40)
        for color in ("green", "yellow", "red")
    ]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # Every length near an issued code's (about 330), and a spread up to the longest
    # text a symbol at level M holds.
    lengths = [*range(24, 300, 7), *range(300, 420), *range(420, 2331, 191), 2330]
    texts += [
        "eyJ" + "".join(alphabet[(n * 7 + i * 13) % 64] for i in range(n - 5)) + ".x."
        for n in lengths
    ]
    texts += ["short.code", "HEALTH CODE 310101", "健康码" * 20]
    for text in texts:
        assert qr.svg(text, "health code: <red>") == qr.segno_svg(text, "health code: <red>")


def test_a_symbol_with_a_row_of_light_modules_is_drawn_as_segno_draws_it():
    """A row with no dark module (possible, if never seen in a code) moves the path two
    rows at once; the drawing still matches segno's, for the same modules."""
    text = "eyJ" + "x" * 320 + ".y.z"
    version, error = qr._version(len(text))
    drawn = segno.make(text, error=qr.ERROR, mask=qr.MASK)
    for row in (30, 31, len(drawn.matrix) - 1):  # two in the middle and the last
        drawn.matrix[row][:] = bytes(len(drawn.matrix[row]))
    grid = "|".join("".join("1" if dark else "0" for dark in row) for row in drawn.matrix)
    ours = qr._draw(grid, qr._symbol(version, error), "health code: green")
    assert ours == drawn.svg_inline(scale=qr.SCALE, title="health code: green")
