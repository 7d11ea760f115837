"""`banscan user add`: add a dashboard user (also `banscan serve --create-admin`)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from banscan.cli.common import DB_HELP, DEFAULT_DB

ENV_PASSWORD = "BANSCAN_PASSWORD"

user_app = typer.Typer(help="Manage dashboard users (there is no default user).", no_args_is_help=True)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
) -> None:
    """Add a user; the password is prompted (or read from $BANSCAN_PASSWORD or stdin)."""
    raise typer.Exit(user_add_command(db, username, role))


def _prompt_password(password: str | None) -> str:
    if password:
        return password
    env = os.environ.get(ENV_PASSWORD)
    if env:
        return env
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise ValueError("no password given on standard input")
        return line
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ValueError("the passwords differ")
    return first


def user_add_command(db: str, username: str, role: str = "admin", password: str | None = None) -> int:
    """Create a user (`banscan serve --create-admin USER`, `banscan user add`). The password is
    prompted for (or read from $BANSCAN_PASSWORD / one line of standard input); none is default."""
    from banscan.store.accounts import create_user

    try:
        create_user(db, username, _prompt_password(password), role)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(f"created {role} {username}", file=sys.stderr)
    return 0
