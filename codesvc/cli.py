"""The ``codesvc`` command: serve, migrate, token, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from codesvc import cli_staff, db, logs
from codesvc.settings import ConfigError, Settings
from codesvc.tokens import DISTRICT_ROLES, ROLES, AuthKeys, kept_auth_secret

log = logging.getLogger("codesvc")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_format, settings.log_level)
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, settings)
    except ConfigError as exc:
        print(f"codesvc: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codesvc",
        description="A city health-code service. Settings come from CODESVC_* variables "
        "(see the README); with no CODESVC_DATABASE_URL an embedded PostgreSQL runs "
        "under CODESVC_HOME (default ./.codesvc).",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default CODESVC_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CODESVC_PORT or 8080)")
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes on the port (default CODESVC_WORKERS, or one per core)",
    )
    serve.set_defaults(command=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run the background work alone (sweeper, city-wide jobs, key rotation, "
        "partitions, audit checkpoints), for a deployment that places it on its own machine",
    )
    worker.set_defaults(command=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply pending migrations from sql/ and exit")
    migrate.set_defaults(command=cmd_migrate)

    token = sub.add_parser("token", help="print a development token the server accepts")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--sub", required=True, help="person_ref, venue id, feed id or staff id")
    token.add_argument("--district", help="6-digit district code (required for staff)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(command=cmd_token)

    demo = sub.add_parser("demo", help="load a small city: people, risk areas and events")
    demo.add_argument("--people", type=int, default=200, help="how many people (default 200)")
    demo.set_defaults(command=cmd_demo)

    verify = sub.add_parser(
        "verify",
        help="replay every person from their events, compare with what is stored, and check "
        "the audit chain; exits 1 on any difference",
    )
    verify.set_defaults(command=cmd_verify)

    keys = sub.add_parser("keys", help="the keys that sign citizens' codes").add_subparsers(
        required=True, metavar="ACTION", dest="action"
    )
    keys.add_parser("rotate", help="retire the signing key; a new one signs from now on")
    keys.add_parser("list", help="list the code-signing keys")
    for action in keys.choices.values():
        action.set_defaults(command=cmd_keys)

    venue = sub.add_parser("venue", help="enrol a venue's device; refuse or accept its tokens")
    venues = venue.add_subparsers(required=True, metavar="ACTION", dest="action")
    enroll = venues.add_parser(
        "enroll", help="print a one-time code that enrols a device of the venue (valid 24 h)"
    )
    revoke = venues.add_parser("revoke", help="refuse every token of a venue, in every instance")
    revoke.add_argument("--reason", default="revoked by an operator")
    reinstate = venues.add_parser("reinstate", help="accept a revoked venue's tokens again")
    for action in (enroll, revoke, reinstate):
        action.add_argument("venue_id", help="the venue: a scanner token's sub")
        action.set_defaults(command=cmd_venue)

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


#: Further subcommands register here (``staff``) so this module stays small.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    cli_staff.register
]


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from codesvc import serving

    settings = dataclasses.replace(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
    )
    workers = args.workers if args.workers is not None else settings.workers
    workers = workers if workers > 0 else os.cpu_count() or 1
    _event_loop(settings.event_loop).close()  # refuse an unknown loop before forking
    where = f"embedded under {settings.home}" if settings.embedded else "configured"
    with db.database_url(settings) as url:
        settings = dataclasses.replace(settings, database_url=url)
        asyncio.run(_migrate(url, settings, partitions_for=datetime.now(UTC)))
        log.info(
            "serving on http://%s:%s with %d server process(es) and a worker (%s database)",
            settings.host,
            settings.port,
            workers,
            where,
        )
        serving.serve(settings, workers)
    log.info("stopped")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from codesvc.background import run_worker

    with db.database_url(settings) as url:
        settings = dataclasses.replace(settings, database_url=url)
        asyncio.run(_migrate(url, settings, partitions_for=datetime.now(UTC)))
        run_worker(settings, lambda: datetime.now(UTC))
    log.info("worker stopped")
    return 0


def _event_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ConfigError("CODESVC_EVENT_LOOP=uvloop needs: pip install uvloop") from None
        return uvloop.new_event_loop()
    if name != "asyncio":
        raise ConfigError(f"CODESVC_EVENT_LOOP={name!r}: use uvloop or asyncio")
    return asyncio.new_event_loop()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with db.database_url(settings) as url:
        applied = asyncio.run(_migrate(url, settings))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _migrate(
    url: str, settings: Settings, partitions_for: datetime | None = None
) -> list[str]:
    """Apply pending migrations; with ``partitions_for``, also make the time partitions
    that moment and the days ahead need, before any process writes."""
    async with db.connect(url) as conn:
        applied = await db.migrate(conn, settings.sql_dir)
        if partitions_for is not None:
            from codesvc.service import partitions

            await partitions.upkeep(
                conn, partitions_for, settings.partitions_ahead_days, settings.scan_retention_days
            )
        return applied


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from codesvc import demo, demo_console
    from codesvc.api.secrets import id_secret, totp_seal

    async def run(url: str) -> tuple[demo.DemoCity, list[demo_console.DemoAccount], int]:
        await _migrate(url, settings)
        pool = await db.create_pool(url, settings)
        try:
            city = await demo.load(
                pool, people=args.people, id_secret=id_secret(settings), rules=settings.rules
            )
            staff, filed = await demo_console.load(
                pool, totp_seal(settings), settings, datetime.now(UTC)
            )
            return city, staff, filed
        finally:
            await pool.close()

    with db.database_url(settings) as url:
        city, staff, filed = asyncio.run(run(url))
    print(f"loaded {city.people} people; one of each colour:")
    for color, ref in sorted(city.sample.items()):
        print(f"  {color:6} {ref}   codesvc token --role citizen --sub {ref}")
    base = f"http://{settings.host}:{settings.port}"
    print(f"\nthe staff console is at {base}/staff ({filed} appeals waiting); sign in as:")
    for a in staff:
        where = a.district or "whole city"
        print(f"  {a.sub:18} {a.role:10} {where:10} {a.name}  password: {a.password}")
        if a.totp_uri:
            print(f"  {'':18} one-time codes from an authenticator app: {a.totp_uri}")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:

    from codesvc.service import checkpoints
    from codesvc.service.audit_log import verify_audit
    from codesvc.service.verify import verify

    async def run(url: str) -> tuple[int, int, list[str], checkpoints.CheckReport]:
        async with db.connect(url) as conn:
            if await conn.fetchval("SELECT to_regclass('persons')") is None:
                raise ConfigError(
                    "this database has no codesvc tables to verify; "
                    "run codesvc migrate (or serve) first"
                )
            report = await verify(conn, settings.rules, datetime.now(UTC))
            problems = list(report.differences)
            problems.extend(await verify_audit(conn))
            checked = await checkpoints.check(conn, settings)
        return report.persons, report.due, problems + checked.problems, checked

    with db.database_url(settings) as url:
        persons, due, problems, checked = asyncio.run(run(url))
    for line in checked.warnings:
        print("warning: " + line)
    for line in problems:
        print(line)
    print(
        f"verified {persons} people ({due} due for the sweeper) and the audit chain against "
        f"{checked.checked} checkpoint(s): "
        + (f"{len(problems)} difference(s)" if problems else "no differences")
    )
    return 1 if problems else 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:

    from codesvc.codes import keystore
    from codesvc.codes.ring import SigningKey
    from codesvc.codes.sealing import CodeSecrets, code_secret

    secrets = CodeSecrets(code_secret(settings.code_secret, settings.home))

    async def run(url: str) -> list[SigningKey]:
        await _migrate(url, settings)
        async with db.connect(url) as conn:
            if args.action == "rotate":
                await keystore.rotate(conn, secrets, datetime.now(UTC))
            return await keystore.load_keys(conn, secrets)

    with db.database_url(settings) as url:
        found = asyncio.run(run(url))
    for key in found:
        until = key.published_until(settings.code_ttl)
        state = f"in /v1/keys until {until.isoformat()}" if until else "signing"
        print(f"{key.kid}  created {key.created_at.isoformat()}  {state}")
    return 0


def cmd_venue(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from codesvc.service import enrolments, venues
    from codesvc.tokens import Principal

    operator = Principal("operator", f"cli:{getpass.getuser()}", None, 0.0)

    async def run(url: str) -> str:
        await _migrate(url, settings)
        async with db.connect(url) as conn:
            now = datetime.now(UTC)
            if args.action == "enroll":
                made = await enrolments.create(conn, args.venue_id, operator, now)
                if made is None:
                    raise ConfigError(f"venue {args.venue_id} is revoked; reinstate it first")
                return (
                    f"{made[0]}\n(enrols one device of venue {args.venue_id} on /scanner, "
                    f"until {made[1].isoformat(timespec='seconds')})"
                )
            if args.action == "revoke":
                at = await venues.revoke_venue(conn, args.venue_id, operator, args.reason, now)
                return f"venue {args.venue_id} revoked since {at.isoformat()}"
            if await venues.reinstate_venue(conn, args.venue_id, operator, now):
                return f"venue {args.venue_id} reinstated"
            return f"venue {args.venue_id} was not revoked"

    with db.database_url(settings) as url:
        print(asyncio.run(run(url)))
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    if args.role in DISTRICT_ROLES and not args.district:
        print(f"codesvc token: a {args.role} token needs --district", file=sys.stderr)
        return 2
    kept = kept_auth_secret(settings)
    made = kept is not None and not kept.exists()
    keys = AuthKeys.from_settings(settings)
    if made:
        assert kept is not None
        print(
            f"codesvc token: made a new token secret in {kept.resolve()}. A server that keeps "
            "its data elsewhere (CODESVC_HOME, by default .codesvc in the directory it was "
            "started from) will refuse this token: run codesvc token from that directory, or "
            "set CODESVC_HOME to the server's.",
            file=sys.stderr,
        )
    print(keys.sign(args.role, args.sub, args.district, ttl=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
