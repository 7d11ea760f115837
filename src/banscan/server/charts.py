"""Small inline SVG charts for the dashboard, drawn on the server (no script, no external files).

Every label is escaped; the SVG uses presentation attributes and CSS classes only (no inline
`style`), so it renders under a Content-Security-Policy that allows nothing but 'self'. Colours
come from `banscan.palette` through the classes of dashboard.css: `verdict_chart` is the one
chart drawn in verdict colours (`verdict-<name>`); every other chart draws in a series colour
(`series-<i>`), so a colour on a chart never says a verdict it does not mean. Every bar carries
its value as text, because colour alone is never enough.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from banscan.models import VERDICT_NAMES
from banscan.palette import SERIES

__all__ = ["bar_chart", "line_chart", "verdict_chart"]


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _series_class(series: int) -> str:
    return f"series-{series % len(SERIES)}"


def bar_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 20,
    label_width: int = 190,
    links: Sequence[str | None] | None = None,
    css_class: str = "",
    series: int = 0,
) -> Markup:
    """A horizontal bar chart of one series (products, sites, tags …): one row per
    (label, value), every bar in the colour of `series`, its value printed after it."""
    return _bars(
        data,
        [_series_class(series)] * len(data),
        title=title,
        width=width,
        bar_height=bar_height,
        label_width=label_width,
        links=links,
        css_class=css_class,
    )


def verdict_chart(
    counts: Mapping[str, float],
    *,
    title: str,
    links: Mapping[str, str] | None = None,
    width: int = 520,
) -> Markup:
    """A bar chart of verdicts, in the order of `VERDICT_NAMES`, each bar in its verdict's
    colour; verdicts missing from `counts` count 0, names that are not verdicts are refused."""
    unknown = sorted(set(counts) - set(VERDICT_NAMES))
    if unknown:
        raise ValueError(f"not verdicts: {', '.join(unknown)}")
    return _bars(
        [(v, counts.get(v, 0)) for v in VERDICT_NAMES],
        [f"verdict-{v}" for v in VERDICT_NAMES],
        title=title,
        width=width,
        bar_height=20,
        label_width=190,
        links=[links.get(v) for v in VERDICT_NAMES] if links is not None else None,
        css_class="verdicts",
    )


def _bars(
    data: Sequence[tuple[str, float]],
    classes: Sequence[str],
    *,
    title: str,
    width: int,
    bar_height: int,
    label_width: int,
    links: Sequence[str | None] | None,
    css_class: str,
) -> Markup:
    gap = 6
    rows = list(data)
    height = max(1, len(rows)) * (bar_height + gap) + gap
    top = max((v for _, v in rows), default=0) or 1
    plot = width - label_width - 60
    parts = [
        f'<svg class="chart bar {escape(css_class)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="4" y="{bar_height}" class="chart-empty">no data</text>')
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_height + gap)
        w = 0.0 if value <= 0 else max(2.0, plot * value / top)
        room = max(4, (label_width - 10) // 7)
        short = label if len(label) <= room else label[: room - 1] + "…"
        bar = (
            f'<rect class="bar-fill {escape(classes[i])}" x="{label_width}" y="{y}" width="{_num(w)}" '
            f'height="{bar_height}" rx="2"><title>{escape(label)}: {_num(value)}</title></rect>'
        )
        text = (
            f'<text class="bar-label" x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
        )
        link = links[i] if links is not None and i < len(links) else None
        if link:
            text = f'<a href="{escape(link)}">{text}</a>'
        parts.append(text + bar)
        parts.append(
            f'<text class="bar-value" x="{label_width + w + 6:.1f}" y="{y + bar_height * 0.7:.1f}">'
            f"{_num(value)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[tuple[dt.date, float]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    series: int = 0,
) -> Markup:
    """A line chart of values over dates in the colour of `series`, with the axis range and a
    tooltip on every point."""
    left, right, top_pad, bottom = 48, 16, 14, 34
    colour = _series_class(series)
    parts = [
        f'<svg class="chart line" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not points:
        parts.append(f'<text x="{left}" y="{height / 2:.0f}" class="chart-empty">no data yet</text></svg>')
        return Markup("".join(parts))
    pts = sorted(points)
    x0 = pts[0][0].toordinal()
    span = max(1, pts[-1][0].toordinal() - x0)
    top = max(v for _, v in pts) or 1
    pw, ph = width - left - right, height - top_pad - bottom

    def xy(d: dt.date, v: float) -> tuple[float, float]:
        return left + pw * (d.toordinal() - x0) / span, top_pad + ph * (1 - v / top)

    # axes and grid
    base_y = top_pad + ph
    parts.append(f'<line class="axis" x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{base_y}"/>')
    for frac in (0.5, 1.0):
        gy = top_pad + ph * (1 - frac)
        parts.append(f'<line class="grid" x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}"/>')
        parts.append(
            f'<text class="axis-label" x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{_num(top * frac)}</text>"
        )
    parts.append(f'<text class="axis-label" x="{left - 6}" y="{base_y + 4}" text-anchor="end">0</text>')
    parts.append(
        f'<text class="axis-label" x="{left}" y="{height - 10}">{escape(pts[0][0].isoformat())}</text>'
    )
    parts.append(
        f'<text class="axis-label" x="{width - right}" y="{height - 10}" text-anchor="end">'
        f"{escape(pts[-1][0].isoformat())}</text>"
    )
    coords = [xy(d, v) for d, v in pts]
    if len(coords) == 1:
        coords.append((left + pw, coords[0][1]))
    area = (
        f"{left},{base_y} "
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + f" {coords[-1][0]:.1f},{base_y}"
    )
    parts.append(f'<polygon class="line-area {colour}" points="{area}"/>')
    parts.append(
        f'<polyline class="line-stroke {colour}" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for (d, v), (x, y) in zip(pts, coords, strict=False):
        parts.append(
            f'<circle class="line-point {colour}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(d.isoformat())}: {_num(v)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
