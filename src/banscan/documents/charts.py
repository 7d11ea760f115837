"""Charts for the HTML/PDF report, drawn with matplotlib's Agg backend as self-contained SVG.

Text is drawn as paths (matplotlib's bundled DejaVu Sans covers Cyrillic), so the SVG needs
no font and no network; it is embedded as a `data:` URI that both browsers and WeasyPrint
render. Each chart keeps its numbers so the report can show them as a table too.
"""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from banscan.documents import PLATFORM_LABELS, VERDICT_LABELS, VERDICT_ORDER, ReportContext

VERDICT_COLORS = {
    "covered": "#c0392b",
    "review": "#e6a100",
    "remnant": "#8e44ad",
    "informational": "#2e86c1",
    "accepted": "#27ae60",
}
_MAX_BARS = 15


@dataclass
class Chart:
    name: str
    title: str
    svg: str  # the <svg> element, without XML declaration or DOCTYPE
    rows: list[tuple[str, dict[str, int]]]  # label → counts per series (for the data table)
    series: list[str]

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")

    @property
    def alt(self) -> str:
        parts = [
            f"{label}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
            for label, counts in self.rows
        ]
        return f"{self.title}. " + "; ".join(parts)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    return text


def _stacked_bars(name: str, title: str, rows: list[tuple[str, dict[str, int]]], xlabel: str) -> Chart:
    rows = rows[:_MAX_BARS]
    series = [v for v in VERDICT_ORDER if any(c.get(v) for _, c in rows)]
    height = 0.9 + 0.38 * max(1, len(rows))
    fig, ax = plt.subplots(figsize=(7.2, height), dpi=96)
    labels = [r[0] if len(r[0]) <= 48 else r[0][:47] + "…" for r in rows][::-1]
    left = [0] * len(rows)
    for s in series:
        vals = [c.get(s, 0) for _, c in rows][::-1]
        ax.barh(labels, vals, left=left, color=VERDICT_COLORS[s], label=VERDICT_LABELS[s], height=0.6)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return Chart(name=name, title=title, svg=_svg(fig), rows=rows, series=series)


def findings_by_product(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for fv in ctx.findings:
        counts.setdefault(fv.finding.product_name, Counter())[fv.finding.verdict.value] += 1
    rows = sorted(((k, dict(v)) for k, v in counts.items()), key=lambda r: (-sum(r[1].values()), r[0]))
    return _stacked_bars("by-product", "Findings by product", rows, "findings")


def findings_by_platform(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for hv in ctx.hosts:
        label = PLATFORM_LABELS.get(hv.platform, hv.platform)
        for fv in hv.findings:
            counts.setdefault(label, Counter())[fv.finding.verdict.value] += 1
    rows = sorted(((k, dict(v)) for k, v in counts.items()), key=lambda r: (-sum(r[1].values()), r[0]))
    return _stacked_bars("by-platform", "Findings by operating system", rows, "findings")


def findings_by_site(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for hv in ctx.hosts:
        label = hv.site or "(no site)"
        for fv in hv.findings:
            counts.setdefault(label, Counter())[fv.finding.verdict.value] += 1
    rows = sorted(((k, dict(v)) for k, v in counts.items()), key=lambda r: (-sum(r[1].values()), r[0]))
    return _stacked_bars("by-site", "Findings by site", rows, "findings")


def trend(ctx: ReportContext) -> Chart:
    points = [p for p in ctx.trend if p.findings_known]
    labels = [p.as_of or p.generated_at[:10] for p in points]
    # Two scans on one day are told apart by their time of generation.
    if len(set(labels)) < len(labels):
        labels = [f"{p.as_of} {p.generated_at[11:16]}".strip() for p in points]
    series = {
        "hosts with covered findings": [p.hosts_with_covered for p in points],
        "hosts with findings": [p.hosts_with_findings for p in points],
        **{
            f"{VERDICT_LABELS[v].lower()} findings": [p.by_verdict[v] for p in points]
            for v in ("covered", "review")
        },
    }
    fig, ax = plt.subplots(figsize=(7.2, 2.8), dpi=96)
    styles = ["-o", "--o", "-s", ":s"]
    colors = ["#c0392b", "#555555", "#e67e22", "#e6a100"]
    for (name, vals), style, color in zip(series.items(), styles, colors, strict=True):
        ax.plot(labels, vals, style, label=name, color=color)
    ax.set_title("Trend across scans", loc="left", fontsize=11)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    rows = [(label, {k: v[i] for k, v in series.items()}) for i, label in enumerate(labels)]
    return Chart(name="trend", title="Trend across scans", svg=_svg(fig), rows=rows, series=list(series))


def build_charts(ctx: ReportContext) -> dict[str, Chart]:
    """The charts this context supports; a chart without data is left out (the report says why)."""
    out: dict[str, Chart] = {}
    if ctx.findings:
        out["by-product"] = findings_by_product(ctx)
        out["by-platform"] = findings_by_platform(ctx)
        if ctx.sites is not None:
            out["by-site"] = findings_by_site(ctx)
    if sum(1 for p in ctx.trend if p.findings_known) >= 2:
        out["trend"] = trend(ctx)
    return out
