"""`banscan enrol-secret add|list|revoke`: the secrets agents enrol with, besides the server's
own (`banscan serve --enroll-secret-file` / $BANSCAN_ENROLL_SECRET, which keeps working)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from banscan.cli.common import DEFAULT_DB, DbOption, OrgOption

enrol_secret_app = typer.Typer(
    help="Manage enrol secrets: scoped to a site and/or tag, expiring, revocable.", no_args_is_help=True
)


@enrol_secret_app.command("add")
def enrol_secret_add(
    name: Annotated[str, typer.Argument(help="What the secret is for (unique).")],
    site: Annotated[
        str | None, typer.Option("--site", help="Every host enrolled with it gets this site.")
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Every host enrolled with it gets this tag.")
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", min=1, max=3650, help="Refused after this many days.")
    ] = None,
    org: OrgOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make an enrol secret; it is printed once and stored only as an argon2 hash. Agents
    enrolling with it land in its organisation."""
    raise typer.Exit(
        enrol_secret_add_command(db, name, site=site, tag=tag, expires_in_days=expires_in_days, org=org)
    )


@enrol_secret_app.command("list")
def enrol_secret_list(
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of a table.")] = False,
) -> None:
    """List enrol secrets with their scope and status (never the secrets themselves)."""
    raise typer.Exit(enrol_secret_list_command(db, as_json=as_json))


@enrol_secret_app.command("revoke")
def enrol_secret_revoke(
    secret: Annotated[str, typer.Argument(help="The secret's name or id.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Revoke an enrol secret: agents can no longer enrol with it (enrolled ones keep their tokens)."""
    raise typer.Exit(enrol_secret_revoke_command(db, secret))


def _error(exc: Exception) -> int:
    print(f"banscan: error: {exc}", file=sys.stderr)
    return 2


def enrol_secret_add_command(
    db: str,
    name: str,
    *,
    site: str | None = None,
    tag: str | None = None,
    expires_in_days: int | None = None,
    org: str | None = None,
) -> int:
    """Make an enrol secret and print it once on standard output."""
    import datetime as dt

    from banscan.store.enrolment import create_enrol_secret

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days) if expires_in_days else None
    try:
        secret = create_enrol_secret(db, name, site=site, tag=tag, expires_at=expires, org=org)
    except ValueError as exc:
        return _error(exc)
    print(secret)
    return 0


def enrol_secret_list_command(db: str, *, as_json: bool = False) -> int:
    from banscan.store.enrolment import enrol_secrets

    rows = enrol_secrets(db)
    if as_json:
        print(json.dumps({"items": rows}, indent=2))
        return 0
    print("id\tname\tstatus\tsite\ttag\texpires\tlast used\tcreated by")
    for r in rows:
        cells = [r["id"], r["name"], r["status"], r["site"], r["tag"], r["expires_at"], r["last_used_at"]]
        print("\t".join("" if c is None else str(c) for c in [*cells, r["created_by"]]))
    return 0


def enrol_secret_revoke_command(db: str, secret: str) -> int:
    from banscan.store.enrolment import revoke_secret

    try:
        row = revoke_secret(db, secret)
    except ValueError as exc:
        return _error(exc)
    print(f"revoked enrol secret {row['name']} ({row['id']})", file=sys.stderr)
    return 0
