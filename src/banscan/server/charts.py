"""Small inline SVG charts for the dashboard, drawn on the server (no script, no external files).

Every label is escaped; the SVG uses presentation attributes and CSS classes only (no inline
`style`), so it renders under a Content-Security-Policy that allows nothing but 'self'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def bar_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 20,
    label_width: int = 190,
    links: Sequence[str | None] | None = None,
    css_class: str = "",
) -> Markup:
    """A horizontal bar chart: one row per (label, value), the value printed after the bar."""
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
            f'<rect class="bar-fill bar-{i % 6}" x="{label_width}" y="{y}" width="{_num(w)}" '
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
) -> Markup:
    """A line chart of values over dates, with the axis range and a tooltip on every point."""
    left, right, top_pad, bottom = 48, 16, 14, 34
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
    parts.append(f'<polygon class="line-area" points="{area}"/>')
    parts.append(
        '<polyline class="line-stroke" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for (d, v), (x, y) in zip(pts, coords, strict=False):
        parts.append(
            f'<circle class="line-point" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(d.isoformat())}: {_num(v)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
