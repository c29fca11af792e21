"""``codesvc staff add|disable|list``: the accounts people sign in to the console with."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime

from codesvc import db
from codesvc.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff and commission accounts for the console")
    actions = staff.add_subparsers(required=True, metavar="ACTION", dest="action")
    add = actions.add_parser(
        "add",
        help="create an account; commission accounts (and any with --totp) get a TOTP "
        "secret, printed once as an otpauth:// URI",
    )
    add.add_argument("sub", metavar="SUB", help="the account name people sign in with")
    add.add_argument("--role", required=True, choices=("staff", "commission"))
    add.add_argument("--district", help="6-digit district code (staff)")
    add.add_argument("--name", required=True, help="the person's name, shown in the console")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )
    add.add_argument("--totp", action="store_true", help="require a TOTP code (staff too)")
    add.set_defaults(command=cmd_staff)
    disable = actions.add_parser(
        "disable", help="refuse the account from now on and end its sessions at once"
    )
    disable.add_argument("sub", metavar="SUB")
    disable.set_defaults(command=cmd_staff)
    listing = actions.add_parser("list", help="list the accounts")
    listing.set_defaults(command=cmd_staff)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("codesvc staff add: no terminal to ask for the password on; use "
                         "--password-stdin")  # fmt: skip
    first = getpass.getpass("Password: ")
    if getpass.getpass("The same again: ") != first:
        raise SystemExit("codesvc staff add: the two passwords differ; nothing was changed")
    return first


def cmd_staff(args: argparse.Namespace, settings: Settings) -> int:
    from codesvc.api.secrets import totp_seal
    from codesvc.service import accounts
    from codesvc.tokens import Principal

    password = _password(args.password_stdin) if args.action == "add" else ""

    async def run(url: str) -> str:
        now = datetime.now(UTC)
        async with db.connect(url) as conn:
            await db.migrate(conn, settings.sql_dir)
            if args.action == "add":
                uri = await accounts.add(
                    conn,
                    sub=args.sub,
                    role=args.role,
                    district=args.district,
                    name=args.name,
                    password=password,
                    totp=args.totp,
                    seal=totp_seal(settings),
                    now=now,
                )
                where = f", district {args.district}" if args.role == "staff" else ""
                lines = [f"added {args.role} account {args.sub} ({args.name}{where})"]
                if uri:
                    lines += [
                        "its TOTP secret, shown only now: add it to an authenticator app",
                        f"  {uri}",
                    ]
                return "\n".join(lines)
            if args.action == "disable":
                operator = Principal("operator", f"cli:{getpass.getuser()}", None, 0.0)
                ended = await accounts.disable(conn, args.sub, now, operator)
                return f"disabled {args.sub}; {ended} open session(s) ended"
            return "\n".join(
                f"{a.sub:24} {a.role:10} {a.district or '-':6}  {a.name}"
                + ("  (disabled)" if a.disabled_at else "")
                for a in await accounts.accounts(conn)
            )

    with db.database_url(settings) as url:
        try:
            print(asyncio.run(run(url)))
        except accounts.AccountError as exc:
            print(f"codesvc staff {args.action}: {exc.detail}", file=sys.stderr)
            return 2
    return 0
