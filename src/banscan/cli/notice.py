"""`banscan notice send|list|remind`: a coordinator's notices to its member organisations from
the command line, stored as the server stores them (`banscan.store.notices`) and emailed
through the same relay settings as `banscan serve` (the same options and variables). Without
a relay the emails stay pending and the server sends them. Audited as `cli`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from banscan.cli.common import DEFAULT_DB, DbOption

notice_app = typer.Typer(
    help="Send notices to member organisations (what is banned, what each must do by when), list them, remind.",
    no_args_is_help=True,
)

# The relay and the public address, shared with `banscan serve`.
SmtpHost = Annotated[
    str | None,
    typer.Option(
        "--smtp-host", envvar="BANSCAN_SMTP_HOST", help="SMTP relay for notice emails (none: not emailed)."
    ),
]
SmtpPort = Annotated[int, typer.Option("--smtp-port", envvar="BANSCAN_SMTP_PORT", help="SMTP port.")]
SmtpSecurity = Annotated[
    str,
    typer.Option(
        "--smtp-security",
        envvar="BANSCAN_SMTP_SECURITY",
        help="starttls (port 587), tls (465) or none (local relay).",
    ),
]
SmtpUsername = Annotated[
    str | None, typer.Option("--smtp-username", envvar="BANSCAN_SMTP_USERNAME", help="SMTP user name.")
]
SmtpPasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--smtp-password-env",
        envvar="BANSCAN_SMTP_PASSWORD_ENV",
        help="Name of the environment variable holding the SMTP password (never the password itself).",
    ),
]
SmtpFrom = Annotated[
    str, typer.Option("--smtp-from", envvar="BANSCAN_SMTP_FROM", help="From address of notice emails.")
]
SmtpCaFile = Annotated[
    Path | None,
    typer.Option(
        "--smtp-ca-file", envvar="BANSCAN_SMTP_CA_FILE", help="CA certificate (PEM) of a private relay."
    ),
]
PublicUrl = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        envvar="BANSCAN_PUBLIC_URL",
        help="The server's address as members reach it (https://banscan.example.gov): links in emails.",
    ),
]


def notice_settings(
    host: str | None,
    port: int,
    security: str,
    username: str | None,
    password_env: str | None,
    from_addr: str,
    ca_file: Path | None,
    public_url: str | None,
) -> dict[str, Any]:
    """The `ServerSettings` fields the relay options set."""
    return {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_security": security,
        "smtp_username": username,
        "smtp_password_env": password_env,
        "smtp_from": from_addr,
        "smtp_ca_file": str(ca_file) if ca_file else None,
        "public_url": public_url,
    }


def _error(message: object) -> int:
    print(f"banscan: error: {message}", file=sys.stderr)
    return 2


@notice_app.command("send")
def notice_send(
    sender: Annotated[str, typer.Option("--from", help="Slug of the coordinator organisation sending it.")],
    title: Annotated[str, typer.Option("--title", help="What the notice is about, as lists show it.")],
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Slug of a member organisation (repeat; none: every member)."),
    ] = None,
    pack: Annotated[
        list[str] | None,
        typer.Option("--pack", help="Catalog pack (repeat; none: those that bind each member)."),
    ] = None,
    extra_file: Annotated[
        Path | None,
        typer.Option("--extra-file", help="Your own words, a text file (paragraphs: blank lines)."),
    ] = None,
    expires_in_days: Annotated[int, typer.Option("--expires-in-days", help="How long the links work.")] = 30,
    remind_after_days: Annotated[
        int | None, typer.Option("--remind-after-days", help="Remind every N days until acknowledged.")
    ] = None,
    explainer_url: Annotated[
        str | None, typer.Option("--explainer-url", help="Default: the public URL's /explainer.")
    ] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    role: Annotated[
        str, typer.Option("--role", help="Role of members that have none of their own.")
    ] = "user",
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", help="Jurisdiction of members that have none of their own.")
    ] = "US",
    smtp_host: SmtpHost = None,
    smtp_port: SmtpPort = 587,
    smtp_security: SmtpSecurity = "starttls",
    smtp_username: SmtpUsername = None,
    smtp_password_env: SmtpPasswordEnv = None,
    smtp_from: SmtpFrom = "",
    smtp_ca_file: SmtpCaFile = None,
    public_url: PublicUrl = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Send a notice to member organisations: each copy composed for the member's role and
    jurisdiction, emailed to those with an address."""
    try:
        extra = extra_file.read_text(encoding="utf-8") if extra_file else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.Exit(_error(f"{extra_file}: {exc}")) from None
    relay = notice_settings(
        smtp_host,
        smtp_port,
        smtp_security,
        smtp_username,
        smtp_password_env,
        smtp_from,
        smtp_ca_file,
        public_url,
    )
    raise typer.Exit(
        notice_send_command(
            db,
            sender,
            to or None,
            title=title,
            packs=pack or None,
            extra=extra,
            expires_in_days=expires_in_days,
            remind_after_days=remind_after_days,
            explainer_url=explainer_url,
            catalog=catalog,
            role=role,
            jurisdiction=jurisdiction,
            relay=relay,
        )
    )


