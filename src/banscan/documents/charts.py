"""Charts for the HTML/PDF report, drawn with matplotlib's Agg backend as self-contained SVG in
the house style (`chartstyle`) and the colours of `banscan.palette`.

Text is drawn as paths (matplotlib's bundled DejaVu Sans covers Cyrillic), so the SVG needs
no font and no network; it is embedded as a `data:` URI that both browsers and WeasyPrint
render. Each chart keeps its numbers, for its text alternative.

The bar charts count findings per product, operating system and site, split by verdict: their
segments are verdicts and take the verdict colours. The trend draws estates (sites, or every host
given) over scan dates: estates are not verdicts, so its lines take the series colours.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from matplotlib.dates import DateFormatter
from matplotlib.ticker import MaxNLocator

from banscan import palette
from banscan.documents import PLATFORM_LABELS, VERDICT_LABELS, VERDICT_ORDER, ReportContext, TrendPoint
from banscan.documents import chartstyle as style

_MAX_BARS = 15
_MAX_LABEL = 48
_MAX_POINT_LABELS = 12  # a line with more points labels its last value only


@dataclass
class Chart:
    name: str
    title: str
    svg: str  # the <svg> element, without XML declaration or DOCTYPE
    rows: list[tuple[str, dict[str, int]]]  # label → counts per series (for the text alternative)
    series: list[str]
    note: str = ""  # what the chart counts, printed under it

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


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _stacked_bars(
    name: str, title: str, rows: list[tuple[str, dict[str, int]]], note: str, more: int = 0
) -> Chart:
    """Horizontal bars, one per label, split by verdict; each bar ends in its total."""
    series = [v for v in VERDICT_ORDER if any(c.get(v) for _, c in rows)]
    with style.house_style():
        fig, ax = style.figure(style.bar_plot_height(len(rows)))
        labels = [_short(r[0]) for r in rows][::-1]
        positions = list(range(len(rows)))
        left = [0] * len(rows)
        for s in series:
            vals = [c.get(s, 0) for _, c in rows][::-1]
            ax.barh(
                positions,
                vals,
                left=left,
                color=palette.VERDICT[s].fill,
                label=VERDICT_LABELS[s],
                height=style.BAR_HEIGHT,
                linewidth=0,
            )
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(positions, labels)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        notes = [
            " · ".join(f"{c[v]} {v}" for v in series if c.get(v))
            if sum(1 for v in series if c.get(v)) > 1
            else ""
            for _, c in rows
        ][::-1]
        labels_ = style.label_bars(ax, left, positions, notes)
        style.finish(fig, ax, title, legend=len(series) > 1, bar_labels=labels_)
        svg = style.to_svg(fig)
    if more:
        note += f" The {more} smallest are left out of the chart."
    return Chart(name=name, title=title, svg=svg, rows=rows, series=series, note=note)


def _sorted_rows(counts: dict[str, Counter[str]]) -> list[tuple[str, dict[str, int]]]:
    return sorted(((k, dict(v)) for k, v in counts.items()), key=lambda r: (-sum(r[1].values()), r[0]))


def _bars(name: str, title: str, counts: dict[str, Counter[str]], note: str) -> Chart:
    rows = _sorted_rows(counts)
    return _stacked_bars(name, title, rows[:_MAX_BARS], note, more=max(0, len(rows) - _MAX_BARS))


def findings_by_product(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for fv in ctx.findings:
        counts.setdefault(fv.finding.product_name, Counter())[fv.finding.verdict.value] += 1
    return _bars("by-product", "Findings by product", counts, "Each finding once: one product on one host.")


def findings_by_platform(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for hv in ctx.hosts:
        label = PLATFORM_LABELS.get(hv.platform, hv.platform)
        for fv in hv.findings:
            counts.setdefault(label, Counter())[fv.finding.verdict.value] += 1
    return _bars(
        "by-platform",
        "Findings by operating system",
        counts,
        "Findings on the hosts of each operating system.",
    )


def findings_by_site(ctx: ReportContext) -> Chart:
    counts: dict[str, Counter[str]] = {}
    for hv in ctx.hosts:
        label = hv.site or "(no site)"
        for fv in hv.findings:
            counts.setdefault(label, Counter())[fv.finding.verdict.value] += 1
    return _bars("by-site", "Findings by site", counts, "Findings on the hosts of each site (--sites).")


def trend(points: list[TrendPoint]) -> Chart:
    """Covered findings per estate over scan dates: one line per estate, one point per date on
    which any result was taken (each host counted from its newest result as of that date)."""
    estates = list(dict.fromkeys(p.estate for p in points))
    days = sorted({p.day for p in points})
    title = "Covered findings over time"
    with style.house_style():
        fig, ax = style.figure(style.LINE_HEIGHT)
        for i, estate in enumerate(estates):
            line = [p for p in points if p.estate == estate]
            xs: list[Any] = [dt.date.fromisoformat(p.day) for p in line]
            ys = [p.covered for p in line]
            colour = palette.series(i)
            ax.plot(xs, ys, "-o", color=colour.fill, label=estate, markeredgewidth=0, clip_on=False)
            labelled = range(len(line)) if len(line) <= _MAX_POINT_LABELS else [len(line) - 1]
            for k in labelled:
                ax.annotate(
                    str(ys[k]),
                    (xs[k], ys[k]),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    color=colour.ink,
                    fontsize=style.SMALL_SIZE,
                    weight="bold",
                )
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        top = max([p.covered for p in points] + [1])
        ax.set_ylim(0, top * 1.18)
        dates = [dt.date.fromisoformat(d) for d in days]
        if len(dates) <= 8:
            ax.set_xticks(dates)  # type: ignore[arg-type]
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
        span = max((dates[-1] - dates[0]).days, 1)
        pad = dt.timedelta(days=max(span * 0.04, 0.5))
        ax.set_xlim(dates[0] - pad, dates[-1] + pad)  # type: ignore[arg-type]
        style.finish(fig, ax, title, value_axis="y", legend=len(estates) > 1)
        svg = style.to_svg(fig)
    rows = [
        (f"{p.day} {p.estate}" if len(estates) > 1 else p.day, {"covered": p.covered, "findings": p.findings})
        for p in points
    ]
    per = "site" if len(estates) > 1 or estates[0] != "All hosts" else "estate"
    note = (
        f"Covered findings per {per} on each scan date; a host counts with its newest scan as of that "
        "date, so a host not scanned again carries its last count forward."
    )
    return Chart(name="trend", title=title, svg=svg, rows=rows, series=estates, note=note)


def build_charts(ctx: ReportContext) -> dict[str, Chart]:
    """The charts this context supports; a chart without data is left out (the report says why)."""
    out: dict[str, Chart] = {}
    if ctx.findings:
        out["by-product"] = findings_by_product(ctx)
        out["by-platform"] = findings_by_platform(ctx)
        if ctx.sites is not None:
            out["by-site"] = findings_by_site(ctx)
    if len(ctx.trend_days) >= 2:
        out["trend"] = trend(ctx.trend)
    return out
