"""`banscan agent`: enrol with a banscan server, then post scan results on a schedule."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from banscan.cli.common import ENV_ENROLL_SECRET, read_secret


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
        Path | None,
        typer.Option(
            "--root",
            help="Scan this mounted root (Linux, Windows or macOS) instead of this machine; it enrols "
            "as its own host, named as `banscan scan --root` names it (use one --state-dir per root).",
        ),
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
            help="Who this host is to the server (default: the scanned system's machine id: Linux "
            "machine-id, Windows MachineGuid, macOS hardware UUID; for a root without one, a hash of "
            "its host name).",
        ),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname",
            help="Name shown in the dashboard (default: the name `banscan scan` gives this machine, "
            "or --root: its /etc/hostname, Windows ComputerName or macOS computer name).",
        ),
    ] = None,
    checkin_interval: Annotated[
        float,
        typer.Option(
            "--checkin-interval",
            help="Seconds between check-ins, when the server can ask for a scan now (0: never).",
        ),
    ] = 60.0,
    catalog_update: Annotated[
        bool,
        typer.Option(
            "--catalog-update/--no-catalog-update",
            help="Before each scan, update the catalog from the server's signed repository when it "
            "hosts one (`banscan serve --catalog-repo`); a refused update is logged and the scan "
            "goes on with the catalog in use.",
        ),
    ] = True,
    catalog_root: Annotated[
        Path | None,
        typer.Option(
            "--catalog-root",
            help="The catalog publishers' root.json to trust first (default: the server's own, "
            "trusted on first use over TLS).",
        ),
    ] = None,
    catalog_root_sha256: Annotated[
        str | None,
        typer.Option(
            "--catalog-root-sha256",
            help="SHA-256 of the repository's 1.root.json, as the publishers state it, to trust first.",
        ),
    ] = None,
) -> None:
    """Enrol with a banscan server once, then post scan results on a schedule (or --once).

    Between scans it checks in, and scans at once when an admin asked for it on the dashboard;
    SIGUSR1 makes it scan now too. Before each scan it updates its catalog from the server's
    signed catalog repository, when the server hosts one."""
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
            catalog_update=catalog_update,
            catalog_root=catalog_root,
            catalog_root_sha256=catalog_root_sha256,
        )
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
    catalog_update: bool = True,
    catalog_root: str | Path | None = None,
    catalog_root_sha256: str | None = None,
) -> int:
    """Enrol (once), scan, post; repeat every `interval` seconds unless `once`. Returns an exit
    status: 0 posted, 1 failed, 2 enrolment refused or not possible (also for a `site` or `tags`
    the server would refuse, or a catalog root that cannot be read or a digest that is not one),
    3 (`once`) enrolment waiting for an admin's approval. The site and tags are sent when the
    agent enrols; the catalog is updated from the server's repository before each scan unless
    not `catalog_update`."""
    from banscan.server.agent import AgentConfig, default_state_dir, run_agent
    from banscan.store.sites import clean_site, clean_tags

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        site, tags = clean_site(site or ""), clean_tags(tags or [])
    except ValueError as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 2
    if catalog_root_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", catalog_root_sha256.strip()):
        print("banscan: error: --catalog-root-sha256 must be 64 hexadecimal digits", file=sys.stderr)
        return 2
    if catalog_root is not None and not Path(catalog_root).is_file():
        print(f"banscan: error: --catalog-root {catalog_root}: not a readable file", file=sys.stderr)
        return 2
    verify: bool | str = False if insecure_skip_verify else (ca_bundle or True)
    cfg = AgentConfig(
        server=server,
        enroll_secret=read_secret(enroll_secret, enroll_secret_file, ENV_ENROLL_SECRET),
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
        hostname=(hostname or "").strip()[:255],  # empty: the scanned system's own name
        checkin_interval=max(0.0, checkin_interval),
        catalog_update=catalog_update,
        catalog_root=Path(catalog_root) if catalog_root else None,
        catalog_root_sha256=catalog_root_sha256.strip().lower() if catalog_root_sha256 else None,
    )
    return run_agent(cfg, handle_signals=True)
