"""banscan's command line. Thin: each command parses options and calls into the packages."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from banscan import __version__
from banscan.catalog.loader import CatalogError, load_catalog
from banscan.catalog.schema import ROLES, Catalog
from banscan.output.formats import OutputFormat

app = typer.Typer(
    name="banscan",
    help="Find banned software (Kaspersky first), say what each rule requires by when, and prove it is gone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="Inspect and validate the detection catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

err = Console(stderr=True, highlight=False, soft_wrap=True)


class FailOn(str, Enum):
    covered = "covered"
    review = "review"
    never = "never"


def _usage_error(message: str) -> typer.Exit:
    err.print(f"banscan: error: {message}", markup=False)
    return typer.Exit(2)


def _load(catalog: Path | None) -> Catalog:
    try:
        return load_catalog(catalog)
    except CatalogError as exc:
        for line in str(exc).splitlines():
            err.print(f"banscan: catalog error: {line}", markup=False)
        raise typer.Exit(2) from None


def _parse_date(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _usage_error(f"--as-of must be a date like 2024-09-29, not {value!r}") from None


def _jurisdiction(code: str) -> str:
    from banscan.policy.engine import UnknownJurisdiction, normalise_jurisdiction

    try:
        return normalise_jurisdiction(code)
    except UnknownJurisdiction as exc:
        raise _usage_error(f"--jurisdiction: {exc}") from None


def _previous(paths: list[Path]) -> dict[tuple[str, str], dt.date]:
    """First identification by (host, product) from earlier results (files, or folders of *.json)."""
    from banscan.documents.load import ResultError, first_identified, load_result

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise _usage_error(f"--previous {p}: no *.json result files in this folder")
            files.extend(found)
        else:
            files.append(p)
    try:
        return first_identified([load_result(f, scan_inventories=False) for f in files])
    except ResultError as exc:
        raise _usage_error(f"--previous: {exc}") from None


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _usage_error(f"{output}: cannot write: {exc.strerror or exc}") from None


@app.command()
def scan(
    targets: Annotated[
        list[Path] | None,
        typer.Argument(help="Roots or inventory files to scan; none scans this machine.", show_default=False),
    ] = None,
    root: Annotated[
        list[Path] | None,
        typer.Option("--root", help="A mounted disk image or copied root (Linux, Windows or macOS)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate rules as of this date (default today).")
    ] = None,
    role: Annotated[str, typer.Option("--role", help=f"Your role: {', '.join(ROLES)}.")] = "user",
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", help="Where you are bound: US, or a state such as US-TX.")
    ] = "US",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Use this catalog (folder or file).")
    ] = None,
    exceptions: Annotated[
        Path | None, typer.Option("--exceptions", help="YAML file of approved exceptions.")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Lowest verdict that makes the exit status 1.")
    ] = FailOn.review,
    host: Annotated[
        str | None, typer.Option("--host", help="Name the scanned host (default: its own name).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not echo input errors to stderr.")] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Examine file contents: signers, version resources, byte signatures, archives. "
            "With TARGET paths, deep-scans those files and folders.",
        ),
    ] = False,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="Force the format of inventory inputs (default: detect)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="Read inputs as generic CSV with this column map, e.g. host=Computer,name=App."
        ),
    ] = None,
    previous: Annotated[
        list[Path] | None,
        typer.Option(
            "--previous",
            help="Earlier result JSON (repeatable, or a folder of them): products they showed keep "
            "their first identification date, so deadlines do not restart.",
        ),
    ] = None,
) -> None:
    """Scan this machine, a mounted root, or inventory files; exit 0 clean, 1 findings, 2 error."""
    from banscan.output.formats import renderer
    from banscan.policy.exceptions import ExceptionsError, load_exceptions
    from banscan.scan import ScanOptions, exit_status, run_scan

    if role not in ROLES:
        raise _usage_error(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    jurisdiction = _jurisdiction(jurisdiction)
    day = _parse_date(as_of)
    cat = _load(catalog)
    identified = _previous(previous or [])
    entries = []
    if exceptions is not None:
        try:
            entries = load_exceptions(exceptions)
        except ExceptionsError as exc:
            raise _usage_error(str(exc)) from None
    from banscan.collect.detect import detect_os
    from banscan.inputs.csvexport import parse_column_map

    column_map = None
    if columns is not None:
        try:
            column_map = parse_column_map(columns)
        except ValueError as exc:
            raise _usage_error(f"--columns: {exc}") from None

    roots = list(root or [])
    for r in roots:
        if not r.is_dir():
            raise _usage_error(f"{r}: not a directory")
    inputs: list[str] = []
    deep_paths: list[Path] = []
    for t in targets or []:
        if deep and str(t) != "-":
            if not t.exists() and not t.is_symlink():
                raise _usage_error(f"{t}: no such file or directory")
            if not (t.is_dir() and detect_os(t) is not None):
                deep_paths.append(t)
                continue
        if str(t) == "-":
            inputs.append("-")
        elif not t.exists():
            raise _usage_error(f"{t}: no such file or directory")
        elif t.is_dir() and detect_os(t) is not None:
            roots.append(t)  # a mounted image or copied root
        else:
            inputs.append(str(t))  # an inventory file, or a folder of them
    opts = ScanOptions(
        as_of=day,
        role=role,
        jurisdiction=jurisdiction,
        host=host,
        exceptions=entries,
        echo_errors=not quiet,
        input_format=input_format,
        columns=column_map,
        deep=deep,
        previous=identified,
    )
    result = run_scan(
        cat,
        opts,
        roots=roots,
        inputs=inputs,
        deep_paths=deep_paths,
        live=not roots and not inputs and not deep_paths,
    )
    if fmt is OutputFormat.table:
        from banscan.output.table import render as render_table

        tty = output is None and sys.stdout.isatty()
        width = shutil.get_terminal_size((140, 40)).columns if tty else 140
        _write(render_table(result, width=width, color=tty), output)
    else:
        _write(renderer(fmt)(result), output)
    raise typer.Exit(exit_status(result, fail_on.value))


@catalog_app.command("list")
def catalog_list(
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the catalog's products with their status and identifier counts."""
    cat = _load(catalog)
    if as_json:
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "vendor": p.vendor,
                "category": p.category.value,
                "status": p.status.value,
                "relation": p.relation.value,
                "platforms": p.platforms,
                "identifiers": len(p.identifiers),
            }
            for p in cat.products
        ]
        _write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", None)
        return
    table = Table(title=f"banscan catalog {cat.meta.version} — {len(cat.products)} products")
    for col in ("id", "name", "category", "status", "platforms", "ids"):
        table.add_column(col)
    for p in cat.products:
        table.add_row(
            p.id, p.name, p.category.value, p.status.value, ",".join(p.platforms), str(len(p.identifiers))
        )
    Console(highlight=False).print(table)


