"""The one colour palette of banscan's dashboard, reports and plans.

Verdict colours mean a verdict and nothing else: a chart of anything other than verdicts
(products, sites, dates, states of a removal) draws with the neutral series colours, so a
reader never takes a `review` product for a `covered` one because it was drawn red. Every
colour comes from the Okabe–Ito set, which stays distinguishable with the common forms of
colour blindness; every chart still labels its bars and lines in text, because colour alone
is never enough.

`fill` is for areas (bars, points, legend swatches); `ink` is a darker tone of the same hue
for text and thin lines on white, at a contrast of at least 4.5:1 (WCAG AA).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALERT",
    "FONT_FAMILY",
    "GRID",
    "INK",
    "MUTED",
    "SERIES",
    "VERDICT",
    "Swatch",
    "css_variables",
    "series",
]


@dataclass(frozen=True, slots=True)
class Swatch:
    fill: str
    ink: str


# Okabe & Ito (2008), "Color Universal Design": vermillion, reddish purple, orange, sky blue,
# bluish green. Ink tones are the same hues darkened to ≥ 4.5:1 on white.
VERDICT: dict[str, Swatch] = {
    "covered": Swatch(fill="#D55E00", ink="#A04600"),
    "remnant": Swatch(fill="#CC79A7", ink="#8E4470"),
    "review": Swatch(fill="#E69F00", ink="#7A5400"),
    "informational": Swatch(fill="#56B4E9", ink="#1F6D99"),
    "accepted": Swatch(fill="#009E73", ink="#006B4E"),
}

# Everything that is not a verdict: Okabe–Ito blue first, then greys and a lighter blue, so
# that no series can be mistaken for a verdict colour.
SERIES: tuple[Swatch, ...] = (
    Swatch(fill="#0072B2", ink="#005A8C"),
    Swatch(fill="#4D5966", ink="#3A434D"),
    Swatch(fill="#8FB8DE", ink="#2F5F8A"),
    Swatch(fill="#A3ADB8", ink="#4D5966"),
    Swatch(fill="#1B3A57", ink="#1B3A57"),
    Swatch(fill="#C9D3DD", ink="#4D5966"),
)

INK = "#1D232A"  # body text
MUTED = "#5F6B77"  # secondary text, axis labels (4.9:1 on white)
GRID = "#E3E7EC"  # the only grid lines a chart may draw
# Errors and passed deadlines: not a verdict (an overdue duty can belong to any finding), so
# not a verdict colour either (6.5:1 on white).
ALERT = "#B3261E"
FONT_FAMILY = ("DejaVu Sans", "Liberation Sans", "Arial", "sans-serif")


def series(i: int) -> Swatch:
    """The colour of the i-th non-verdict series (cycles)."""
    return SERIES[i % len(SERIES)]


def css_variables() -> str:
    """The palette as CSS custom properties (`--verdict-covered`, `--series-0`, …), so HTML
    pages take their colours from here instead of repeating the hex codes."""
    lines = [f"--ink: {INK};", f"--muted: {MUTED};", f"--grid: {GRID};", f"--alert: {ALERT};"]
    for name, sw in VERDICT.items():
        lines.append(f"--verdict-{name}: {sw.fill}; --verdict-{name}-ink: {sw.ink};")
    for i, sw in enumerate(SERIES):
        lines.append(f"--series-{i}: {sw.fill}; --series-{i}-ink: {sw.ink};")
    return ":root { " + " ".join(lines) + " }"
