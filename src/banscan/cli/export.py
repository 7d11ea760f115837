"""`banscan export`: detection content for other tools (osquery, Fleet, YARA) from the catalog."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from banscan.cli.common import load_catalog_or_exit, write_output


class ExportKind(str, Enum):
    osquery = "osquery"
    fleet = "fleet"
    yara = "yara"


def export(
    kind: Annotated[
        ExportKind, typer.Argument(help="osquery pack (JSON), Fleet policies (YAML) or YARA rules.")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
) -> None:
    """Generate detection content for other tools from the catalog."""
    from banscan.rules import render_fleet_policies, render_osquery_pack, render_yara

    cat = load_catalog_or_exit(catalog)
    render = {
        ExportKind.osquery: render_osquery_pack,
        ExportKind.fleet: render_fleet_policies,
        ExportKind.yara: render_yara,
    }[kind]
    write_output(render(cat), output)
