"""The one house style of every chart in the reports and plans.

Every chart is drawn inside `house_style()` and finished with `finish()`, so all of them share:

- the fonts of `banscan.palette.FONT_FAMILY` (those matplotlib has; its bundled DejaVu Sans,
  which covers Cyrillic, is always one of them);
- the colours of `banscan.palette`: verdict colours for verdicts only, the neutral series
  colours for anything else (sites, dates, estates), INK for values, MUTED for axes and labels,
  GRID for the only grid lines;
- one width (the figure keeps its size: the layout fits the labels inside it, so every chart
  shows at its natural size with the same text sizes), a bold title flush with its left edge;
- no top or right spine, no box around the legend, no tick marks; a light grid only along the
  value axis of a line chart (bar charts print their values on the bars instead).

Text is drawn as paths, so the SVG needs no font and renders the same in browsers and WeasyPrint.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from banscan import palette

WIDTH = 7.2  # inches: the text width of a Letter page at the report's margins
DPI = 96
FONT_SIZE = 9.0
TITLE_SIZE = 11.0
SMALL_SIZE = 8.5
BAR_HEIGHT = 0.62  # of a category's slot
ROW_INCHES = 0.34  # height of one bar's slot in a horizontal bar chart
LINE_HEIGHT = 2.6  # inches: the plot area of a line chart
_GENERIC = {"sans-serif", "serif", "monospace", "cursive", "fantasy"}


@cache
def font_family() -> list[str]:
    """palette.FONT_FAMILY, keeping the families matplotlib can find (it warns about the others)."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    families = [f for f in palette.FONT_FAMILY if f in have or f in _GENERIC]
    return families or ["DejaVu Sans"]


def rc() -> dict[str, Any]:
    """matplotlib settings of the house style."""
    return {
        "font.family": font_family(),
        "font.size": FONT_SIZE,
        "text.color": palette.INK,
        "figure.titlesize": TITLE_SIZE,
        "figure.titleweight": "bold",
        "axes.titlesize": TITLE_SIZE,
        "axes.titleweight": "bold",
        "axes.titlecolor": palette.INK,
        "axes.titlelocation": "left",
        "axes.labelsize": SMALL_SIZE,
        "axes.labelcolor": palette.MUTED,
        "axes.edgecolor": palette.MUTED,
        "axes.linewidth": 0.8,
        "axes.facecolor": "none",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "axes.axisbelow": True,
        "axes.prop_cycle": cycler(color=[sw.fill for sw in palette.SERIES]),
        "grid.color": palette.GRID,
        "grid.linewidth": 0.8,
        "grid.linestyle": "-",
        "xtick.color": palette.MUTED,
        "ytick.color": palette.MUTED,
        "xtick.labelcolor": palette.MUTED,
        "ytick.labelcolor": palette.INK,
        "xtick.labelsize": SMALL_SIZE,
        "ytick.labelsize": SMALL_SIZE,
        "xtick.major.size": 0,
        "ytick.major.size": 0,
        "xtick.major.pad": 4,
        "ytick.major.pad": 4,
        "legend.frameon": False,
        "legend.fontsize": SMALL_SIZE,
        "legend.labelcolor": palette.INK,
        "legend.handlelength": 1.2,
        "legend.handleheight": 0.8,
        "legend.columnspacing": 1.4,
        "legend.borderaxespad": 0.0,
        "lines.linewidth": 2.0,
        "lines.markersize": 5.0,
        "figure.facecolor": "none",
        "figure.edgecolor": "none",
        "figure.dpi": DPI,
        "savefig.facecolor": "none",
        "savefig.edgecolor": "none",
        "svg.fonttype": "path",
        "svg.hashsalt": "banscan",  # the same chart gives the same SVG
    }


@contextmanager
def house_style() -> Iterator[None]:
    with plt.rc_context(rc()):  # type: ignore[arg-type]
        yield


def figure(plot_height: float) -> tuple[Figure, Axes]:
    """A chart of the house width; `plot_height` (inches) is the plot area's, `finish` adds the
    room its title, legend and labels need. Call inside `house_style()`."""
    fig, ax = plt.subplots(figsize=(WIDTH, plot_height), dpi=DPI)
    fig._banscan_plot_height = plot_height  # type: ignore[attr-defined]
    return fig, ax


def bar_plot_height(rows: int) -> float:
    return ROW_INCHES * max(1, rows)


BarLabels = list[tuple[float, Text]]


