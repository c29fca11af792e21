"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest

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


async def test_serve_on_the_embedded_database_accepts_its_own_tokens(tmp_path):
    """The README's promise: no database configured, and it still runs."""
    env = clean_env()
    async with codesvc_serve(env, tmp_path, capture=True) as served:
        assert (tmp_path / ".codesvc" / "pgdata" / "PG_VERSION").exists()
        async with aiohttp.ClientSession() as session:
            token = await asyncio.to_thread(
                codesvc, "token", "--role", "citizen", "--sub", "p_demo", env=env, cwd=tmp_path
            )
            assert token.returncode == 0, token.stderr
            headers = {"Authorization": "Bearer " + token.stdout.strip()}
            async with session.get(served.base + "/v1/whoami", headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["sub"] == "p_demo"

            scanner = await asyncio.to_thread(
                codesvc, "token", "--role", "scanner", "--sub", "venue-1", env=env, cwd=tmp_path
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
    assert not (tmp_path / ".codesvc" / "pgdata" / "postmaster.pid").exists()
