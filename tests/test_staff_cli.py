"""``codesvc staff``: accounts made on the command line sign in to the service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import pyotp
from aiohttp.test_utils import TestClient, TestServer

from codesvc import db
from codesvc.api.app import create_app
from codesvc.settings import Settings
from tests.processes import clean_env


def staff(
    *args: str, env: dict[str, str], cwd: object, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codesvc", "staff", *args],
        env=env, cwd=cwd, input=password, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


async def test_staff_add_prints_the_totp_uri_once_and_the_account_signs_in(db_url, tmp_path):
    home = tmp_path / "home"
    env = clean_env(CODESVC_DATABASE_URL=db_url, CODESVC_HOME=str(home))
    added = staff(
        "add", "commissioner-li", "--role", "commission", "--name", "李明", "--password-stdin",
        env=env, cwd=tmp_path, password="a long enough password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    uri = next(line.strip() for line in added.stdout.splitlines() if "otpauth://" in line)
    assert uri.startswith("otpauth://totp/codesvc:commissioner-li?")
    totp = pyotp.parse_uri(uri)
    officer = staff(
        "add", "huangpu-wang", "--role", "staff", "--district", "310101", "--name", "王伟",
        "--password-stdin", env=env, cwd=tmp_path, password="another long password\n",
    )  # fmt: skip
    assert officer.returncode == 0, officer.stderr
    assert "otpauth://" not in officer.stdout  # staff without --totp get no second factor
    again = staff(
        "add", "huangpu-wang", "--role", "staff", "--district", "310101", "--name", "王伟",
        "--password-stdin", env=env, cwd=tmp_path, password="another long password\n",
    )  # fmt: skip
    assert again.returncode == 2
    assert "already an account" in again.stderr
    short = staff(
        "add", "x1", "--role", "staff", "--district", "310101", "--name", "X",
        "--password-stdin", env=env, cwd=tmp_path, password="short\n",
    )  # fmt: skip
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr

    async with db.connect(db_url) as conn:
        stored = await conn.fetch("SELECT password_hash, totp_sealed FROM accounts ORDER BY sub")
    assert all(r["password_hash"].startswith("$argon2id$") for r in stored)
    assert totp.secret.encode() not in bytes(stored[0]["totp_sealed"])  # sealed, not plain

    settings = Settings(database_url=db_url, home=home, log_format="text")
    async with TestClient(TestServer(create_app(settings))) as client:
        resp = await client.post(
            "/v1/session",
            json={
                "sub": "commissioner-li",
                "password": "a long enough password",
                "otp": totp.at(datetime.now(UTC)),
            },
        )
        assert resp.status == 200, await resp.text()
        disabled = staff("disable", "commissioner-li", env=env, cwd=tmp_path)
        assert disabled.returncode == 0, disabled.stderr
        assert "1 open session(s) ended" in disabled.stdout
        assert (await client.get("/v1/whoami")).status == 401
    listed = staff("list", env=env, cwd=tmp_path)
    assert "commissioner-li" in listed.stdout
    assert "(disabled)" in listed.stdout


async def test_demo_prints_accounts_that_sign_in_and_fills_the_queues(db_url, tmp_path):
    home = tmp_path / "home"
    env = clean_env(CODESVC_DATABASE_URL=db_url, CODESVC_HOME=str(home))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "codesvc", "demo", "--people", "64"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    officer = next(line for line in lines if line.strip().startswith("huangpu-wang"))
    password = officer.split("password: ")[1].strip()
    uri = next(line for line in lines if "otpauth://totp/codesvc:commissioner-li" in line)
    assert "/staff" in result.stdout
    settings = Settings(database_url=db_url, home=home, log_format="text")
    async with TestClient(TestServer(create_app(settings))) as client:
        resp = await client.post("/v1/session", json={"sub": "huangpu-wang", "password": password})
        assert resp.status == 200, await resp.text()
        queue = await (await client.get("/v1/appeals")).json()
        assert len(queue["appeals"]) >= 1
        assert queue["appeals"][0]["overdue"] is True  # the demo filed one a day ago
        totp = pyotp.parse_uri(uri.split(": ", 1)[1].strip())
        assert totp.secret