def label_bars(
    ax: Axes,
    totals: Sequence[float],
    positions: Sequence[float],
    notes: Sequence[str] | None = None,
) -> BarLabels:
    """The value at the end of each horizontal bar (INK, bold), with an optional breakdown
    (MUTED); give the result to `finish`, which stretches the value axis so that they fit."""
    labels: BarLabels = []
    for i, (total, y) in enumerate(zip(totals, positions, strict=True)):
        note = notes[i] if notes else ""
        value = ax.annotate(
            f"{total:g}",
            (total, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            color=palette.INK,
            fontsize=FONT_SIZE,
            weight="bold",
        )
        labels.append((total, value))
        if note:
            extra = ax.annotate(
                f"  {note}",
                xy=(1, 0.5),
                xycoords=value,
                va="center",
                ha="left",
                color=palette.MUTED,
                fontsize=SMALL_SIZE,
            )
            labels.append((total, extra))
    return labels


def _fit_bar_labels(fig: Figure, ax: Axes, labels: BarLabels) -> None:
    """Set the value axis so that each bar's label ends inside the plot area."""
    span = max([v for v, _ in labels] + [1])
    ax.set_xlim(0, span)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = ax.get_window_extent(renderer)
    need = span
    for value, text in labels:
        # how far the label reaches past its bar's end
        reach = text.get_window_extent(renderer).x1 - (box.x0 + box.width * value / span)
        if reach < box.width - 2:
            need = max(need, box.width * value / (box.width - reach - 2))
    ax.set_xlim(0, need)


_GAP = 0.08  # inches between title, legend and plot


def finish(
    fig: Figure,
    ax: Axes,
    title: str,
    *,
    value_axis: str | None = None,
    legend: bool = False,
    bar_labels: BarLabels | None = None,
) -> None:
    """Lay the chart out in the house style: title flush with the left edge, the legend (if
    any) in one row under it, the plot area below, no spines but the category axis.

    `value_axis="y"` keeps the value axis, with a light grid and no spine; a bar chart, whose
    bars carry their values (`bar_labels`), has no value axis at all."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if value_axis == "y":
        ax.yaxis.grid(True)
        ax.spines["left"].set_visible(False)
    else:  # bars labelled with their values: no value axis
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
    title_text = fig.text(0, 1, title, ha="left", va="top", color=palette.INK, weight="bold")
    title_text.set_fontsize(TITLE_SIZE)
    handles, names = ax.get_legend_handles_labels()
    leg = None
    if legend and handles:
        leg = fig.legend(
            handles, names, loc="upper left", ncol=len(handles), borderaxespad=0.0, borderpad=0.0
        )
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    dpi = fig.dpi

    def inches(extent: float) -> float:
        return extent / dpi

    title_h = inches(title_text.get_window_extent(renderer).height)
    legend_h = inches(leg.get_window_extent(renderer).height) if leg is not None else 0.0
    top = title_h + _GAP + (legend_h + _GAP if leg is not None else 0.0) + _GAP
    yticks = [t for t in ax.get_yticklabels() if t.get_text()]
    pad = plt.rcParams["ytick.major.pad"] / 72
    left = max([inches(t.get_window_extent(renderer).width) for t in yticks] + [0.0]) + pad + 0.02
    bottom = 0.04
    if ax.xaxis.get_visible():
        xticks = [t for t in ax.get_xticklabels() if t.get_text()]
        bottom += max([inches(t.get_window_extent(renderer).height) for t in xticks] + [0.0]) + 0.06
    plot_h: float = getattr(fig, "_banscan_plot_height", 2.0)
    height = top + plot_h + bottom
    fig.set_size_inches(WIDTH, height)
    right = 0.04
    for _ in range(2):  # x tick labels centred on the first and last date reach past the plot
        fig.subplots_adjust(
            left=left / WIDTH, right=1 - right / WIDTH, top=1 - top / height, bottom=bottom / height
        )
        if not ax.xaxis.get_visible():
            break
        fig.canvas.draw()
        box = ax.get_window_extent(renderer)
        extents = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        over_right = max([inches(b.x1 - box.x1) for b in extents] + [0.0])
        over_left = max([inches(-b.x0) for b in extents] + [0.0])
        if over_right <= right - 0.04 + 1e-3 and over_left <= 1e-3:
            break
        right = max(right, over_right + 0.04)
        left += over_left
    if leg is not None:
        leg.set_bbox_to_anchor((0.0, 1 - (title_h + _GAP) / height), transform=fig.transFigure)
    if bar_labels:
        _fit_bar_labels(fig, ax, bar_labels)


def to_svg(fig: Figure) -> str:
    """The <svg> element (no XML declaration or DOCTYPE), and the figure closed."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    return text


def colours() -> set[str]:
    """Every colour a chart may draw with (upper-case hex)."""
    out = {palette.INK, palette.MUTED, palette.GRID}
    for sw in (*palette.VERDICT.values(), *palette.SERIES):
        out |= {sw.fill, sw.ink}
    return {c.upper() for c in out}


__all__ = [
    "WIDTH",
    "bar_plot_height",
    "colours",
    "figure",
    "finish",
    "font_family",
    "house_style",
    "label_bars",
    "rc",
    "to_svg",
]
