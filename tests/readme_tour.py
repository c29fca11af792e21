"""Run the README's tour against a real server: the test that keeps the README true.

``python -m tests.readme_tour --update`` reruns the tour on a fresh database (the server
``CODESVC_TEST_DATABASE_URL`` names) and writes the real output back into README.md.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from codesvc import db
from tests.processes import clean_env, free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- tour:start -->", "<!-- tour:end -->"
#: The address the README's commands use; the test swaps in its own server's.
README_BASE = "http://127.0.0.1:8080"
MARK = "@@codesvc-tour@@"


def tour_block(text: str) -> str:
    return text[text.index(START) + len(START) : text.index(END)]


def commands(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs from the ```console block."""
    body = block.split("```console", 1)[1].rsplit("```", 1)[0]
    pairs: list[tuple[str, list[str]]] = []
    for line in body.strip("\n").splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out).strip("\n")) for cmd, out in pairs]


#: An instant as the service writes it (UTC, ISO 8601).
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)"
#: Fields that hold when the run did something, not a time the tour's commands give.
RUN_TIMES = (
    "as_of",
    "changed_at",
    "created_at",
    "expires_at",
    "issued_at",
    "recorded_at",
    "scanned_at",
    "superseded_at",
)
_RUN_TIME = re.compile(rf'"(?:{"|".join(RUN_TIMES)})": ?"({INSTANT})"')


def normalize(text: str) -> str:
    """Hide what differs between runs: references, ids, tokens, and the times of the run.

    A time of the run is one written in a field that says so (``recorded_at``, ``as_of``
    and the rest of ``RUN_TIMES``), and that same instant wherever else it appears (the
    interval that starts when a person is registered starts at its ``recorded_at``). Every
    other time comes from the tour's own commands and must match as written, whatever the
    date of the run.
    """
    for instant in set(_RUN_TIME.findall(text)):
        text = text.replace(instant, "<now>")
    text = re.sub(r"p_[23456789A-Z]{12}", "p_<ref>", text)
    text = re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", "<token>", text)
    text = re.sub(r"[0-9a-f]{16}\b", "<id>", text)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", "<scan>", text)


def run(pairs: list[tuple[str, str]], database_url: str, home: Path) -> list[str]:
    """Run the commands in one bash session beside a freshly started server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        CODESVC_DATABASE_URL=database_url, CODESVC_HOME=str(home), CODESVC_LOG_LEVEL="WARNING"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "codesvc", "serve", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(base)
        script = "\n".join(
            f"{cmd.replace(README_BASE, base)}\necho; echo {MARK}" for cmd, _ in pairs
        )
        done = subprocess.run(
            ["bash", "-c", script],
            env=_as_after_install(env, home),
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(30)
    outputs = done.stdout.split(MARK + "\n")[: len(pairs)]
    if done.returncode != 0 or len(outputs) != len(pairs):
        raise AssertionError(f"the tour failed: {done.stderr}")
    return [out.strip("\n").replace(base, README_BASE) for out in outputs]


def _as_after_install(env: dict[str, str], home: Path) -> dict[str, str]:
    """A shell as the README's install leaves it: ``.venv`` in the directory the tour is
    typed in, and its ``bin`` not on the PATH (the tour must say how to reach ``codesvc``)."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").exists():
        raise AssertionError(f"run the README test from a virtual environment, not {venv}")
    (home / ".venv").symlink_to(venv, target_is_directory=True)
    bins = {str(venv / "bin"), str(Path(sys.executable).parent)}
    path = [p for p in env["PATH"].split(os.pathsep) if p not in bins]
    shell = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    return shell | {"PATH": os.pathsep.join(path)}


def _wait(base: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server never became ready")


def rewrite(text: str, outputs: list[str]) -> str:
    block = tour_block(text)
    pairs = commands(block)
    lines = []
    for (cmd, _), out in zip(pairs, outputs, strict=True):
        lines.append("$ " + cmd)
        if out:
            lines.append(out)
    body = "\n\n```console\n" + "\n".join(lines) + "\n```\n\n"
    return text.replace(block, body)


async def _fresh_database(server_url: str) -> str:
    name = "codesvc_tour_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = db.with_database(server_url, name)
    async with db.connect(url) as conn:
        await db.migrate(conn, ROOT / "sql")
    return url


if __name__ == "__main__" and "--update" in sys.argv:
    import tempfile

    url = asyncio.run(_fresh_database(os.environ["CODESVC_TEST_DATABASE_URL"]))
    text = README.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        outputs = run(commands(tour_block(text)), url, Path(tmp))
    README.write_text(rewrite(text, outputs))
    print("README tour updated")
