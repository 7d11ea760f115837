"""`banscan report` and `banscan plan`: thin commands over the reports package.

Registered on the main app with `app.command("report")(report_command)` and
`app.command("plan")(plan_command)`. Exit status: 0 written, 2 usage or input error.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from banscan.documents import ReportContext

_err = Console(stderr=True, highlight=False, soft_wrap=True)


class ReportFormat(str, Enum):
    html = "html"
    pdf = "pdf"
    md = "md"
    json = "json"


class ReportDocument(str, Enum):
    audit = "audit"
    far = "far"
    bod = "bod"


class PlanFormat(str, Enum):
    md = "md"
    html = "html"
    pdf = "pdf"
    csv = "csv"
    json = "json"


def _fail(message: str) -> typer.Exit:
    for line in message.splitlines():
        _err.print(f"banscan: error: {line}", markup=False)
    return typer.Exit(2)


def _write(data: str | bytes, output: Path | None) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if output is None:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(raw)
    except OSError as exc:
        raise _fail(f"{output}: cannot write: {exc.strerror or exc}") from None


def _print_far_context_template(value: bool) -> None:
    if value:
        from banscan.documents.yaml_inputs import FAR_CONTEXT_TEMPLATE

        _write(FAR_CONTEXT_TEMPLATE, None)
        raise typer.Exit(0)


def _print_config_template(value: bool) -> None:
    if value:
        from banscan.documents.yaml_inputs import PLAN_CONFIG_TEMPLATE

        _write(PLAN_CONFIG_TEMPLATE, None)
        raise typer.Exit(0)


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of must be a date like 2024-11-08, not {value!r}") from None


ResultsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Result files written by `banscan scan --format json` (several give a trend).",
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


def _context(
    results: list[Path],
    catalog: Path | None,
    as_of: str | None,
    allow_partial: bool,
    sites: Path | None = None,
    title: str | None = None,
) -> ReportContext:
    from banscan.catalog.loader import CatalogError, load_catalog
    from banscan.documents import ReportInputError, build_context, load_sites
    from banscan.documents.load import ResultError, load_results

    day = _day(as_of)
    try:
        loaded = load_results(results, allow_partial=allow_partial)
        cat = load_catalog(catalog)
        site_map = load_sites(sites) if sites is not None else None
    except (ResultError, CatalogError, ReportInputError) as exc:
        raise _fail(str(exc)) from None
    ctx = build_context(loaded, cat, as_of=day, sites=site_map, title=title)
    for m in ctx.incomplete:
        _err.print(f"banscan: warning: incomplete input: {m}", markup=False)
    return ctx


def report_command(
    results: ResultsArg,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="html, pdf or md (json for far/bod).")
    ] = ReportFormat.html,
    document: Annotated[
        ReportDocument,
        typer.Option(
            "--document", "-d", help="audit (full report), far (FAR 52.204-23 report) or bod (BOD 17-01)."
        ),
    ] = ReportDocument.audit,
    output: OutputOpt = None,
    sites: Annotated[
        Path | None, typer.Option("--sites", help="CSV mapping host,site (adds a by-site chart).")
    ] = None,
    far_context: Annotated[
        Path | None,
        typer.Option("--far-context", help="YAML with contract data; adds the FAR 52.204-23 report section."),
    ] = None,
    far_context_template: Annotated[
        bool,
        typer.Option(
            "--far-context-template",
            is_eager=True,
            callback=_print_far_context_template,
            help="Print a commented example --far-context YAML (every key) and exit.",
        ),
    ] = False,
    bod: Annotated[
        bool, typer.Option("--bod", help="Add the BOD 17-01 section to the audit report.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML with approved_alternatives (used in mitigation text)."),
    ] = None,
    transitions: Annotated[
        list[Path] | None,
        typer.Option(
            "--transitions",
            help="The fleet dashboard's transitions export (CSV or JSON): the BOD status and the FAR "
            "mitigation use the recorded states (replacement installed, removed, verified). The "
            "history export (/transitions/history.csv or .json) is read too, and every recorded "
            "step is cited; give --transitions twice to merge a latest-state export and a history.",
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title.")] = None,
    as_of: AsOfOpt = None,
    catalog: CatalogOpt = None,
    allow_partial: PartialOpt = False,
) -> None:
    """Write an audit report (HTML, PDF, Markdown), or a FAR 52.204-23 / BOD 17-01 document."""
    from banscan.documents import ReportInputError
    from banscan.documents.bod import build_bod
    from banscan.documents.bod import render_json as bod_json
    from banscan.documents.far import build_far, load_far_context
    from banscan.documents.far import render_json as far_json
    from banscan.documents.plan import load_plan_config
    from banscan.documents.transitions import load_transition_files

    if fmt is ReportFormat.json and document is ReportDocument.audit:
        raise _fail(
            "--format json is for --document far or bod; the audit data itself is `banscan scan --format json`"
        )
    if document is ReportDocument.far and far_context is None:
        raise _fail("--document far needs --far-context FILE (contract number, order numbers, contractor)")
    if fmt is ReportFormat.pdf and output is None and sys.stdout.isatty():
        raise _fail("--format pdf writes binary data: give --output FILE")
    if transitions and document is ReportDocument.audit and not (bod or far_context):
        raise _fail(
            "--transitions is used by the BOD 17-01 status and the FAR 52.204-23 mitigation: "
            "add --document bod, --document far, --bod or --far-context"
        )
    default_title = {
        ReportDocument.audit: None,
        ReportDocument.far: "FAR 52.204-23 report",
        ReportDocument.bod: "BOD 17-01 report",
    }[document]
    ctx = _context(results, catalog, as_of, allow_partial, sites, title or default_title)
    try:
        plan_cfg = load_plan_config(config) if config else None
        record = load_transition_files(transitions) if transitions else None
        far = build_far(ctx, load_far_context(far_context), plan_cfg, record) if far_context else None
    except ReportInputError as exc:
        raise _fail(str(exc)) from None
    bod_doc = build_bod(ctx, plan_cfg, record) if (bod or document is ReportDocument.bod) else None

    if fmt is ReportFormat.json:
        if document is ReportDocument.far:
            assert far is not None
            _write(far_json(far), output)
        else:
            assert bod_doc is not None
            _write(bod_json(bod_doc), output)
        return
    if document is not ReportDocument.audit:
        far_only = far if document is ReportDocument.far else None
        bod_only = bod_doc if document is ReportDocument.bod else None
        if fmt is ReportFormat.md:
            from banscan.documents.bod import render_markdown as bod_md
            from banscan.documents.far import render_markdown as far_md

            text = f"# {ctx.title}\n\nAs of {ctx.as_of} · catalog {ctx.catalog.meta.version}\n\n"
            text += "".join(f"> **Warning:** {w}\n\n" for w in ctx.warnings)
            text += far_md(far_only) if far_only else bod_md(bod_only) if bod_only else ""
            _write(text, output)
            return
        from banscan.documents.html import render_document

        html = render_document(ctx, far=far_only, bod=bod_only)
    elif fmt is ReportFormat.md:
        from banscan.documents.markdown import render_markdown

        _write(render_markdown(ctx, far=far, bod=bod_doc), output)
        return
    else:
        from banscan.documents.html import render_html

        html = render_html(ctx, far=far, bod=bod_doc)
    if fmt is ReportFormat.pdf:
        from banscan.documents.pdf import PdfError, html_to_pdf

        try:
            _write(html_to_pdf(html), output)
        except PdfError as exc:
            raise _fail(str(exc)) from None
        return
    _write(html, output)


def plan_command(
    results: ResultsArg,
    fmt: Annotated[
        PlanFormat,
        typer.Option("--format", "-f", help="md, html, pdf, csv (one row per step) or json."),
    ] = PlanFormat.md,
    output: OutputOpt = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML with approved_alternatives, owner and due_date."),
    ] = None,
    config_template: Annotated[
        bool,
        typer.Option(
            "--config-template",
            is_eager=True,
            callback=_print_config_template,
            help="Print a commented example --config YAML (every key) and exit.",
        ),
    ] = False,
    sites: Annotated[Path | None, typer.Option("--sites", help="CSV mapping host,site.")] = None,
    as_of: AsOfOpt = None,
    catalog: CatalogOpt = None,
    allow_partial: PartialOpt = False,
) -> None:
    """Write a transition plan per host: replace, prepare, remove, verify — with commands and due dates."""
    from banscan.documents import ReportInputError
    from banscan.documents.plan import build_plan, load_plan_config, render_csv, render_json, render_markdown

    if fmt is PlanFormat.pdf and output is None and sys.stdout.isatty():
        raise _fail("--format pdf writes binary data: give --output FILE")
    ctx = _context(results, catalog, as_of, allow_partial, sites)
    try:
        cfg = load_plan_config(config) if config else None
    except ReportInputError as exc:
        raise _fail(str(exc)) from None
    plans = build_plan(ctx, cfg)
    if fmt is PlanFormat.csv:
        _write(render_csv(plans), output)
    elif fmt is PlanFormat.json:
        _write(render_json(plans, ctx), output)
    elif fmt in (PlanFormat.html, PlanFormat.pdf):
        from banscan.documents.html import render_plan

        html = render_plan(plans, ctx)
        if fmt is PlanFormat.html:
            _write(html, output)
            return
        from banscan.documents.pdf import PdfError, html_to_pdf

        try:
            _write(html_to_pdf(html), output)
        except PdfError as exc:
            raise _fail(str(exc)) from None
    else:
        _write(render_markdown(plans, ctx), output)
