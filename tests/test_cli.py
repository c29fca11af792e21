"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import secrets
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from codesvc import db
from tests.processes import clean_env, codesvc, codesvc_serve


@pytest.mark.parametrize("command", ["serve", "migrate", "token", "demo", "verify", "staff"])
def test_every_command_has_help(command, tmp_path):
    result = codesvc(command, "--help", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: codesvc " + command in result.stdout


def test_staff_token_needs_a_district(tmp_path):
    result = codesvc("token", "--role", "staff", "--sub", "s1", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "--district" in result.stderr


def test_migrate_against_a_configured_database(db_url, tmp_path):
    result = codesvc("migrate", env=clean_env(CODESVC_DATABASE_URL=db_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 0 migration(s)" in result.stdout


@pytest.fixture
def home() -> Iterator[Path]:
    """A working directory for the embedded server outside pytest's own temporary folder:
    when run as root, the server runs as another user, who must be able to reach it, and a
    pytest session starting meanwhile closes its folder to everyone but its owner."""
    with tempfile.TemporaryDirectory(prefix="codesvc-embedded-") as folder:
        yield Path(folder)


async def test_serve_on_the_embedded_database_accepts_its_own_tokens(home):
    """The README's promise: no database configured, and it still runs."""
    env = clean_env()
    async with codesvc_serve(env, home, capture=True) as served:
        assert (home / ".codesvc" / "pgdata" / "PG_VERSION").exists()
        async with aiohttp.ClientSession() as session:
            token = await asyncio.to_thread(
                codesvc, "token", "--role", "citizen", "--sub", "p_demo", env=env, cwd=home
            )
            assert token.returncode == 0, token.stderr
            headers = {"Authorization": "Bearer " + token.stdout.strip()}
            async with session.get(served.base + "/v1/whoami", headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["sub"] == "p_demo"

            scanner = await asyncio.to_thread(
                codesvc, "token", "--role", "scanner", "--sub", "venue-1", env=env, cwd=home
            )
            headers = {"Authorization": "Bearer " + scanner.stdout.strip()}
            async with session.get(served.base + "/v1/me/status", headers=headers) as resp:
                assert resp.status == 403
                assert resp.content_type == "application/problem+json"
                assert "citizen" in (await resp.json())["detail"]
        served.process.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(served.process.communicate(), 30)
    output = raw.decode()
    assert served.process.returncode == 0, output
    assert "stopped" in output
    # The embedded PostgreSQL stopped with the service.
    assert not (home / ".codesvc" / "pgdata" / "postmaster.pid").exists()


def test_a_token_signed_with_a_new_secret_says_so(tmp_path):
    """Run from a directory with no data directory, ``codesvc token`` makes a secret the
    server (started elsewhere) does not have: it says so, naming the file."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    first = codesvc("token", "--role", "citizen", "--sub", "p_demo", env=clean_env(), cwd=here)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("eyJ")
    kept = here / ".codesvc" / "auth.secret"
    assert kept.exists()
    assert f"made a new token secret in {kept}" in first.stderr
    assert "will refuse this token" in first.stderr
    assert "CODESVC_HOME" in first.stderr
    again = codesvc("token", "--role", "citizen", "--sub", "p_demo", env=clean_env(), cwd=here)
    assert again.returncode == 0
    assert again.stderr == ""  # the kept secret signs quietly
    elsewhere = codesvc("token", "--role", "feeder", "--sub", "f", env=clean_env(), cwd=there)
    assert str(there / ".codesvc" / "auth.secret") in elsewhere.stderr


def test_the_embedded_database_keeps_its_output_in_its_own_log(home):
    """Its start-up and a platformdirs warning go to a file in the data directory; the
    commands' stderr says where in one line and carries nothing of pgserver's."""
    env = clean_env(CODESVC_LOG_FORMAT="json")
    env.pop("XDG_RUNTIME_DIR", None)  # platformdirs warns without it
    output = home / ".codesvc" / "embedded-postgres.log"

    migrated = codesvc("migrate", env=env, cwd=home)
    assert migrated.returncode == 0, migrated.stderr
    verified = codesvc("verify", env=env, cwd=home)
    assert verified.returncode == 0, verified.stderr
    assert "verified 0 people" in verified.stdout

    for run in (migrated, verified):
        lines = run.stderr.splitlines()
        assert [line for line in lines if str(output) in line] == [lines[0]]
        assert "pgserver" not in run.stderr
        assert "XDG_RUNTIME_DIR" not in run.stderr
        assert "initdb" not in run.stderr
    said = output.read_text()
    assert "initdb" in said  # the first start made the cluster, and said so here
    assert "XDG_RUNTIME_DIR" in said


async def test_verify_on_a_database_never_migrated_says_what_to_do(pg_server_url, tmp_path):
    name = "codesvc_empty_" + secrets.token_hex(4)
    admin = await asyncpg.connect(pg_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = clean_env(CODESVC_DATABASE_URL=db.with_database(pg_server_url, name))
        result = await asyncio.to_thread(codesvc, "verify", env=env, cwd=tmp_path)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert result.returncode == 2
    assert "no codesvc tables" in result.stderr
    assert "run codesvc migrate (or serve) first" in result.stderr
    assert "Traceback" not in result.stderr
