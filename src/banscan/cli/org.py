"""`banscan org add|list|set|set-parent|share|invite`: the organisations one server serves, a
tree (a coordinator and its members), and inviting their users. Each change is audited as done
by `cli`."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from banscan.cli.common import DEFAULT_DB, DbOption

EmailOption = Annotated[
    str, typer.Option("--email", help="Where its notices are emailed (none: shown in the dashboard only).")
]
RoleOption = Annotated[
    str | None,
    typer.Option("--role", help="The role its notices' deadlines are for (default: the server's --role)."),
]
JurisdictionOption = Annotated[
    str | None,
    typer.Option(
        "--jurisdiction", help="ISO 3166 code its notices are for, e.g. US-TX (default: the server's)."
    ),
]

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
    email: EmailOption = "",
    role: RoleOption = None,
    jurisdiction: JurisdictionOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add an organisation, optionally as a member of another."""
    raise typer.Exit(
        org_add_command(
            db,
            slug,
            name,
            parent=parent,
            share=share,
            contact=contact,
            email=email,
            role=role,
            jurisdiction=jurisdiction,
        )
    )


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
    db: str,
    slug: str,
    name: str,
    *,
    parent: str | None = None,
    share: str = "aggregates",
    contact: str = "",
    email: str = "",
    role: str | None = None,
    jurisdiction: str | None = None,
) -> int:
    """Make an organisation; exit 2 with the reason if the store refuses it."""
    from banscan.store.orgs import create_org

    try:
        org = create_org(
            db,
            slug,
            name,
            parent=parent,
            share=share,
            contact=contact,
            email=email,
            role=role,
            jurisdiction=jurisdiction,
        )
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


@org_app.command("set")
def org_set(
    slug: Annotated[str, typer.Argument(help="The organisation's slug.")],
    name: Annotated[str | None, typer.Option("--name", help="Its full name.")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Who to ask there (free text).")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Where its notices are emailed ('' for none).")
    ] = None,
    role: RoleOption = None,
    jurisdiction: JurisdictionOption = None,
    server_defaults: Annotated[
        bool, typer.Option("--server-defaults", help="Use the server's role and jurisdiction for it again.")
    ] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Change an organisation's name, contact, notice address, role or jurisdiction."""
    raise typer.Exit(
        org_set_command(
            db,
            slug,
            name=name,
            contact=contact,
            email=email,
            role=role,
            jurisdiction=jurisdiction,
            server_defaults=server_defaults,
        )
    )


@org_app.command("set-parent")
def org_set_parent(
    slug: Annotated[str, typer.Argument(help="The organisation to move.")],
    parent: Annotated[
        str | None, typer.Argument(help="Its new coordinator's slug (omit with --top).")
    ] = None,
    top: Annotated[bool, typer.Option("--top", help="Make it a top organisation (no coordinator).")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make an organisation a member of another (or, with --top, of none)."""
    raise typer.Exit(org_set_parent_command(db, slug, parent, top=top))


@org_app.command("share")
def org_share(
    slug: Annotated[str, typer.Argument(help="The organisation.")],
    share: Annotated[str, typer.Argument(help="aggregates (counts only) or hosts (host-level detail too).")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set what an organisation's coordinators may see of it."""
    raise typer.Exit(org_share_command(db, slug, share))


@org_app.command("invite")
def org_invite(
    slug: Annotated[str, typer.Argument(help="The organisation the user belongs to.")],
    username: Annotated[str, typer.Argument(help="Their login name.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "admin",
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", help="The server's address as users reach it, e.g. https://banscan.example.org."
        ),
    ] = "",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make a user of an organisation and print a link, valid for 7 days and once, with which
    they choose their password. Nobody can log in as them before."""
    raise typer.Exit(org_invite_command(db, slug, username, role=role, base_url=base_url))


def org_set_command(
    db: str,
    slug: str,
    *,
    name: str | None = None,
    contact: str | None = None,
    email: str | None = None,
    role: str | None = None,
    jurisdiction: str | None = None,
    server_defaults: bool = False,
) -> int:
    """Change an organisation's details; exit 2 with the reason if refused."""
    from banscan.store.audit import account_store
    from banscan.store.orgs import UNSET, set_details

    if server_defaults and (role is not None or jurisdiction is not None):
        return _error("--server-defaults cannot be given with --role or --jurisdiction")
    try:
        with account_store(db) as s:
            changed = set_details(
                s,
                slug,
                actor="cli",
                name=name,
                contact=contact,
                email=email,
                role=None if server_defaults else (role if role is not None else UNSET),
                jurisdiction=None
                if server_defaults
                else (jurisdiction if jurisdiction is not None else UNSET),
            )
    except ValueError as exc:
        return _error(exc)
    print(
        f"{slug}: " + (f"changed {', '.join(changed)}" if changed else "nothing to change"), file=sys.stderr
    )
    return 0


def org_set_parent_command(db: str, slug: str, parent: str | None, *, top: bool = False) -> int:
    """Move an organisation in the tree; exit 2 with the reason if refused (a cycle, say)."""
    from banscan.store.audit import account_store
    from banscan.store.orgs import set_parent

    if top == (parent is not None):
        return _error("give either the new coordinator's slug or --top")
    try:
        with account_store(db) as s:
            changed = set_parent(s, slug, parent, actor="cli")
    except ValueError as exc:
        return _error(exc)
    where = f"a member of {parent}" if parent else "a top organisation"
    print(f"{slug}: {'now' if changed else 'already'} {where}", file=sys.stderr)
    return 0


def org_share_command(db: str, slug: str, share: str) -> int:
    """Set an organisation's sharing; exit 2 with the reason if refused."""
    from banscan.store.audit import account_store
    from banscan.store.orgs import set_sharing

    try:
        with account_store(db) as s:
            changed = set_sharing(s, slug, share, actor="cli")
    except ValueError as exc:
        return _error(exc)
    print(f"{slug}: {'now' if changed else 'already'} shares {share} with its coordinators", file=sys.stderr)
    return 0


def org_invite_command(db: str, slug: str, username: str, *, role: str = "admin", base_url: str = "") -> int:
    """Invite a user; the link (or, without --base-url, its path) on standard output, once."""
    from banscan.store.audit import account_store
    from banscan.store.invites import invite_path, invite_user
    from banscan.store.orgs import find_org

    try:
        with account_store(db) as s:
            org = find_org(s, slug)
            invitation = invite_user(s, username, role, org_id=org.id, actor="cli")
            link = base_url.rstrip("/") + invite_path(invitation.token)
            expires = invitation.expires
    except ValueError as exc:
        return _error(exc)
    print(link)
    print(
        f"invited {role} {username} of {slug}; the link works once, until {expires:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    return 0
