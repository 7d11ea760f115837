"""`banscan catalog diff OLD NEW`: what changed between two catalogs, as release notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from banscan.catalog.loader import default_catalog_dir
from banscan.cli.common import load_catalog_or_exit, usage_error, write_output

BUILT_IN_WORD = "built-in"
INSTALLED_WORD = "installed"
_WHICH = (
    "a catalog folder, a YAML or JSON file, 'built-in' for the shipped catalog or 'installed' "
    "for the one `catalog update` installed."
)


def _catalog_path(arg: str) -> Path:
    """The catalog an argument names; a folder really called built-in is given as ./built-in."""
    if arg == INSTALLED_WORD:
        from banscan.catalog.installed import active

        got = active()
        if got is None:
            raise usage_error("no catalog is installed (see `banscan catalog update`)")
        return got.path
    return default_catalog_dir() if arg == BUILT_IN_WORD else Path(arg)


def catalog_diff(
    old: Annotated[str, typer.Argument(help=f"The older catalog: {_WHICH}", show_default=False)],
    new: Annotated[str, typer.Argument(help=f"The newer catalog: {_WHICH}", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the products, identifiers, entities, regulations, alternatives and sources added,
    removed or changed from OLD to NEW. Exit status 0 when both hold the same entries, 1 when they
    differ, 2 when a catalog cannot be read."""
    from banscan.catalog.diff import diff_catalogs, render_text

    before = load_catalog_or_exit(_catalog_path(old))
    after = load_catalog_or_exit(_catalog_path(new))
    diff = diff_catalogs(before, after)
    if as_json:
        write_output(json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n", None)
    else:
        write_output(render_text(diff), None)
    if not diff.empty:
        raise typer.Exit(1)