def notice_send_command(
    db_url: str,
    sender: str,
    to: list[str] | None,
    *,
    title: str,
    packs: list[str] | None = None,
    extra: str = "",
    expires_in_days: int = 30,
    remind_after_days: int | None = None,
    explainer_url: str | None = None,
    catalog: Path | None = None,
    role: str = "user",
    jurisdiction: str = "US",
    relay: dict[str, Any] | None = None,
) -> int:
    """Store the notice, then email it when a relay is given; 0, or 2 with the reason (also
    when it was stored but some emails failed: they are listed)."""
    from banscan.catalog.loader import load_catalog
    from banscan.server.api.notices import mailer_of
    from banscan.server.state import ServerSettings
    from banscan.store import notices
    from banscan.store.db import Database
    from banscan.store.migrate import upgrade_db
    from banscan.store.orgs import find_org

    try:
        settings = ServerSettings(**(relay or {}))
        mailer = mailer_of(settings)
        link = explainer_url or (
            settings.public_url.rstrip("/") + "/explainer" if settings.public_url else None
        )
        if link is None:
            return _error("give --explainer-url or --public-url: the notice links to the explainer")
        cat = load_catalog(str(catalog) if catalog else None)
        upgrade_db(db_url)
    except ValueError as exc:
        return _error(exc)
    database = Database(db_url)
    try:
        try:
            with database.writing() as s:
                coordinator = find_org(s, sender)
                members = [find_org(s, slug).id for slug in to] if to else None
                sent = notices.send_notice(
                    s,
                    coordinator.id,
                    members,
                    title=title,
                    packs=packs,
                    extra=extra,
                    explainer_url=link,
                    expires_in_days=expires_in_days,
                    remind_after_days=remind_after_days,
                    actor="cli",
                    catalog=cat,
                    role=role,
                    jurisdiction=jurisdiction,
                )
                notice_id, copies = sent.notice.id, len(sent.notice.recipients)
        except ValueError as exc:
            return _error(exc)
        print(f"notice {notice_id} stored for {copies} member(s)", file=sys.stderr)
        for slug, why in sent.skipped.items():
            print(f"  left out {slug}: {why}", file=sys.stderr)
        if mailer is None:
            print(
                "emails pending: the server sends them once it has an SMTP relay (--smtp-host)",
                file=sys.stderr,
            )
            return 0
        done = notices.deliver_pending(
            database, mailer.smtp, base_url=mailer.base_url, notice_id=notice_id, actor="cli"
        )
        print(f"emailed {len(done.sent)} member(s)", file=sys.stderr)
        for rid, error in done.failed.items():
            print(f"  email to recipient {rid} failed: {error}", file=sys.stderr)
        return 2 if done.failed else 0
    finally:
        database.dispose()


