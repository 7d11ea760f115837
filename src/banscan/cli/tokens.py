"""`banscan token add`: create an API token for automation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from banscan.cli.common import DB_HELP, DEFAULT_DB

token_app = typer.Typer(help="Manage API tokens for automation.", no_args_is_help=True)


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="What the token is for.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    raise typer.Exit(token_add_command(db, name, role))


def token_add_command(db: str, name: str, role: str = "viewer") -> int:
    """Create an API token and print it once on standard output."""
    from banscan.store.accounts import create_api_token

    try:
        token = create_api_token(db, name, role)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
