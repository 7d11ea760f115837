"""What the commands share: the error console, usage errors, loading the catalog, reading
`--as-of`, writing output, and the options `report` and `plan` both take.

Imports here stay light (Typer, Rich, the catalog): a plain `banscan scan` loads this module, so
the documents, the store and the web stack are imported only inside functions.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from banscan.catalog.loader import CatalogError, load_catalog
from banscan.catalog.schema import Catalog

if TYPE_CHECKING:
    from banscan.documents import ReportContext

err = Console(stderr=True, highlight=False, soft_wrap=True)


def usage_error(message: str) -> typer.Exit:
    """Print `banscan: error: …` (once per line of `message`) and return the exit-2 to raise."""
    for line in message.splitlines():
        err.print(f"banscan: error: {line}", markup=False)
    return typer.Exit(2)


def load_catalog_or_exit(catalog: Path | None) -> Catalog:
    """The catalog at `catalog` (default: the shipped one); every problem is printed and exits 2."""
    try:
        return load_catalog(catalog)
    except CatalogError as exc:
        for line in str(exc).splitlines():
            err.print(f"banscan: catalog error: {line}", markup=False)
        raise typer.Exit(2) from None


def narrow_to_packs(
    catalog: Catalog, packs: list[str] | None, jurisdiction: str, role: str | None = None
) -> Catalog:
    """The catalog narrowed to the packs asked for (`--pack`), else to every pack whose rules
    reach `jurisdiction` and bind `role` (a ban on contractors' equipment does not judge a home
    user's laptop); an unknown pack is a usage error naming the known ones."""
    if not catalog.packs:
        return catalog
    known = [p.id for p in catalog.packs]
    if packs:
        unknown = [p for p in packs if p not in known]
        if unknown:
            raise usage_error(
                f"--pack: no pack {', '.join(map(repr, unknown))}; the catalog has {', '.join(known)}"
            )
        return catalog.with_packs(list(dict.fromkeys(packs)))
    binds = {r.pack for r in catalog.regulations if role is None or role in r.binds}
    applies = [p.id for p in catalog.packs if p.applies_in(jurisdiction) and p.id in binds]
    return catalog if len(applies) == len(known) else catalog.with_packs(applies)


def parse_as_of(value: str | None, example: str) -> dt.date | None:
    """`--as-of VALUE` as a date (None when not given); anything else is a usage error naming
    `example` as the expected form."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise usage_error(f"--as-of must be a date like {example}, not {value!r}") from None


def write_output(data: str | bytes, output: Path | None, *, as_bytes: bool = False) -> None:
    """Write `data` to the file `output`, or to standard output when it is None; a file that cannot
    be written is a usage error.

    Text goes through the text layer (standard output's encoding and newlines; files as UTF-8
    text). Bytes, and text with `as_bytes`, are written byte for byte (text as UTF-8): documents,
    plans and PDFs come out exactly as rendered.
    """
    raw = data.encode("utf-8") if as_bytes and isinstance(data, str) else data
    if output is None:
        if isinstance(raw, bytes):
            sys.stdout.buffer.write(raw)
        else:
            sys.stdout.write(raw)
        sys.stdout.flush()
        return
    try:
        if isinstance(raw, bytes):
            output.write_bytes(raw)
        else:
            output.write_text(raw, encoding="utf-8")
    except OSError as exc:
        raise usage_error(f"{output}: cannot write: {exc.strerror or exc}") from None


# --- `report` and `plan` -----------------------------------------------------------------------

ResultsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Result files written by `banscan scan --format json` (several give a trend).",
        show_default=False,
    ),
]
PlanResultsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Result files written by `banscan scan --format json`; with several, each host is "
        "planned from the newest result that names it.",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")
]
CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Use this catalog (folder or file).")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Judge deadlines as of this date (default: newest result's).")
]
PartialOpt = Annotated[
    bool,
    typer.Option("--allow-partial", help="Report on result files that lack fields, stating what is missing."),
]


def report_context(
    results: list[Path],
    catalog: Path | None,
    as_of: str | None,
    allow_partial: bool,
    sites: Path | None = None,
    title: str | None = None,
) -> ReportContext:
    """Load the result files, the catalog and the sites map into the context documents are built
    from; input errors exit 2, incomplete inputs are warned about."""
    from banscan.documents import ReportInputError, build_context, load_sites
    from banscan.documents.load import ResultError, load_results

    day = parse_as_of(as_of, "2024-11-08")
    try:
        loaded = load_results(results, allow_partial=allow_partial)
        cat = load_catalog(catalog)
        site_map = load_sites(sites) if sites is not None else None
    except (ResultError, CatalogError, ReportInputError) as exc:
        raise usage_error(str(exc)) from None
    ctx = build_context(loaded, cat, as_of=day, sites=site_map, title=title)
    for m in ctx.incomplete:
        err.print(f"banscan: warning: incomplete input: {m}", markup=False)
    return ctx


# --- `serve`, `agent`, `user` and `token` ------------------------------------------------------

DB_HELP = "Database URL: sqlite:///banscan.db (default) or postgresql://user@host/db."
DEFAULT_DB = "sqlite:///banscan.db"  # banscan.store.db.DEFAULT_URL, not imported: it loads the store
ENV_DB = "BANSCAN_DB"
# One `--db` for every server-side command; $BANSCAN_DB saves repeating the URL (a container sets it once).
DbOption = Annotated[str, typer.Option("--db", envvar=ENV_DB, help=DB_HELP)]
ENV_ENROLL_SECRET = "BANSCAN_ENROLL_SECRET"
# The organisation an account, token or enrol secret made on the command line belongs to.
OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="Slug of the organisation it belongs to (default: the default organisation)."),
]


def read_secret(value: str | None, file: str | None, env: str) -> str | None:
    """The secret given, else the contents of `file` (stripped), else the environment variable `env`."""
    if value:
        return value
    if file:
        return Path(file).read_text(encoding="utf-8").strip() or None
    return os.environ.get(env) or None