@notice_app.command("list")
def notice_list(
    org: Annotated[str, typer.Option("--org", help="Slug of the organisation.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    db: DbOption = DEFAULT_DB,
) -> None:
    """List the notices an organisation sent (with acknowledgements) and received."""
    raise typer.Exit(notice_list_command(db, org, fmt=fmt))


def notice_list_command(db_url: str, org: str, *, fmt: str = "table") -> int:
    """Print what `org` sent and received, as a table or one JSON document."""
    if fmt not in ("table", "json"):
        return _error(f"--format must be table or json, not {fmt!r}")
    from banscan.store import notices
    from banscan.store.db import Database
    from banscan.store.migrate import upgrade_db
    from banscan.store.orgs import find_org

    upgrade_db(db_url)
    database = Database(db_url)
    try:
        with database.reading() as s:
            try:
                org_id = find_org(s, org).id
            except ValueError as exc:
                return _error(exc)
            sent, received = notices.sent_notices(s, org_id), notices.received_notices(s, org_id)
    finally:
        database.dispose()
    if fmt == "json":
        print(json.dumps({"sent": sent, "received": received}, indent=2, ensure_ascii=False))
        return 0
    print(f"{'ID':>5}  {'SENT':<16}  {'ACKED':>9}  {'EMAILS':<24}  TITLE")
    for n in sent:
        e = n["emails"]
        emails = f"{e['sent']} sent, {e['pending']} pend, {e['failed']} fail"
        acked = f"{n['acknowledged']}/{n['recipients']}"
        print(f"{n['id']:>5}  {n['created_at'][:16]:<16}  {acked:>9}  {emails:<24}  {n['title']}")
    if received:
        print()
        print(f"{'ID':>5}  {'RECEIVED':<16}  {'FROM':<20}  {'ACKNOWLEDGED':<16}  TITLE")
        for n in received:
            acked = (n["acknowledged_at"] or "not yet")[:16]
            print(
                f"{n['id']:>5}  {n['created_at'][:16]:<16}  {n['from']['slug']:<20}  {acked:<16}  {n['title']}"
            )
    return 0


@notice_app.command("remind")
def notice_remind(
    org: Annotated[str | None, typer.Option("--org", help="Only the notices this organisation sent.")] = None,
    smtp_host: SmtpHost = None,
    smtp_port: SmtpPort = 587,
    smtp_security: SmtpSecurity = "starttls",
    smtp_username: SmtpUsername = None,
    smtp_password_env: SmtpPasswordEnv = None,
    smtp_from: SmtpFrom = "",
    smtp_ca_file: SmtpCaFile = None,
    public_url: PublicUrl = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Email the reminders due now (what the server's periodic check does)."""
    relay = notice_settings(
        smtp_host,
        smtp_port,
        smtp_security,
        smtp_username,
        smtp_password_env,
        smtp_from,
        smtp_ca_file,
        public_url,
    )
    raise typer.Exit(notice_remind_command(db, org, relay=relay))


def notice_remind_command(db_url: str, org: str | None = None, *, relay: dict[str, Any] | None = None) -> int:
    """Send the reminders due; 0, or 2 when there is no relay or a reminder failed."""
    from banscan.server.api.notices import mailer_of
    from banscan.server.state import ServerSettings
    from banscan.store import notices
    from banscan.store.db import Database
    from banscan.store.migrate import upgrade_db
    from banscan.store.orgs import find_org

    try:
        mailer = mailer_of(ServerSettings(**(relay or {})))
    except ValueError as exc:
        return _error(exc)
    if mailer is None:
        return _error("reminders are emails: give --smtp-host (or $BANSCAN_SMTP_HOST)")
    upgrade_db(db_url)
    database = Database(db_url)
    try:
        with database.reading() as s:
            try:
                sender = find_org(s, org).id if org else None
            except ValueError as exc:
                return _error(exc)
        done = notices.remind_due(
            database, mailer.smtp, base_url=mailer.base_url, sender_org_id=sender, actor="cli"
        )
    finally:
        database.dispose()
    print(f"reminded {len(done.sent)} member(s)", file=sys.stderr)
    for rid, error in done.failed.items():
        print(f"  reminder to recipient {rid} failed: {error}", file=sys.stderr)
    return 2 if done.failed else 0
