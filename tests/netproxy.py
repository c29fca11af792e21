"""A TCP proxy in front of PostgreSQL, so a test can cut the database off like a network would."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse


class DatabaseLink:
    """Forwards 127.0.0.1:<port> to the test PostgreSQL until ``cut()``."""

    def __init__(self, target_url: str) -> None:
        parts = urllib.parse.urlsplit(target_url)
        query = urllib.parse.parse_qs(parts.query)
        self.port_number = parts.port or 5432
        self.socket_dir = query.get("host", [None])[0]
        self.host = parts.hostname or "127.0.0.1"
        self.target_url = target_url
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        parts = urllib.parse.urlsplit(self.target_url)
        user = parts.username or "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}{parts.path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> DatabaseLink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cut()

    async def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket_dir:
            path = f"{self.socket_dir}/.s.PGSQL.{self.port_number}"
            return await asyncio.open_unix_connection(path)
        return await asyncio.open_connection(self.host, self.port_number)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_target()
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
