"""`banscan version`: banscan's version and the shipped catalog's."""

from __future__ import annotations

import typer

from banscan import __version__
from banscan.cli.common import load_catalog_or_exit


def version() -> None:
    """Print banscan's version and the shipped catalog's version."""
    cat = load_catalog_or_exit(None)
    typer.echo(f"banscan {__version__} (catalog {cat.meta.version})")
