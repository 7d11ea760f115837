"""`banscan plan`: a transition plan per host from scan results. Exit status: 0 written, 2 usage
or input error."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from banscan.cli.common import (
    AsOfOpt,
    CatalogOpt,
    OutputOpt,
    PartialOpt,
    PlanResultsArg,
    report_context,
    usage_error,
    write_output,
)
from banscan.cli.report import (
    AboutOpt,
    AboutTemplateOpt,
    AttestationOpt,
    CertifierOpt,
    CertifierTitleOpt,
    LogoOpt,
    OrganisationOpt,
    PreparedOpt,
    PreparerEmailOpt,
    PreparerOpt,
    PreparerTitleOpt,
    UnitOpt,
    set_about,
)


class PlanFormat(str, Enum):
    md = "md"
    html = "html"
    pdf = "pdf"
    csv = "csv"
    json = "json"


def _print_config_template(value: bool) -> None:
    if value:
        from banscan.documents.yaml_inputs import PLAN_CONFIG_TEMPLATE

        write_output(PLAN_CONFIG_TEMPLATE, None, as_bytes=True)
        raise typer.Exit(0)


def plan_command(
    results: PlanResultsArg,
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
    """Write a transition plan per host: replace, prepare, remove, verify — with commands and due dates."""
    from banscan.documents import ReportInputError
    from banscan.documents.plan import build_plan, load_plan_config, render_csv, render_json, render_markdown

    if fmt is PlanFormat.pdf and output is None and sys.stdout.isatty():
        raise usage_error("--format pdf writes binary data: give --output FILE")
    ctx = report_context(results, catalog, as_of, allow_partial, sites)
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
        cfg = load_plan_config(config) if config else None
    except ReportInputError as exc:
        raise usage_error(str(exc)) from None
    plans = build_plan(ctx, cfg)
    if fmt is PlanFormat.csv:
        write_output(render_csv(plans), output, as_bytes=True)
    elif fmt is PlanFormat.json:
        write_output(render_json(plans, ctx), output, as_bytes=True)
    elif fmt in (PlanFormat.html, PlanFormat.pdf):
        from banscan.documents.html import render_plan

        html = render_plan(plans, ctx)
        if fmt is PlanFormat.html:
            write_output(html, output, as_bytes=True)
            return
        from banscan.documents.pdf import PdfError, html_to_pdf

        try:
            write_output(html_to_pdf(html), output)
        except PdfError as exc:
            raise usage_error(str(exc)) from None
    else:
        write_output(render_markdown(plans, ctx), output, as_bytes=True)
