"""The one palette: the dashboard's CSS carries exactly its values, verdict colours mean verdicts
only, every text tone reads at WCAG AA on white, and the charts draw with it."""

from __future__ import annotations

import datetime as dt
import re
from importlib.resources import files

import pytest

from banscan import palette
from banscan.models import VERDICT_NAMES
from banscan.server import charts

CSS = (files("banscan.server") / "static" / "dashboard.css").read_text(encoding="utf-8")
PROPERTY = re.compile(r"(--[a-z0-9-]+)\s*:\s*([^;]+);")
# Verdict colours under their earlier names (var() aliases of the verdict inks).
LEGACY = ("--covered", "--remnant", "--review", "--accepted", "--informational")


def _without_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)


def _root(css: str) -> dict[str, str]:
    block = re.search(r":root\s*\{(.*?)\}", _without_comments(css), re.DOTALL)
    assert block, "no :root block"
    return {name: value.strip() for name, value in PROPERTY.findall(block.group(1))}


def _rules(css: str) -> list[tuple[str, str]]:
    """(selector, declarations) of every rule, media queries opened up."""
    body = _without_comments(css)
    body = re.sub(r"@media[^{]*\{", "", body)
    return [(sel.strip(), decl) for sel, decl in re.findall(r"([^{}]+)\{([^{}]*)\}", body)]


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_values() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)  # the usual AA grey


def test_the_css_carries_exactly_the_palette() -> None:
    root = _root(CSS)
    expected = dict(PROPERTY.findall(palette.css_variables()))
    assert expected, "css_variables() wrote nothing"
    for name, value in expected.items():
        assert name in root, f"dashboard.css :root lacks {name} (palette.py has {value})"
        assert root[name].upper() == value.strip().upper(), f"{name}: CSS {root[name]}, palette.py {value}"
    # and no verdict or series colour in the CSS that palette.py does not have
    extra = [n for n in root if n.startswith(("--verdict-", "--series-")) and n not in expected]
    assert not extra, extra
    assert set(palette.VERDICT) == set(VERDICT_NAMES)


@pytest.mark.parametrize(
    ("name", "ink"),
    [
        *((f"verdict {v}", sw.ink) for v, sw in palette.VERDICT.items()),
        *((f"series {i}", sw.ink) for i, sw in enumerate(palette.SERIES)),
        ("ink", palette.INK),
        ("muted", palette.MUTED),
        ("alert", palette.ALERT),
    ],
)
def test_every_text_tone_reads_on_white(name: str, ink: str) -> None:
    ratio = contrast(ink, "#FFFFFF")
    assert ratio >= 4.5, f"{name} {ink}: {ratio:.2f}:1 on white"
    page = _root(CSS)["--bg"]
    assert contrast(ink, page) >= 4.5, f"{name} {ink}: {contrast(ink, page):.2f}:1 on the page background"


def test_verdict_colours_are_used_for_verdicts_only() -> None:
    verdict_vars = re.compile(r"var\((--verdict-[a-z-]+|" + "|".join(LEGACY) + r")\)")
    users = [(sel, decl) for sel, decl in _rules(CSS) if sel != ":root" and verdict_vars.search(decl)]
    assert users
    for sel, decl in users:
        for part in sel.split(","):
            part = part.strip()
            assert re.search(r"\.(verdict|status)\b|\.verdict-|\.card\.covered\b", part), (
                f"{part!r} takes a verdict colour ({decl.strip()}) but is not a verdict"
            )
            named = {m.removeprefix("--verdict-").removesuffix("-ink") for m in verdict_vars.findall(decl)}
            shown = re.findall(r"\.(?:verdict[.-]|status\.|card\.)([a-z-]+)", part)
            if shown and shown[0] != "carved-out":  # a carve-out's findings are informational
                assert named <= {shown[0]}, f"{part!r} shows {shown[0]} in the colour of {named}"


def test_verdict_rules_and_charts_take_their_colours_from_the_palette() -> None:
    declarations = {sel: decl for sel, decl in _rules(CSS)}
    for v in VERDICT_NAMES:
        assert f"var(--verdict-{v}-ink)" in declarations[f".verdict.{v}"], v
        bar = declarations[f"svg .bar-fill.verdict-{v}"]
        assert f"fill: var(--verdict-{v})" in bar and f"stroke: var(--verdict-{v}-ink)" in bar, v
    # the chart rules name no colour of their own
    for sel, decl in _rules(CSS):
        if sel.startswith("svg") and sel != "svg.chart":
            assert not re.search(r"#[0-9a-fA-F]{3,6}\b", decl), (sel, decl)


def test_series_cycles() -> None:
    n = len(palette.SERIES)
    assert palette.series(0) == palette.SERIES[0] and palette.series(n) == palette.SERIES[0]
    fills = {sw.fill.upper() for sw in palette.VERDICT.values()}
    assert not fills & {sw.fill.upper() for sw in palette.SERIES}, "a series colour is a verdict colour"


def test_a_chart_of_products_never_draws_in_verdict_colours() -> None:
    svg = str(charts.bar_chart([("Kaspersky Endpoint Security", 4), ("KSC agent", 2)], title="by product"))
    assert "verdict-" not in svg
    assert re.findall(r'class="bar-fill ([a-z0-9-]+)"', svg) == ["series-0", "series-0"]
    assert re.findall(r'class="bar-value"[^>]*>([^<]+)<', svg) == ["4", "2"]
    other = str(charts.bar_chart([("a", 1)], title="t", series=7))
    assert f'class="bar-fill series-{7 % len(palette.SERIES)}"' in other


def test_a_chart_of_verdicts_draws_each_in_its_colour() -> None:
    svg = str(
        charts.verdict_chart(
            {"review": 3, "covered": 5}, title="by verdict", links={"covered": "/hosts?verdict=covered"}
        )
    )
    bars = re.findall(r'class="bar-fill verdict-([a-z]+)"[^>]*><title>([a-z]+): ', svg)
    assert bars == [(v, v) for v in VERDICT_NAMES]  # every verdict, in the one order, own colour
    values = re.findall(r'class="bar-value"[^>]*>([^<]+)<', svg)
    assert values == [{"covered": "5", "review": "3"}.get(v, "0") for v in VERDICT_NAMES]
    assert 'href="/hosts?verdict=covered"' in svg and svg.count("<a ") == 1
    assert "series-" not in svg and "style=" not in svg
    with pytest.raises(ValueError, match="not verdicts: kesl"):
        charts.verdict_chart({"kesl": 1}, title="x")


def test_a_line_chart_draws_in_a_series_colour() -> None:
    svg = str(charts.line_chart([(dt.date(2025, 1, 1), 1), (dt.date(2025, 2, 1), 3)], title="trend"))
    assert 'class="line-stroke series-0"' in svg and 'class="line-area series-0"' in svg
    assert "verdict-" not in svg and "style=" not in svg
