"""Migrations: in order, each once, in a transaction, safe when two instances race."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codesvc import cli, db
from codesvc.settings import ConfigError


def write(dir_: Path, name: str, sql: str) -> None:
    (dir_ / name).write_text(sql)


async def test_two_migrators_at_once_apply_each_migration_once(db_url, tmp_path):
    write(tmp_path, "0001_a.sql", "CREATE TABLE counter (n int); INSERT INTO counter VALUES (0);")
    write(tmp_path, "0002_b.sql", "UPDATE counter SET n = n + 1; SELECT pg_sleep(0.2);")

    async def run() -> list[str]:
        async with db.connect(db_url) as conn:
            return await db.migrate(conn, tmp_path)

    # The template already applied the project's migrations; use a separate table set.
    async with db.connect(db_url) as conn:
        await conn.execute("DROP TABLE schema_migrations")
    first, second = await asyncio.gather(run(), run())
    assert sorted(first + second) == ["0001_a", "0002_b"]
    assert not (set(first) & set(second))
    async with db.connect(db_url) as conn:
        assert await conn.fetchval("SELECT n FROM counter") == 1
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [1, 2]


async def test_a_failing_migration_changes_nothing_and_is_retried(db_url, tmp_path):
    async with db.connect(db_url) as conn:
        await conn.execute("DROP TABLE schema_migrations")
        write(tmp_path, "0001_ok.sql", "CREATE TABLE good (n int);")
        write(tmp_path, "0002_bad.sql", "CREATE TABLE half (n int); SELECT no_such_function();")
        with pytest.raises(Exception, match="no_such_function"):
            await db.migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT to_regclass('good')") is not None
        assert await db.pending_migrations(conn, tmp_path) == ["0002_bad"]
        write(tmp_path, "0002_bad.sql", "CREATE TABLE half (n int);")
        assert await db.migrate(conn, tmp_path) == ["0002_bad"]
        assert await db.pending_migrations(conn, tmp_path) == []


def test_badly_named_migration_is_refused(tmp_path):
    write(tmp_path, "create_things.sql", "SELECT 1;")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        db.load_migrations(tmp_path)


def test_project_migrations_are_numbered_in_order():
    migrations = db.load_migrations(Path(__file__).resolve().parent.parent / "sql")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_an_applied_migration_that_was_edited_stops_the_service_starting(db_url, tmp_path):
    write(tmp_path, "0001_a.sql", "CREATE TABLE counter (n int);")
    async with db.connect(db_url) as conn:
        await conn.execute("DROP TABLE schema_migrations")
        assert await db.migrate(conn, tmp_path) == ["0001_a"]
        write(tmp_path, "0001_a.sql", "CREATE TABLE counter (n bigint);")
        write(tmp_path, "0002_b.sql", "CREATE TABLE later (n int);")
        with pytest.raises(ConfigError, match=r"0001_a\.sql: changed after it was applied"):
            await db.migrate(conn, tmp_path)
        # Nothing after it ran either: the database stays as the files said when applied.
        assert await conn.fetchval("SELECT to_regclass('later')") is None


def test_codesvc_migrate_says_which_file_changed_and_what_to_do(
    db_url, tmp_path, monkeypatch, capsys
):
    write(tmp_path, "0001_a.sql", "CREATE TABLE counter (n int);")

    async def first_apply() -> None:
        async with db.connect(db_url) as conn:
            await conn.execute("DROP TABLE schema_migrations")
            await db.migrate(conn, tmp_path)

    asyncio.run(first_apply())
    write(tmp_path, "0001_a.sql", "-- tidied\nCREATE TABLE counter (n int);")
    monkeypatch.setenv("CODESVC_DATABASE_URL", db_url)
    monkeypatch.setenv("CODESVC_SQL_DIR", str(tmp_path))
    assert cli.main(["migrate"]) == 2
    said = capsys.readouterr().err
    assert f"{tmp_path / '0001_a.sql'}: changed after it was applied" in said
    assert "Restore the file as it was applied" in said
    assert "new numbered migration" in said
