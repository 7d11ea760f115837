"""`banscan serve`, `banscan agent`, `banscan user add` and `banscan token add`: thin Typer
wrappers around banscan.server.cli, kept apart so a plain scan never imports the web stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DB_HELP = "Database URL: sqlite:///banscan.db (default) or postgresql://user@host/db."
DEFAULT_DB = "sqlite:///banscan.db"

user_app = typer.Typer(help="Manage dashboard users (there is no default user).", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens for automation.", no_args_is_help=True)


def serve(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    enroll_secret_file: Annotated[
        Path | None,
        typer.Option(
            "--enroll-secret-file",
            help="File holding the agents' enrolment secret (or $BANSCAN_ENROLL_SECRET).",
        ),
    ] = None,
    create_admin: Annotated[
        str | None,
        typer.Option("--create-admin", help="Create this admin user (password prompted) and exit."),
    ] = None,
    insecure_cookies: Annotated[
        bool, typer.Option("--insecure-cookies", help="Allow session cookies over plain HTTP (testing only).")
    ] = False,
    max_report_mb: Annotated[int, typer.Option("--max-report-mb", help="Largest accepted report.")] = 16,
    max_import_mb: Annotated[int, typer.Option("--max-import-mb", help="Largest accepted bulk import.")] = 64,
    ssl_certfile: Annotated[str | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option("--ssl-keyfile", help="TLS key (PEM).")] = None,
    catalog: Annotated[str | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error (also uvicorn's access log).")
    ] = "info",
) -> None:
    """Run the fleet server: agent enrolment and reports, bulk imports, the JSON API (migrates the database first)."""
    from banscan.server.cli import serve_command, user_add_command

    if create_admin:
        raise typer.Exit(user_add_command(db, create_admin, "admin"))
    serve_command(
        db,
        host,
        port,
        enroll_secret_file=str(enroll_secret_file) if enroll_secret_file else None,
        insecure_cookies=insecure_cookies,
        max_report_mb=max_report_mb,
        max_import_mb=max_import_mb,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        catalog=catalog,
        log_level=log_level,
    )


def agent(
    server: Annotated[str, typer.Option("--server", help="The banscan server's URL.")],
    enroll_secret: Annotated[
        str | None, typer.Option("--enroll-secret", help="Enrolment secret (or $BANSCAN_ENROLL_SECRET).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Scan and report once, then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between scans.")] = 3600.0,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Where the agent keeps its token.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option("--root", help="Scan this mounted root instead of this machine.")
    ] = None,
    role: Annotated[str, typer.Option("--role", help="Role used to evaluate obligations.")] = "user",
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help="CA bundle to verify the server.")
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Site of this host (office, data centre), sent when enrolling."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="A tag of this host, sent when enrolling (repeat for several)."),
    ] = None,
    host_identifier: Annotated[
        str | None,
        typer.Option(
            "--host-identifier",
            help="Who this host is to the server (default: the machine-id, of --root when given).",
        ),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname", help="Name shown in the dashboard (default: this machine's, or --root's)."
        ),
    ] = None,
    checkin_interval: Annotated[
        float,
        typer.Option(
            "--checkin-interval",
            help="Seconds between check-ins, when the server can ask for a scan now (0: never).",
        ),
    ] = 60.0,
) -> None:
    """Enrol with a banscan server once, then post scan results on a schedule (or --once).

    Between scans it checks in, and scans at once when an admin asked for it on the dashboard;
    SIGUSR1 makes it scan now too."""
    from banscan.server.cli import agent_command

    raise typer.Exit(
        agent_command(
            server,
            enroll_secret,
            once,
            interval,
            state_dir,
            root=root,
            role=role,
            ca_bundle=ca_bundle,
            site=site,
            tags=tag,
            host_identifier=host_identifier,
            hostname=hostname,
            checkin_interval=checkin_interval,
        )
    )


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
) -> None:
    """Add a user; the password is prompted (or read from $BANSCAN_PASSWORD or stdin)."""
    from banscan.server.cli import user_add_command

    raise typer.Exit(user_add_command(db, username, role))


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="What the token is for.")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    from banscan.server.cli import token_add_command

    raise typer.Exit(token_add_command(db, name, role))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("agent")(agent)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
