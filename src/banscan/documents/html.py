"""Self-contained HTML report: one file, inline CSS, charts as data: URIs, no scripts, no requests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TypeAlias

import jinja2
from markupsafe import Markup, escape

from banscan import __version__, palette
from banscan.documents import PLATFORM_LABELS, VERDICT_ORDER, ReportContext
from banscan.documents.bod import BodDocument
from banscan.documents.far import FarDocument, as_documents
from banscan.documents.plan import HostPlan
from banscan.policy.deadlines import days_text

# One FAR-style document, several (one per reporting clause), or none.
Fars: TypeAlias = FarDocument | Sequence[FarDocument] | None

VERDICT_MEANING = {
    "covered": "Banned software, identified by definitive or several strong identifiers.",
    "review": "Weak evidence only: a person must decide.",
    "remnant": "Left behind by an uninstall (drivers, folders, a trusted root certificate).",
    "informational": "Carved-out or successor software: reported, not covered.",
    "accepted": "Covered or review finding under an approved, unexpired exception.",
}


# Where a long identifier, path, address or key may wrap: after these separators, and nowhere
# else (report.css.j2 keeps ids from breaking inside a word).
_SEPARATORS = re.compile(r"([/\\.\-_:?&=,;@+#|~)\]}]+)(?=[^\s])")


def wbr(value: object) -> Markup:
    """`value` escaped, with a line-break opportunity (<wbr>) after each separator, so that
    "kaspersky-ru-help" or a path wraps at "-" or "/" rather than inside a word."""
    text = str(escape(str(value)))
    # escaping turned & < > " ' into entities; break after "&amp;" rather than inside it
    parts = re.split(r"(&[a-z]+;|&#\d+;)", text)
    out = []
    for part in parts:
        if part.startswith("&") and part.endswith(";"):
            out.append(part + ("<wbr>" if part == "&amp;" else ""))
        else:
            out.append(_SEPARATORS.sub(r"\1<wbr>", part))
    return Markup("".join(out))


def stamp(value: object) -> Markup:
    """A timestamp ("2024-10-01T18:00:00+00:00") that wraps only between its date and its time."""
    text = str(value)
    date, sep, time = text.partition("T")
    if not sep:
        return Markup('<span class="nowrap">{}</span>').format(text)
    return Markup('<span class="nowrap">{}T</span><wbr><span class="nowrap">{}</span>').format(date, time)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("banscan.documents", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["days_text"] = days_text  # "1 day", "18 days": the overdue wording's count
    env.globals["palette_css"] = palette.css_variables()
    env.globals["palette_muted"] = palette.MUTED
    env.globals["platform_labels"] = PLATFORM_LABELS
    env.filters["wbr"] = wbr
    env.filters["stamp"] = stamp
    return env


def _common(ctx: ReportContext) -> dict[str, object]:
    return {
        "ctx": ctx,
        "title": ctx.title,
        "generated_at": ctx.generated_at,
        "banscan_version": __version__,
        "catalog_version": ctx.catalog.meta.version,
        "verdict_order": VERDICT_ORDER,
        "verdict_meaning": VERDICT_MEANING,
        "about": ctx.about,
        "doc_kind": "report",
    }


def render_html(ctx: ReportContext, *, far: Fars = None, bod: BodDocument | None = None) -> str:
    """The full audit report (summary, charts, hosts, exceptions, regulations, methodology)."""
    from banscan.documents.charts import build_charts

    charts = build_charts(ctx)
    ctx.charts = dict(charts)
    return (
        environment()
        .get_template("report.html.j2")
        .render(**_common(ctx), charts=charts, fars=as_documents(far), bod=bod)
    )


def render_document(ctx: ReportContext, *, far: Fars = None, bod: BodDocument | None = None) -> str:
    """FAR-style documents (one per reporting clause) or the BOD 17-01 document on their own."""
    return (
        environment().get_template("document.html.j2").render(**_common(ctx), fars=as_documents(far), bod=bod)
    )


def render_plan(plans: list[HostPlan], ctx: ReportContext) -> str:
    """The transition plan as one printable page, with the Markdown plan's content per host."""
    return (
        environment()
        .get_template("plan.html.j2")
        .render(
            **{**_common(ctx), "title": "Transition plan", "doc_kind": "plan"},
            plans=plans,
            inputs=[r.path for r in ctx.merged.results],
        )
    )
