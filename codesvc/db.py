"""PostgreSQL: the embedded server, the connection pool and the numbered migrations."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from codesvc.settings import ConfigError, Settings

log = logging.getLogger("codesvc.db")

#: Key of the advisory lock that makes concurrent migrators take turns.
MIGRATION_LOCK = 0x636F6465_7376_63

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

#: Errors after which pooled connections are not to be trusted, so pools replace them: a
#: write reached a server that is no longer the primary (demoted, or made read-only), or
#: the driver's own state broke (seen on connections whose server was killed mid-query;
#: also stale statement caches, which new connections do not have).
RECONNECT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InternalClientError,
)

#: Errors that mean the database cannot be reached now (503, try again). During a failover
#: every one of these is seen: the old primary's connections break (or its backends are
#: told of a crash), and until a standby is promoted no host of a multi-host URL is
#: read-write.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InsufficientResourcesError,
    *RECONNECT,  # includes TargetServerAttributeNotMatched: no host is read-write yet
)


async def distrust(pool: asyncpg.Pool, exc: BaseException) -> None:
    """After a loop of the background work met ``exc``: if it says the pool's connections
    are not to be trusted (`RECONNECT`: a server that no longer takes writes, a driver in a
    broken state), have the pool open new ones. A session opened while no server took
    writes refuses them for good; put back in the pool, it would fail the next request
    that gets it, long after the failover."""
    if isinstance(exc, RECONNECT):
        await pool.expire_connections()


#: What a background loop (sweeper, listener, key rotation) waits out and retries: the
#: database being away, or refusing this once. Anything else is a bug and is logged as one.
RETRYABLE: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.PostgresError)


#: The embedded PostgreSQL's own output (its start-up, stop, and any warning about where
#: it keeps its lock files), in the data directory rather than the service's log.
EMBEDDED_LOG = "embedded-postgres.log"


@contextlib.contextmanager
def embedded_server(home: Path) -> Iterator[str]:
    """Run a private PostgreSQL under ``home/pgdata`` for as long as the block lasts.

    The data directory is created on first use and reused later; the server listens only
    on a unix socket inside it, so two checkouts never collide on a port. What it says
    goes to ``home/embedded-postgres.log``; the log says where in one line.
    """
    home.mkdir(parents=True, exist_ok=True)
    output = home.resolve() / EMBEDDED_LOG
    _log_pgserver_to(output)
    try:
        with _warnings_logged():
            import pgserver  # imported here: only the embedded mode needs it

            server = pgserver.get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    except Exception:
        log.error("the embedded PostgreSQL did not start; what it said is in %s", output)
        raise
    log.info("embedded PostgreSQL in %s; its output goes to %s", home / "pgdata", output)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _log_pgserver_to(path: Path) -> None:
    """pgserver's log records to ``path`` instead of the service's log, for the rest of the
    process (it logs once more when the process exits)."""
    said = logging.getLogger("pgserver")
    for old in [h for h in said.handlers if isinstance(h, logging.FileHandler)]:
        said.removeHandler(old)
        old.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    said.addHandler(handler)
    said.setLevel(logging.INFO)
    said.propagate = False


@contextlib.contextmanager
def _warnings_logged() -> Iterator[None]:
    """Warnings raised meanwhile (platformdirs warns when XDG_RUNTIME_DIR is unset) go to
    pgserver's log rather than stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                logging.getLogger("pgserver").warning(
                    "%s: %s", warning.category.__name__, warning.message
                )


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured database, or an embedded one when none is configured."""
    if settings.database_url:
        yield settings.database_url
    else:
        with embedded_server(settings.home) as url:
            yield url


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs every connection of the service uses (JSON through orjson)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Connections leave no session state behind, so release skips the reset round trip."""


async def create_pool(url: str, settings: Settings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=init_connection,
        reset=_no_reset,
        command_timeout=30,
    )
    assert pool is not None
    return pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(sql_dir: Path) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migrations are named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a number")
    return migrations


async def migrate(conn: asyncpg.Connection, sql_dir: Path) -> list[str]:
    """Apply pending migrations in order, each once and in its own transaction.

    An advisory lock makes two instances starting together take turns; the second finds
    nothing left to do. Refuses (`ConfigError`, before applying anything) when a migration
    already applied has been edited since. Returns the names applied.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        migrations = load_migrations(sql_dir)
        _refuse_changed(migrations, applied, sql_dir)
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %s", migration.name, extra={"migration": migration.name})
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


def _refuse_changed(migrations: list[Migration], applied: dict[int, str], sql_dir: Path) -> None:
    """Refuse to go on when an applied migration's file no longer matches what was run.

    The database was built by what the file said then; running on with a schema the
    files no longer describe would hide the difference until something fails later.
    """
    changed = [m for m in migrations if applied.get(m.version, m.checksum) != m.checksum]
    if changed:
        files = ", ".join(str(sql_dir / f"{m.name}.sql") for m in changed)
        raise ConfigError(
            f"{files}: changed after it was applied to this database (its checksum differs "
            "from the one recorded in schema_migrations). Restore the file as it was "
            "applied (from version control) and put the change in a new numbered migration."
        )


async def pending_migrations(conn: asyncpg.Connection, sql_dir: Path) -> list[str]:
    """Names of migrations not yet applied (all of them on an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: set[int] = set()
    if exists:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m.name for m in load_migrations(sql_dir) if m.version not in applied]


def with_database(url: str, name: str) -> str:
    """The same server's URL naming another database (keeps a unix-socket ``host`` query)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        await init_connection(conn)
        yield conn
    finally:
        await conn.close()
