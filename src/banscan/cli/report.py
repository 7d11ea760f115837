"""`banscan report`: the audit report (HTML, PDF, Markdown), or a FAR 52.204-23 / BOD 17-01
document, from scan results. Exit status: 0 written, 2 usage or input error."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from banscan.cli.common import (
    AsOfOpt,
    CatalogOpt,
    OutputOpt,
    PartialOpt,
    ResultsArg,
    report_context,
    usage_error,
    write_output,
)

if TYPE_CHECKING:
    from banscan.documents import ReportContext


# --- who the document is for and from (`report` and `plan`) --------------------------------------

_ABOUT = "Organisation and attestation"


def _print_about_template(value: bool) -> None:
    if value:
        from banscan.documents.yaml_inputs import ABOUT_TEMPLATE

        write_output(ABOUT_TEMPLATE, None, as_bytes=True)
        raise typer.Exit(0)


AboutOpt = Annotated[
    Path | None,
    typer.Option(
        "--about",
        help="YAML with organisation, unit, logo, preparer, prepared date, attestation and certifier "
        "(--about-template prints one); the options below override it.",
        rich_help_panel=_ABOUT,
    ),
]
AboutTemplateOpt = Annotated[
    bool,
    typer.Option(
        "--about-template",
        is_eager=True,
        callback=_print_about_template,
        help="Print a commented example --about YAML (every key) and exit.",
        rich_help_panel=_ABOUT,
    ),
]
OrganisationOpt = Annotated[
    str | None,
    typer.Option(
        "--organisation",
        "--organization",
        help="Organisation name (head of every page).",
        rich_help_panel=_ABOUT,
    ),
]
UnitOpt = Annotated[str | None, typer.Option("--unit", help="Unit or department.", rich_help_panel=_ABOUT)]
LogoOpt = Annotated[
    Path | None,
    typer.Option("--logo", help="Logo, PNG or SVG (at most 512 KiB), embedded.", rich_help_panel=_ABOUT),
]
PreparerOpt = Annotated[
    str | None, typer.Option("--preparer", help="Name of the person who prepared it.", rich_help_panel=_ABOUT)
]
PreparerTitleOpt = Annotated[
    str | None, typer.Option("--preparer-title", help="The preparer's title.", rich_help_panel=_ABOUT)
]
PreparerEmailOpt = Annotated[
    str | None,
    typer.Option("--preparer-email", help="The preparer's e-mail address.", rich_help_panel=_ABOUT),
]
PreparedOpt = Annotated[
    str | None,
    typer.Option(
        "--prepared", help="Date of preparation, YYYY-MM-DD (default: today).", rich_help_panel=_ABOUT
    ),
]
CertifierOpt = Annotated[
    str | None,
    typer.Option(
        "--certifier",
        help="Name of the person who certifies it (under the signature line).",
        rich_help_panel=_ABOUT,
    ),
]
CertifierTitleOpt = Annotated[
    str | None, typer.Option("--certifier-title", help="The certifier's title.", rich_help_panel=_ABOUT)
]
AttestationOpt = Annotated[
    str | None,
    typer.Option(
        "--attestation", help="The statement the certifier signs (default: standard).", rich_help_panel=_ABOUT
    ),
]


def set_about(ctx: ReportContext, about: Path | None, **options: Any) -> None:
    """Put the `--about` file and the options over it on `ctx`; a bad file or logo exits 2 with
    one line naming it."""
    from banscan.documents import ReportInputError
    from banscan.documents.about import resolve_about

    try:
        ctx.about = resolve_about(about, **options)
    except ReportInputError as exc:
        raise usage_error(str(exc)) from None


class ReportFormat(str, Enum):
    html = "html"
    pdf = "pdf"
    md = "md"
    json = "json"


class ReportDocument(str, Enum):
    audit = "audit"
    far = "far"
    bod = "bod"


def _print_far_context_template(value: bool) -> None:
    if value:
        from banscan.documents.yaml_inputs import FAR_CONTEXT_TEMPLATE

        write_output(FAR_CONTEXT_TEMPLATE, None, as_bytes=True)
        raise typer.Exit(0)


def report_command(
    results: ResultsArg,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="html, pdf or md (json for far/bod).")
    ] = ReportFormat.html,
    document: Annotated[
        ReportDocument,
        typer.Option(
            "--document",
            "-d",
            help="audit (full report), far (a FAR report per reporting clause that applies: 52.204-23, "
            "52.204-25 …) or bod (BOD 17-01).",
        ),
    ] = ReportDocument.audit,
    output: OutputOpt = None,
    sites: Annotated[
        Path | None, typer.Option("--sites", help="CSV mapping host,site (adds a by-site chart).")
    ] = None,
    far_context: Annotated[
        Path | None,
        typer.Option("--far-context", help="YAML with contract data; adds the FAR report sections."),
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
    about: AboutOpt = None,
    about_template: AboutTemplateOpt = False,
    organisation: OrganisationOpt = None,
    unit: UnitOpt = None,
    logo: LogoOpt = None,
    preparer: PreparerOpt = None,
    preparer_title: PreparerTitleOpt = None,
    preparer_email: PreparerEmailOpt = None,
    prepared: PreparedOpt = None,
    certifier: CertifierOpt = None,
    certifier_title: CertifierTitleOpt = None,
    attestation: AttestationOpt = None,
) -> None:
    """Write an audit report (HTML, PDF, Markdown), or a FAR 52.204-23 / BOD 17-01 document."""
    from banscan.documents import ReportInputError
    from banscan.documents.bod import build_bod
    from banscan.documents.bod import render_json as bod_json
    from banscan.documents.far import build_far_documents, document_title, load_far_context
    from banscan.documents.far import render_json as far_json
    from banscan.documents.plan import load_plan_config
    from banscan.documents.transitions import load_transition_files

    if fmt is ReportFormat.json and document is ReportDocument.audit:
        raise usage_error(
            "--format json is for --document far or bod; the audit data itself is `banscan scan --format json`"
        )
    if document is ReportDocument.far and far_context is None:
        raise usage_error(
            "--document far needs --far-context FILE (contract number, order numbers, contractor)"
        )
    if fmt is ReportFormat.pdf and output is None and sys.stdout.isatty():
        raise usage_error("--format pdf writes binary data: give --output FILE")
    if transitions and document is ReportDocument.audit and not (bod or far_context):
        raise usage_error(
            "--transitions is used by the BOD 17-01 status and the FAR 52.204-23 mitigation: "
            "add --document bod, --document far, --bod or --far-context"
        )
    default_title = {
        ReportDocument.audit: None,
        ReportDocument.far: "FAR 52.204-23 report",
        ReportDocument.bod: "BOD 17-01 report",
    }[document]
    ctx = report_context(results, catalog, as_of, allow_partial, sites, title or default_title)
    set_about(
        ctx,
        about,
        organisation=organisation,
        unit=unit,
        logo=logo,
        preparer=preparer,
        preparer_title=preparer_title,
        preparer_email=preparer_email,
        prepared=prepared,
        certifier=certifier,
        certifier_title=certifier_title,
        attestation=attestation,
    )
    try:
        plan_cfg = load_plan_config(config) if config else None
        record = load_transition_files(transitions) if transitions else None
        # one document per reporting clause that applies (FAR 52.204-23, 52.204-25 …)
        far = (
            build_far_documents(ctx, load_far_context(far_context), plan_cfg, record) if far_context else None
        )
    except ReportInputError as exc:
        raise usage_error(str(exc)) from None
    if far and document is ReportDocument.far and title is None:
        ctx.title = document_title(far)
    bod_doc = build_bod(ctx, plan_cfg, record) if (bod or document is ReportDocument.bod) else None

    if fmt is ReportFormat.json:
        if document is ReportDocument.far:
            assert far is not None
            write_output(far_json(far), output, as_bytes=True)
        else:
            assert bod_doc is not None
            write_output(bod_json(bod_doc), output, as_bytes=True)
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
            write_output(text, output, as_bytes=True)
            return
        from banscan.documents.html import render_document

        html = render_document(ctx, far=far_only, bod=bod_only)
    elif fmt is ReportFormat.md:
        from banscan.documents.markdown import render_markdown

        write_output(render_markdown(ctx, far=far, bod=bod_doc), output, as_bytes=True)
        return
    else:
        from banscan.documents.html import render_html

        html = render_html(ctx, far=far, bod=bod_doc)
    if fmt is ReportFormat.pdf:
        from banscan.documents.pdf import PdfError, html_to_pdf

        try:
            write_output(html_to_pdf(html), output)
        except PdfError as exc:
            raise usage_error(str(exc)) from None
        return
    write_output(html, output, as_bytes=True)
