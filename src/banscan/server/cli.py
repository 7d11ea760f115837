"""Command functions for `banscan serve`, `banscan agent`, `banscan user add` and
`banscan token add`, registered by the Typer app (`banscan.cli_server`)."""

from __future__ import annotations

import getpass
import logging
import os
import socket
import sys
from pathlib import Path

from banscan.store.db import DEFAULT_URL

ENV_ENROLL_SECRET = "BANSCAN_ENROLL_SECRET"
ENV_PASSWORD = "BANSCAN_PASSWORD"


def _read_secret(value: str | None, file: str | None, env: str) -> str | None:
    if value:
        return value
    if file:
        return Path(file).read_text(encoding="utf-8").strip() or None
    return os.environ.get(env) or None


def serve_command(
    db: str = DEFAULT_URL,
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
    catalog: str | None = None,
    log_level: str = "info",
) -> None:
    """Migrate the database and serve the API with uvicorn until interrupted.

    The enrolment secret comes from the argument, `enroll_secret_file`, or $BANSCAN_ENROLL_SECRET;
    without one, agents cannot enrol. Cookies are Secure unless `insecure_cookies` (plain-HTTP
    testing only): put the server behind TLS (`ssl_certfile`/`ssl_keyfile` or a proxy).
    """
    import uvicorn

    from banscan.server.app import create_app
    from banscan.server.limits import MiB
    from banscan.server.state import ServerSettings

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s %(name)s: %(message)s"
    )
    secret = _read_secret(enroll_secret, enroll_secret_file, ENV_ENROLL_SECRET)
    settings = ServerSettings(
        max_report_bytes=max_report_mb * MiB,
        max_import_bytes=max_import_mb * MiB,
        secure_cookies=not insecure_cookies,
        catalog_path=catalog,
    )
    app = create_app(db, enroll_secret=secret, settings=settings)
    if secret is None:
        logging.getLogger("banscan.server").warning(
            "no enrolment secret: agents cannot enrol (set --enroll-secret or $%s)", ENV_ENROLL_SECRET
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


def agent_command(
    server: str,
    enroll_secret: str | None = None,
    once: bool = False,
    interval: float = 3600.0,
    state_dir: str | Path | None = None,
    *,
    enroll_secret_file: str | None = None,
    root: str | Path | None = None,
    role: str = "user",
    ca_bundle: str | None = None,
    insecure_skip_verify: bool = False,
    catalog: str | None = None,
    log_level: str = "info",
    site: str | None = None,
    tags: list[str] | None = None,
    host_identifier: str | None = None,
    hostname: str | None = None,
    checkin_interval: float = 60.0,
) -> int:
    """Enrol (once), scan, post; repeat every `interval` seconds unless `once`. Returns an exit
    status: 0 posted, 1 failed, 2 enrolment refused or not possible (also for a `site` or `tags`
    the server would refuse). The site and tags are sent when the agent enrols."""
    from banscan.server.agent import AgentConfig, default_state_dir, root_hostname, run_agent
    from banscan.store.sites import clean_site, clean_tags

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        site, tags = clean_site(site or ""), clean_tags(tags or [])
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    verify: bool | str = False if insecure_skip_verify else (ca_bundle or True)
    cfg = AgentConfig(
        server=server,
        enroll_secret=_read_secret(enroll_secret, enroll_secret_file, ENV_ENROLL_SECRET),
        state_dir=Path(state_dir) if state_dir else default_state_dir(),
        once=once,
        interval=interval,
        root=Path(root) if root else None,
        role=role,
        verify=verify,
        catalog_path=catalog,
        site=site,
        tags=tags,
        host_identifier=(host_identifier or "").strip()[:255],
        hostname=(hostname or (root_hostname(Path(root)) if root else "") or socket.gethostname())[:255],
        checkin_interval=max(0.0, checkin_interval),
    )
    return run_agent(cfg, handle_signals=True)


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
    from banscan.server.auth import create_user

    try:
        create_user(db, username, _prompt_password(password), role)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(f"created {role} {username}", file=sys.stderr)
    return 0


def token_add_command(db: str, name: str, role: str = "viewer") -> int:
    """Create an API token and print it once on standard output."""
    from banscan.server.auth import create_api_token

    try:
        token = create_api_token(db, name, role)
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
