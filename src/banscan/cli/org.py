"""`banscan org add|list`: the organisations one server serves, a tree (a coordinator and its
members). Each change is audited as done by `cli`."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from banscan.cli.common import DEFAULT_DB, DbOption

org_app = typer.Typer(
    help="Manage organisations: a coordinator and its members, each seeing only its own data.",
    no_args_is_help=True,
)


@org_app.command("add")
def org_add(
    slug: Annotated[str, typer.Argument(help="Short unique name: lower-case letters, digits and '-'.")],
    name: Annotated[str, typer.Option("--name", help="The organisation's full name.")],
    parent: Annotated[
        str | None, typer.Option("--parent", help="Slug of its coordinator (none: a top organisation).")
    ] = None,
    share: Annotated[
        str,
        typer.Option(
            "--share", help="What its coordinators may see: aggregates (counts only) or hosts (detail too)."
        ),
    ] = "aggregates",
    contact: Annotated[str, typer.Option("--contact", help="Who to ask there (free text).")] = "",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add an organisation, optionally as a member of another."""
    raise typer.Exit(org_add_command(db, slug, name, parent=parent, share=share, contact=contact))


@org_app.command("list")
def org_list(
    db: DbOption = DEFAULT_DB,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List organisations: parent, sharing, member organisations, hosts and users of each."""
    raise typer.Exit(org_list_command(db, fmt=fmt))


def _error(message: object) -> int:
    print(f"banscan: error: {message}", file=sys.stderr)
    return 2


def org_add_command(
    db: str, slug: str, name: str, *, parent: str | None = None, share: str = "aggregates", contact: str = ""
) -> int:
    """Make an organisation; exit 2 with the reason if the store refuses it."""
    from banscan.store.orgs import create_org

    try:
        org = create_org(db, slug, name, parent=parent, share=share, contact=contact)
    except ValueError as exc:
        return _error(exc)
    where = f" in {org['parent']}" if org["parent"] else ""
    print(f"created organisation {org['slug']}{where} ({org['id']})", file=sys.stderr)
    return 0


def org_list_command(db: str, *, fmt: str = "table") -> int:
    """Print every organisation on standard output, as a table or one JSON document."""
    if fmt not in ("table", "json"):
        return _error(f"--format must be table or json, not {fmt!r}")
    from banscan.store.orgs import orgs

    rows = orgs(db)
    if fmt == "json":
        print(json.dumps({"items": rows}, indent=2, ensure_ascii=False))
        return 0
    print(f"{'SLUG':<24} {'PARENT':<24} {'SHARE':<10} {'MEMBERS':>7} {'HOSTS':>7} {'USERS':>7}  NAME")
    for r in rows:
        print(
            f"{r['slug']:<24} {r['parent'] or '-':<24} {r['share_with_coordinators']:<10} "
            f"{r['members']:>7} {r['hosts']:>7} {r['users']:>7}  {r['name']}"
        )
    return 0
