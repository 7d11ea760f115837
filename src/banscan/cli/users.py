"""`banscan user add|list|passwd|disable|enable|unlock`: dashboard users (`add` is also
`banscan serve --create-admin`). Each change is audited as done by `cli`."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from banscan.cli.common import DEFAULT_DB, DbOption, OrgOption

ENV_PASSWORD = "BANSCAN_PASSWORD"

user_app = typer.Typer(help="Manage dashboard users (there is no default user).", no_args_is_help=True)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    org: OrgOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add a user; the password is prompted (or read from $BANSCAN_PASSWORD or stdin). To let
    someone choose their own password, use `banscan org invite` instead."""
    raise typer.Exit(user_add_command(db, username, role, org=org))


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


def user_add_command(
    db: str, username: str, role: str = "admin", password: str | None = None, *, org: str | None = None
) -> int:
    """Create a user (`banscan serve --create-admin USER`, `banscan user add`). The password is
    prompted for (or read from $BANSCAN_PASSWORD / one line of standard input); none is default."""
    from banscan.store.accounts import create_user

    try:
        create_user(db, username, _prompt_password(password), role, org=org)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(f"created {role} {username}", file=sys.stderr)
    return 0


@user_app.command("list")
def user_list(db: DbOption = DEFAULT_DB) -> None:
    """List users: role, whether disabled or locked, failed logins, last login."""
    raise typer.Exit(user_list_command(db))


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set a user's password (prompted, or $BANSCAN_PASSWORD, or stdin); ends their sessions."""
    raise typer.Exit(user_passwd_command(db, username))


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Disable a user: their logins are refused and their sessions end at once."""
    raise typer.Exit(user_change_command(db, username, "disable"))


@user_app.command("enable")
def user_enable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Enable a disabled user again."""
    raise typer.Exit(user_change_command(db, username, "enable"))


@user_app.command("unlock")
def user_unlock(
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Clear a user's failed logins and the lockout they caused."""
    raise typer.Exit(user_change_command(db, username, "unlock"))


def user_list_command(db: str) -> int:
    """Print one line per user on standard output."""
    from banscan.store.accounts import list_users, user_json
    from banscan.store.audit import account_store

    with account_store(db) as s:
        users = [user_json(u) for u in list_users(s)]
    print(f"{'USER':<24} {'ROLE':<7} {'STATE':<36} {'FAILED':>6}  LAST LOGIN")
    for u in users:
        state = (
            "disabled" if u["disabled"] else f"locked until {u['locked_until']}" if u["locked"] else "active"
        )
        print(
            f"{u['username']!s:<24} {u['role']!s:<7} {state:<36} {u['failed_logins']!s:>6}  {u['last_login_at'] or '-'}"
        )
    return 0


def user_passwd_command(db: str, username: str, password: str | None = None) -> int:
    """Set `username`'s password (`banscan user passwd`)."""
    from banscan.store.accounts import set_password

    try:
        set_password(db, username, _prompt_password(password))
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(f"password of {username} set; their sessions have ended", file=sys.stderr)
    return 0


def user_change_command(db: str, username: str, change: str) -> int:
    """`disable`, `enable` or `unlock` the user `username`; exit 2 if there is no such user."""
    from banscan.store.accounts import find_user, set_disabled, unlock_user
    from banscan.store.audit import account_store

    try:
        with account_store(db) as s:
            user = find_user(s, username)
            if change == "unlock":
                done = unlock_user(s, user, actor="cli")
            else:
                done = set_disabled(s, user, change == "disable", actor="cli")
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    past = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[change]
    print(f"{username} {past}" if done else f"{username} was already {past}", file=sys.stderr)
    return 0
