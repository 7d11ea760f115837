"""`banscan token add|list|revoke`: API tokens for automation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from banscan.cli.common import DEFAULT_DB, DbOption, OrgOption

token_app = typer.Typer(help="Manage API tokens for automation.", no_args_is_help=True)


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="What the token is for.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    org: OrgOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create an API token; it is printed once and stored only as a hash. It reads and acts in
    one organisation (and reads what that organisation's members share with it), as that
    organisation's users do."""
    raise typer.Exit(token_add_command(db, name, role, org=org))


def token_add_command(db: str, name: str, role: str = "viewer", *, org: str | None = None) -> int:
    """Create an API token and print it once on standard output."""
    from banscan.store.accounts import create_api_token

    try:
        token = create_api_token(db, name, role, org=org)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


@token_app.command("list")
def token_list(db: DbOption = DEFAULT_DB) -> None:
    """List API tokens (newest first): id, name, role, state; never the tokens themselves."""
    raise typer.Exit(token_list_command(db))


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (from `banscan token list`).", min=1)],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Revoke an API token; the server refuses it from its next request on."""
    raise typer.Exit(token_revoke_command(db, token_id))


def token_list_command(db: str) -> int:
    """Print one line per API token on standard output."""
    from banscan.store.accounts import list_api_tokens, token_json
    from banscan.store.audit import account_store

    with account_store(db) as s:
        tokens = [token_json(t) for t in list_api_tokens(s)]
    print(f"{'ID':>5}  {'NAME':<32} {'ROLE':<7} {'STATE':<8} {'MADE BY':<16} {'EXPIRES':<26} LAST USED")
    for t in tokens:
        print(
            f"{t['id']!s:>5}  {t['name']!s:<32} {t['role']!s:<7} {t['state']!s:<8} "
            f"{t['created_by']!s:<16} {t['expires_at'] or '-'!s:<26} {t['last_used_at'] or '-'}"
        )
    return 0


def token_revoke_command(db: str, token_id: int) -> int:
    """Revoke the API token `token_id`; exit 2 if there is none."""
    from banscan.store.accounts import revoke_api_token
    from banscan.store.audit import account_store

    with account_store(db) as s:
        row = revoke_api_token(s, token_id, actor="cli")
        name = row.name if row is not None else ""
    if row is None:
        print(f"banscan: error: no API token {token_id}", file=sys.stderr)
        return 2
    print(f"token {token_id} ({name}) revoked", file=sys.stderr)
    return 0
