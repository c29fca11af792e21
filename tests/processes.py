"""``codesvc`` as a user runs it: commands and servers in processes of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any CODESVC_ setting of the caller's, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env["CODESVC_SQL_DIR"] = str(ROOT / "sql")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(settings)
    return env


def codesvc(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codesvc", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@dataclass
class Served:
    base: str
    process: asyncio.subprocess.Process

    def kill(self) -> None:
        """SIGKILL to every process of the service at once, as a crash of its machine."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def codesvc_serve(
    env: dict[str, str],
    cwd: Path,
    *,
    capture: bool = False,
    workers: int = 1,
    log: Path | None = None,
) -> AsyncIterator[Served]:
    """``codesvc serve --workers N`` on a free port, yielded once ``/readyz`` says 200; its
    processes killed after unless the test stopped them itself. ``capture`` keeps its output
    for the test to read; ``log`` appends it to a file instead."""
    port = free_port()
    output: int | IO[bytes] = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    with contextlib.ExitStack() as files:
        if log is not None:
            output = files.enter_context(log.open("ab"))
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "codesvc", "serve", "--port", str(port)),
            *("--workers", str(workers)),
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=asyncio.subprocess.DEVNULL if output == asyncio.subprocess.DEVNULL
            else asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: server processes and worker
        )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        await _ready(served)
        yield served
    finally:
        if process.returncode is None:
            served.kill()
        await process.wait()


async def _ready(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(served.base + "/readyz") as resp:
                    if resp.status == 200:
                        return
            if served.process.returncode is not None:
                stdout = served.process.stdout
                said = (await stdout.read()).decode(errors="replace") if stdout else ""
                raise AssertionError(
                    f"codesvc serve exited ({served.process.returncode}) before it was ready"
                    + (f"; it said:\n{said[-3000:]}" if said else "")
                )
            assert time.monotonic() < deadline, "codesvc serve did not become ready"
            await asyncio.sleep(0.1)
