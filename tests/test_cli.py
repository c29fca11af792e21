"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def codesvc(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codesvc", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env["CODESVC_SQL_DIR"] = str(ROOT / "sql")
    env.update(extra)
    return env


@pytest.mark.parametrize("command", ["serve", "migrate", "token"])
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_on_the_embedded_database_accepts_its_own_tokens(tmp_path):
    """The README's promise: no database configured, and it still runs."""
    port = free_port()
    env = clean_env()
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "codesvc", "serve", "--port", str(port)),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline:
                try:
                    async with session.get(base + "/readyz") as resp:
                        status = resp.status
                        if status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.2)
            assert status == 200, "the embedded server never became ready"
            assert (tmp_path / ".codesvc" / "pgdata" / "PG_VERSION").exists()

            token = await asyncio.to_thread(
                codesvc, "token", "--role", "citizen", "--sub", "p_demo", env=env, cwd=tmp_path
            )
            assert token.returncode == 0, token.stderr
            headers = {"Authorization": "Bearer " + token.stdout.strip()}
            async with session.get(base + "/v1/whoami", headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["sub"] == "p_demo"

            scanner = codesvc(
                "token", "--role", "scanner", "--sub", "venue-1", env=env, cwd=tmp_path
            )
            headers = {"Authorization": "Bearer " + scanner.stdout.strip()}
            async with session.get(base + "/v1/me/status", headers=headers) as resp:
                assert resp.status == 403
                assert resp.content_type == "application/problem+json"
                assert "citizen" in (await resp.json())["detail"]
    finally:
        server.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(server.communicate(), 30)
    output = raw.decode()
    assert server.returncode == 0, output
    assert "stopped" in output
    # The embedded PostgreSQL stopped with the service.
    assert not (tmp_path / ".codesvc" / "pgdata" / "postmaster.pid").exists()
