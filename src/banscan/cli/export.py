"""`banscan export`: detection content for other tools (osquery, Fleet, YARA, nmap) from the catalog."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from banscan.catalog.schema import ROLES
from banscan.cli.common import load_catalog_or_exit, narrow_to_packs, usage_error, write_output


class ExportKind(str, Enum):
    osquery = "osquery"
    fleet = "fleet"
    yara = "yara"
    nmap = "nmap"


def export(
    kind: Annotated[
        ExportKind,
        typer.Argument(
            help="osquery pack (JSON), Fleet policies (YAML), YARA rules, or what nmap scans should "
            "look for (tab-separated: MAC blocks, SNMP enterprise numbers, CPEs, product strings)."
        ),
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    pack: Annotated[
        list[str] | None,
        typer.Option(
            "--pack",
            help="Only this pack's content (repeatable). Default: for osquery, fleet and yara the "
            "packs `banscan scan` picks (whose rules reach --jurisdiction and bind --role); for nmap "
            "every pack. `banscan catalog packs` lists them.",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role", help=f"osquery, fleet, yara: your role, for the default packs ({', '.join(ROLES)})."
        ),
    ] = "user",
    jurisdiction: Annotated[
        str,
        typer.Option(
            "--jurisdiction",
            help="osquery, fleet, yara: where you are bound, for the default packs: US, or a state such as US-TX.",
        ),
    ] = "US",
    oui_registry: Annotated[
        str | None,
        typer.Option(
            "--oui-registry",
            envvar="BANSCAN_OUI_REGISTRY",
            help="nmap: IEEE registry CSV files or folders (default: /usr/share/ieee-data) that name "
            "each MAC block's organisation.",
        ),
    ] = None,
) -> None:
    """Generate detection content for other tools from the catalog."""
    cat = load_catalog_or_exit(catalog)
    if kind == ExportKind.nmap:
        if pack:
            cat = narrow_to_packs(cat, pack, "US")
        write_output(_nmap(cat, oui_registry), output)
        return
    # the packs a scan with the same options would judge: an export finds what the scan would
    cat = narrow_to_packs(cat, pack, _jurisdiction(jurisdiction), _role(role))
    from banscan.rules import render_fleet_policies, render_osquery_pack, render_yara

    render = {
        ExportKind.osquery: render_osquery_pack,
        ExportKind.fleet: render_fleet_policies,
        ExportKind.yara: render_yara,
    }[kind]
    write_output(render(cat), output)


def _role(role: str) -> str:
    if role not in ROLES:
        raise usage_error(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _jurisdiction(code: str) -> str:
    from banscan.policy.engine import UnknownJurisdiction, normalise_jurisdiction

    try:
        return normalise_jurisdiction(code)
    except UnknownJurisdiction as exc:
        raise usage_error(f"--jurisdiction: {exc}") from None


def _nmap(cat: object, oui_registry: str | None) -> str:
    from banscan.catalog.schema import Catalog
    from banscan.cli.export_nmap import render_nmap_watchlist
    from banscan.inputs.oui import RegistryError, default_registry, use_registry

    assert isinstance(cat, Catalog)
    use_registry(oui_registry)
    try:
        registry = default_registry()
    except RegistryError as exc:
        raise usage_error(f"--oui-registry: {exc}") from None
    return render_nmap_watchlist(cat, registry)