@catalog_app.command("show")
def catalog_show(
    item: Annotated[str, typer.Argument(help="A product, entity, regulation or alternative id.")],
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
) -> None:
    """Print one catalog entry as JSON, with the sources it cites."""
    cat = _load(catalog)
    for group in (cat.products, cat.entities, cat.regulations, cat.alternatives):
        for entry in group:
            if entry.id == item:
                data = entry.model_dump(mode="json")
                # Legal sources first, then technical ones; each names its publisher, and a copy
                # read in place of the original appears as `consulted`.
                cited = sorted(
                    (cat.source(s) for s in set(_cited(data))), key=lambda s: (s.topic != "legal", s.id)
                )
                data["_sources"] = [s.model_dump(mode="json", exclude_none=True) for s in cited]
                _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n", None)
                return
    raise _usage_error(f"no catalog entry with id {item!r}")


def _cited(data: object) -> list[str]:
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "sources" and isinstance(v, list):
                out.extend(str(x) for x in v)
            else:
                out.extend(_cited(v))
    elif isinstance(data, list):
        for v in data:
            out.extend(_cited(v))
    return out


@catalog_app.command("validate")
def catalog_validate(
    path: Annotated[
        Path | None, typer.Argument(help="Catalog folder or file (default: the shipped one).")
    ] = None,
) -> None:
    """Validate a catalog against the schema; every problem is printed with file and entry."""
    cat = _load(path)
    idents = sum(len(p.identifiers) for p in cat.products)
    Console(highlight=False).print(
        f"catalog {cat.meta.version} is valid: {len(cat.products)} products, {idents} identifiers, "
        f"{len(cat.entities)} entities, {len(cat.regulations)} regulations, {len(cat.sources)} sources"
    )


class ExportKind(str, Enum):
    osquery = "osquery"
    fleet = "fleet"
    yara = "yara"


@app.command("export")
def export(
    kind: Annotated[
        ExportKind, typer.Argument(help="osquery pack (JSON), Fleet policies (YAML) or YARA rules.")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder or file.")] = None,
) -> None:
    """Generate detection content for other tools from the catalog."""
    from banscan.rules import render_fleet_policies, render_osquery_pack, render_yara

    cat = _load(catalog)
    render = {
        ExportKind.osquery: render_osquery_pack,
        ExportKind.fleet: render_fleet_policies,
        ExportKind.yara: render_yara,
    }[kind]
    _write(render(cat), output)


@app.command()
def version() -> None:
    """Print banscan's version and the shipped catalog's version."""
    cat = _load(None)
    typer.echo(f"banscan {__version__} (catalog {cat.meta.version})")


def _register_report_commands() -> None:
    from banscan.cli_reports import plan_command, report_command

    app.command("report")(report_command)
    app.command("plan")(plan_command)

    from banscan.cli_server import register

    register(app)


_register_report_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
