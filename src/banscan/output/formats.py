"""Output formats of a scan result; each is a module with `render(ScanResult) -> str`.

The enum is the one list of formats: the command line offers exactly its members, and
`renderer` must name a writer for every member or the type checker fails (`assert_never`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import assert_never

from banscan.models import ScanResult


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    hosts_csv = "hosts-csv"
    sarif = "sarif"
    cyclonedx = "cyclonedx"


def renderer(fmt: OutputFormat | str) -> Callable[[ScanResult], str]:
    """The writer for a format, imported lazily so a table run never loads the CycloneDX library."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.table:
        from banscan.output import table as module
    elif fmt is OutputFormat.json:
        from banscan.output import json as module  # type: ignore[no-redef]
    elif fmt is OutputFormat.csv:
        from banscan.output import csv as module  # type: ignore[no-redef]
    elif fmt is OutputFormat.hosts_csv:
        from banscan.output import hosts_csv as module  # type: ignore[no-redef]
    elif fmt is OutputFormat.sarif:
        from banscan.output import sarif as module  # type: ignore[no-redef]
    elif fmt is OutputFormat.cyclonedx:
        from banscan.output import cyclonedx as module  # type: ignore[no-redef]
    else:
        assert_never(fmt)
    render: Callable[[ScanResult], str] = module.render
    return render
