"""Output formats by name; each is a module with `render(ScanResult) -> str`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from banscan.models import ScanResult

FORMATS: dict[str, str] = {
    "table": "banscan.report.table",
    "json": "banscan.report.json",
    "csv": "banscan.report.csv",
    "hosts-csv": "banscan.report.hosts_csv",
    "sarif": "banscan.report.sarif",
    "cyclonedx": "banscan.report.cyclonedx",
}


def renderer(name: str) -> Callable[[ScanResult], str]:
    """Import the writer lazily, so a table run never loads the CycloneDX library."""
    module = importlib.import_module(FORMATS[name])
    render: Callable[[ScanResult], str] = module.render
    return render
