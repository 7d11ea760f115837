"""`banscan serve`: run the fleet server (uvicorn, the FastAPI app, the store), imported only
inside the functions so that other commands never load the web stack."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from banscan.cli.common import DEFAULT_DB, ENV_ENROLL_SECRET, DbOption, read_secret
from banscan.cli.notice import (
    PublicUrl,
    SmtpCaFile,
    SmtpFrom,
    SmtpHost,
    SmtpPasswordEnv,
    SmtpPort,
    SmtpSecurity,
    SmtpUsername,
    notice_settings,
)
from banscan.cli.users import user_add_command

ENV_CATALOG_REPO = "BANSCAN_CATALOG_REPO"


def serve(
    db: DbOption = DEFAULT_DB,
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
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Behind a reverse proxy: trust X-Forwarded-Proto and -For from the addresses in "
            "$FORWARDED_ALLOW_IPS (default 127.0.0.1), so HTTPS requests are known as such (HSTS) "
            "and clients by their own address (rate limits, audit log).",
        ),
    ] = False,
    api_docs: Annotated[
        bool,
        typer.Option(
            "--api-docs", help="Serve Swagger UI at /docs (from files in the package; /openapi.json always)."
        ),
    ] = False,
    catalog: Annotated[str | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    catalog_repo: Annotated[
        Path | None,
        typer.Option(
            "--catalog-repo",
            envvar=ENV_CATALOG_REPO,
            exists=True,
            file_okay=False,
            dir_okay=True,
            help="Serve this signed catalog repository (`banscan catalog publish`) to the agents at "
            "/tuf/; agents update from it before each scan, and the catalog it offers is the one "
            "hosts are judged out of date against.",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error (also uvicorn's access log).")
    ] = "info",
    smtp_host: SmtpHost = None,
    smtp_port: SmtpPort = 587,
    smtp_security: SmtpSecurity = "starttls",
    smtp_username: SmtpUsername = None,
    smtp_password_env: SmtpPasswordEnv = None,
    smtp_from: SmtpFrom = "",
    smtp_ca_file: SmtpCaFile = None,
    public_url: PublicUrl = None,
) -> None:
    """Run the fleet server: agent enrolment and reports, bulk imports, the JSON API (migrates the database first)."""
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
        proxy_headers=proxy_headers,
        api_docs=api_docs,
        catalog=catalog,
        catalog_repo=str(catalog_repo) if catalog_repo else None,
        log_level=log_level,
        notices=notice_settings(
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_username,
            smtp_password_env,
            smtp_from,
            smtp_ca_file,
            public_url,
        ),
    )


def serve_command(
    db: str = DEFAULT_DB,
    host: str = "127.0.0.1",
    port: int = 8080,
    enroll_secret: str | None = None,
    *,
    enroll_secret_file: str | None = None,
    insecure_cookies: bool = False,
    max_report_mb: int = 16,
    max_import_mb: int = 64,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    proxy_headers: bool = False,
    api_docs: bool = False,
    catalog: str | None = None,
    catalog_repo: str | None = None,
    log_level: str = "info",
    notices: dict[str, Any] | None = None,
) -> None:
    """Migrate the database and serve the API with uvicorn until interrupted.

    With `catalog_repo` (a folder `banscan catalog publish` builds), its files are served to
    enrolled agents at /tuf/ and the catalog it offers is the server's current catalog.

    The enrolment secret comes from the argument, `enroll_secret_file`, or $BANSCAN_ENROLL_SECRET
    (unscoped, never expires); without one, agents enrol only with the enrol secrets made by
    `banscan enrol-secret add`. Cookies are Secure unless `insecure_cookies` (plain-HTTP
    testing only): put the server behind TLS (`ssl_certfile`/`ssl_keyfile` or a proxy, with
    `proxy_headers`); responses to HTTPS requests carry Strict-Transport-Security.
    """
    import uvicorn

    from banscan.server.api.notices import mailer_of
    from banscan.server.app import create_app
    from banscan.server.limits import MiB
    from banscan.server.state import ServerSettings

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s %(name)s: %(message)s"
    )
    secret = read_secret(enroll_secret, enroll_secret_file, ENV_ENROLL_SECRET)
    settings = ServerSettings(
        max_report_bytes=max_report_mb * MiB,
        max_import_bytes=max_import_mb * MiB,
        secure_cookies=not insecure_cookies,
        catalog_path=catalog,
        catalog_repo=catalog_repo,
        api_docs=api_docs,
        **(notices or {}),
    )
    try:
        mailer_of(settings)  # a relay that cannot work is said now, not at the first notice
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    app = create_app(db, enroll_secret=secret, settings=settings)
    if secret is None:
        logging.getLogger("banscan.server").warning(
            "no server enrolment secret: agents enrol only with secrets from `banscan enrol-secret add` "
            "(or set --enroll-secret-file or $%s)",
            ENV_ENROLL_SECRET,
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        proxy_headers=proxy_headers,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
